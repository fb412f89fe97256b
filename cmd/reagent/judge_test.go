package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/internal/pgtest"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// judgeCLI runs `reagent judge` with buffers and the given environment.
func judgeCLI(env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	c, out, errb := testCLI(env, stdin)
	err = runJudge(context.Background(), c, args)
	return out.String(), errb.String(), err
}

// judgeRuns returns a good run, a flawed run and a run already judged by
// the heuristic judge.
func judgeRuns() []*trajectory.Trajectory {
	at := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	good := &trajectory.Trajectory{SchemaVersion: 1, ID: "run-good", Task: "What is 17*23?", Agent: "react", Status: trajectory.StatusFinished,
		StartedAt: at, EndedAt: at.Add(time.Second), FinalAnswer: "17*23 = 391",
		Tools: []trajectory.ToolSpec{{Name: "calculator"}},
		Steps: []trajectory.Step{
			{Index: 0, Thought: "compute", Calls: []trajectory.ToolCall{{Tool: "calculator", Input: "17*23", Observation: "391"}}},
			{Index: 1, Final: true, Answer: "17*23 = 391"},
		}}
	flawed := &trajectory.Trajectory{SchemaVersion: 1, ID: "run-flawed", Task: "What is the weather in Paris?", Agent: "react",
		Status: trajectory.StatusMaxIterations, StartedAt: at.Add(time.Minute), Tools: []trajectory.ToolSpec{{Name: "weather"}}}
	for i := range 4 {
		flawed.Steps = append(flawed.Steps, trajectory.Step{Index: i, Thought: "again", Calls: []trajectory.ToolCall{{Tool: "weather", Input: "Paris", Error: "503", Observation: "error: 503"}}})
	}
	judged := good.Clone()
	judged.ID = "run-judged"
	judged.StartedAt = at.Add(2 * time.Minute)
	judged.Assessments = []trajectory.Assessment{rrm.NewHeuristic().Judge(context.Background(), judged)}
	return []*trajectory.Trajectory{good, flawed, judged}
}

func writeJSONL(t *testing.T, runs []*trajectory.Trajectory) string {
	t.Helper()
	var b bytes.Buffer
	for _, r := range runs {
		line, err := trajectory.Marshal(r)
		require.NoError(t, err)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func readJSONL(t *testing.T, data string) []*trajectory.Trajectory {
	t.Helper()
	var out []*trajectory.Trajectory
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		tr, err := trajectory.Unmarshal(sc.Bytes())
		require.NoError(t, err)
		out = append(out, tr)
	}
	return out
}

func TestJudgeFileHeuristic(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "runs.jsonl")
	require.NoError(t, os.WriteFile(in, []byte(writeJSONL(t, judgeRuns())), 0o644))
	out := filepath.Join(dir, "judged.jsonl")

	stdout, stderr, err := judgeCLI(nil, "", "--in", in, "--out", out)
	require.NoError(t, err)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "judged 2 run(s) with heuristic: 2 ok, 0 error(s), 1 skipped")
	assert.Contains(t, stderr, "mean score")

	data, err := os.ReadFile(out)
	require.NoError(t, err)
	runs := readJSONL(t, string(data))
	require.Len(t, runs, 3)
	assert.Equal(t, []string{"run-good", "run-flawed", "run-judged"}, []string{runs[0].ID, runs[1].ID, runs[2].ID}, "order kept")
	require.Len(t, runs[0].Assessments, 1)
	require.Len(t, runs[1].Assessments, 1)
	assert.Len(t, runs[2].Assessments, 1, "already judged: untouched")
	good, bad := runs[0].Assessments[0], runs[1].Assessments[0]
	assert.Equal(t, "heuristic", good.Judge)
	assert.True(t, good.OK())
	assert.True(t, bad.OK())
	assert.Greater(t, good.Score, bad.Score)
	assert.Less(t, bad.Score, rrm.FlawThreshold)

	// --rejudge judges every run again; --out may name the input.
	_, stderr, err = judgeCLI(nil, "", "--in", out, "--out", out, "--rejudge")
	require.NoError(t, err)
	assert.Contains(t, stderr, "judged 3 run(s)")
	data, err = os.ReadFile(out)
	require.NoError(t, err)
	runs = readJSONL(t, string(data))
	assert.Len(t, runs[0].Assessments, 2)
	assert.Len(t, runs[2].Assessments, 2)
}

func TestJudgeFileStdinLimit(t *testing.T) {
	stdout, stderr, err := judgeCLI(nil, writeJSONL(t, judgeRuns()), "--in", "-", "--limit", "1")
	require.NoError(t, err)
	assert.Contains(t, stderr, "judged 1 run(s)")
	runs := readJSONL(t, stdout)
	require.Len(t, runs, 3, "runs over the limit pass through")
	assert.Len(t, runs[0].Assessments, 1)
	assert.Empty(t, runs[1].Assessments)
}

func TestJudgeFileBadLine(t *testing.T) {
	input := writeJSONL(t, judgeRuns()[:1]) + "{not json\n"
	_, _, err := judgeCLI(nil, input, "--in", "-")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2")
	assert.Equal(t, 1, exitCode(err))

	_, _, err = judgeCLI(nil, "", "--in", filepath.Join(t.TempDir(), "missing.jsonl"))
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestJudgeFileOpenAI(t *testing.T) {
	srv := llmtest.NewFunc(t, func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Content: "<think>checked</think><critique>You used the calculator well.</critique><score>0.75</score>"}
	})
	env := map[string]string{"REAGENT_JUDGE_BASE_URL": srv.URL}
	// run-judged has run-good's content: judged at once, the two share one
	// request (the judge coalesces identical judgments in flight); one after
	// the other, the second comes from the cache. Either way, one request.
	stdout, stderr, err := judgeCLI(env, writeJSONL(t, judgeRuns()), "--in", "-", "--judge", "openai", "--model", "rrm-7b")
	require.NoError(t, err, stderr)
	runs := readJSONL(t, stdout)
	require.Len(t, runs, 3)
	for _, r := range runs {
		last, ok := r.LastAssessment()
		require.True(t, ok)
		if r.ID == "run-judged" {
			assert.Len(t, r.Assessments, 2, "a heuristic assessment does not count for the openai judge")
		}
		assert.Equal(t, "openai", last.Judge)
		assert.Equal(t, "rrm-7b", last.Model)
		assert.Equal(t, 0.75, last.Score)
		assert.Equal(t, "You used the calculator well.", last.Critique)
	}
	reqs := srv.Requests()
	require.Len(t, reqs, 2, "the identical run shares a judgment")
	assert.Equal(t, "rrm-7b", reqs[0].Model)
	assert.Contains(t, stderr, "mean score 0.750")
}

func TestJudgeFileOpenAIFailures(t *testing.T) {
	srv := llmtest.NewFunc(t, func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Status: http.StatusBadRequest, Body: `{"error":{"message":"model not found"}}`}
	})
	stdout, stderr, err := judgeCLI(nil, writeJSONL(t, judgeRuns()[:2]), "--in", "-", "--judge", "openai", "--base-url", srv.URL)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.Contains(t, err.Error(), "2 of 2 judgment(s) failed")
	assert.Contains(t, stderr, "first error:")
	assert.Contains(t, stderr, "model not found")
	runs := readJSONL(t, stdout)
	require.Len(t, runs, 2)
	for _, r := range runs {
		require.Len(t, r.Assessments, 1)
		assert.Equal(t, trajectory.AssessmentError, r.Assessments[0].Status, "failures are recorded, never scored")
	}
}

func TestJudgeUsage(t *testing.T) {
	cases := [][]string{
		{},
		{"--db", "x.db", "--in", "x.jsonl"},
		{"--in", "x.jsonl", "--judge", "oracle"},
		{"--in", "x.jsonl", "--judge", "openai"}, // no base URL and no key
		{"--in", "x.jsonl", "--limit", "-1"},
		{"--in", "x.jsonl", "extra"},
	}
	for _, args := range cases {
		_, _, err := judgeCLI(nil, "", args...)
		require.Error(t, err, "%v", args)
		assert.Equal(t, 2, exitCode(err), "%v: %v", args, err)
	}
	_, stderr, err := judgeCLI(nil, "", "--help")
	assert.True(t, errors.Is(err, flag.ErrHelp))
	assert.Contains(t, stderr, "--rejudge")
}

func TestJudgeStore(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "audit.db")
	st, err := openStore(ctx, db)
	require.NoError(t, err)
	for _, r := range judgeRuns() {
		require.NoError(t, st.Append(ctx, r))
	}
	require.NoError(t, st.Close())

	stdout, _, err := judgeCLI(nil, "", "--db", db)
	require.NoError(t, err)
	assert.Contains(t, stdout, "judged 2 run(s) with heuristic: 2 ok, 0 error(s), 1 skipped")

	st, err = openStore(ctx, db)
	require.NoError(t, err)
	good, err := st.Get(ctx, "run-good")
	require.NoError(t, err)
	require.Len(t, good.Assessments, 1)
	assert.Equal(t, "heuristic", good.Assessments[0].Judge)
	flawed, err := st.Get(ctx, "run-flawed")
	require.NoError(t, err)
	require.Len(t, flawed.Assessments, 1)
	assert.Greater(t, good.Assessments[0].Score, flawed.Assessments[0].Score)
	judged, err := st.Get(ctx, "run-judged")
	require.NoError(t, err)
	assert.Len(t, judged.Assessments, 1)
	rep, err := st.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
	assert.Equal(t, int64(2), rep.Assessments, "two new assessment records; nothing rewritten")
	require.NoError(t, st.Close())

	// A second run finds nothing left to judge.
	stdout, _, err = judgeCLI(nil, "", "--db", db)
	require.NoError(t, err)
	assert.Contains(t, stdout, "judged 0 run(s) with heuristic: 0 ok, 0 error(s), 3 skipped")

	// $REAGENT_DB names the store when --db is not given, but not with --in.
	stdout, _, err = judgeCLI(map[string]string{"REAGENT_DB": db}, "")
	require.NoError(t, err)
	assert.Contains(t, stdout, "3 skipped")
	_, stderr, err := judgeCLI(map[string]string{"REAGENT_DB": db}, writeJSONL(t, judgeRuns()[:1]), "--in", "-")
	require.NoError(t, err)
	assert.Contains(t, stderr, "judged 1 run(s)")

	// A store that does not exist is an error, not a new empty database.
	missing := filepath.Join(t.TempDir(), "missing.db")
	_, _, err = judgeCLI(nil, "", "--db", missing)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.NoFileExists(t, missing)

	// --rejudge with --limit judges the first N runs again.
	stdout, _, err = judgeCLI(nil, "", "--db", db, "--rejudge", "--limit", "2")
	require.NoError(t, err)
	assert.Contains(t, stdout, "judged 2 run(s)")
	st, err = openStore(ctx, db)
	require.NoError(t, err)
	defer st.Close()
	good, err = st.Get(ctx, "run-good")
	require.NoError(t, err)
	assert.Len(t, good.Assessments, 2)
	judged, err = st.Get(ctx, "run-judged")
	require.NoError(t, err)
	assert.Len(t, judged.Assessments, 1, "beyond the limit")
}

// TestJudgeStorePostgres judges runs kept in PostgreSQL through openStore's
// postgres:// branch, in a schema of its own.
func TestJudgeStorePostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.New(t, "reagent_judge_test_").DSN

	st, err := openStore(ctx, dsn)
	require.NoError(t, err)
	for _, r := range judgeRuns() {
		require.NoError(t, st.Append(ctx, r))
	}
	require.NoError(t, st.Close())

	stdout, _, err := judgeCLI(nil, "", "--db", dsn, "--concurrency", "2")
	require.NoError(t, err)
	assert.Contains(t, stdout, "judged 2 run(s) with heuristic: 2 ok, 0 error(s), 1 skipped")

	st, err = openStore(ctx, dsn)
	require.NoError(t, err)
	defer st.Close()
	good, err := st.Get(ctx, "run-good")
	require.NoError(t, err)
	require.Len(t, good.Assessments, 1)
	assert.Equal(t, "heuristic", good.Assessments[0].Judge)
	rep, err := st.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
	assert.Equal(t, int64(2), rep.Assessments)
}

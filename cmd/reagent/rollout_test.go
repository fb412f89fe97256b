package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reagent-go/reagent/run"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/reagent/export"
	"github.com/reagent-go/reagent/reagent/suite"
)

// rlPolicy is the scripted agent model (the one allowed double): it
// follows each task's solution, except that on a first attempt it answers
// every other task without its tools, with the task's typical mistake.
func rlPolicy(t *testing.T, tasks []suite.Task) *llmtest.Server {
	byQ := map[string]suite.Task{}
	for i, tk := range tasks {
		if i%2 == 0 {
			tk.Metadata = map[string]string{"sloppy": "1"}
		}
		byQ[tk.Question] = tk
	}
	return llmtest.NewFunc(t, func(req llmtest.Request) llmtest.Reply {
		var q string
		fixed, tools := false, 0
		for _, m := range req.Messages {
			switch {
			case m.Role == "user" && q == "":
				q = m.Content
			case m.Role == "system" && strings.HasPrefix(m.Content, run.CritiquePrefix):
				fixed = true
			case m.Role == "tool":
				tools++
				fixed = fixed || strings.HasPrefix(m.ToolCallID, "fixed")
			}
		}
		tk, ok := byQ[q]
		if !ok {
			return llmtest.Reply{Content: "no idea"}
		}
		calls, answer, id := tk.Solution.Calls, tk.Answer, "call"
		if fixed {
			id = "fixed"
		} else if tk.Metadata["sloppy"] == "1" {
			calls, answer = calls[:tk.Solution.Flawed.Calls], tk.Solution.Flawed.Answer
		}
		if tools < len(calls) {
			return llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: id + string(rune('0'+tools)), Name: calls[tools].Tool, Arguments: string(calls[tools].Arguments)}}}
		}
		return llmtest.Reply{Content: answer}
	})
}

func rlCLI(args ...string) (string, string, error) {
	cmd := map[string]runFunc{"rollout": runRollout, "eval": runEval, "export": runExport}[args[0]]
	return runCLI(cmd, nil, args[1:]...)
}

func TestRolloutEvalAndExportCommands(t *testing.T) {
	train, err := suite.Generate(suite.Arith, suite.Train, suite.WithCount(3))
	require.NoError(t, err)
	test, err := suite.Generate(suite.Arith, suite.Test, suite.WithCount(2))
	require.NoError(t, err)
	policy := rlPolicy(t, append(train, test...))
	dir := t.TempDir()
	db := filepath.Join(dir, "runs.db")
	common := []string{"--suite", "arith", "--base-url", policy.URL, "--model", "scripted", "--db", db, "--limit", "3"}

	out, stderr, err := rlCLI(append([]string{"rollout", "--strategy", "u", "--group", "2"}, common...)...)
	require.NoError(t, err, stderr)
	assert.Contains(t, out, "success@1")
	assert.Contains(t, out, "arith")
	assert.Contains(t, stderr, "rollout u: 6/6 done")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	// tasks 3, samples 6, runs 12, resumed 0; the refinement fixes all.
	assert.Regexp(t, `arith\s+u\s+3\s+6\s+12\s+0\s+\d+\.\d%\s+100\.0%`, lines[1])

	// Rerun: everything is already stored.
	out, _, err = rlCLI(append([]string{"rollout", "--strategy", "u", "--group", "2"}, common...)...)
	require.NoError(t, err)
	assert.Regexp(t, `arith\s+u\s+3\s+6\s+12\s+6\s`, out)

	// Eval on the test split, without storing, as JSON.
	out, stderr, err = rlCLI("eval", "--suite", "arith", "--base-url", policy.URL, "--model", "scripted", "--limit", "2", "--strategy", "c", "--json")
	require.NoError(t, err, stderr)
	assert.Contains(t, out, `"strategy": "c"`)
	assert.Contains(t, out, `"final_success": 1`)

	// Every export format, read back.
	for _, f := range export.Formats() {
		path := filepath.Join(dir, "out-"+string(f))
		out, stderr, err := rlCLI("export", "--db", db, "--format", string(f), "--out", path, "--strategy", "u")
		require.NoError(t, err, stderr)
		assert.Contains(t, out, string(f)+": 12 runs")
		switch f {
		case export.Verl:
			rows, err := parquet.ReadFile[export.VerlRow](path)
			require.NoError(t, err)
			assert.Len(t, rows, 3)
		case export.ART:
			b, _ := os.ReadFile(path)
			assert.Equal(t, 3, strings.Count(string(b), "\n"))
		default:
			b, _ := os.ReadFile(path)
			assert.Equal(t, 12, strings.Count(string(b), "\n"))
		}
	}
	out, _, err = rlCLI("export", "--db", db, "--format", "sft", "--out", filepath.Join(dir, "good.jsonl"), "--min-reward", "1")
	require.NoError(t, err)
	assert.Contains(t, out, "below the minimum reward")
	_, _, err = rlCLI("export", "--db", db, "--format", "sft", "--out", filepath.Join(dir, "x.jsonl"), "--suite", "web")
	assert.ErrorContains(t, err, "no runs")
	_, err = os.Stat(filepath.Join(dir, "x.jsonl"))
	assert.True(t, os.IsNotExist(err), "no file is left behind")
}

func TestRolloutCommandErrors(t *testing.T) {
	cases := [][]string{
		{"rollout", "--base-url", "http://x/v1", "--model", "m", "--db", "x.db"},
		{"rollout", "--suite", "arith", "--model", "m", "--db", "x.db"},
		{"rollout", "--suite", "arith", "--base-url", "http://x/v1", "--model", "m"},
		{"rollout", "--suite", "arith", "--base-url", "http://x/v1", "--model", "m", "--db", "x.db", "--strategy", "z"},
		{"rollout", "--suite", "arith", "--base-url", "http://x/v1", "--model", "m", "--db", "x.db", "--split", "dev"},
		{"rollout", "--suite", "arith", "--base-url", "http://x/v1", "--model", "m", "--db", "x.db", "--group", "0"},
		{"eval", "--suite", "arith", "--base-url", "http://x/v1", "--model", "m", "--strategy", "r", "--judge", "none"},
		{"export", "--format", "verl", "--out", "x"},
		{"export", "--db", "x.db", "--format", "csv", "--out", "x"},
		{"export", "--db", "x.db", "--format", "sft", "--out", "x", "--min-reward", "high"},
	}
	for _, args := range cases {
		_, _, err := rlCLI(args...)
		assert.Equal(t, 2, exitCode(err), "%v: %v", args, err)
	}
	_, _, err := rlCLI("eval", "--suite", "nope", "--base-url", "http://x/v1", "--model", "m")
	assert.ErrorContains(t, err, `unknown suite "nope"`)
	_, _, err = rlCLI("rollout", "--help")
	assert.True(t, errors.Is(err, flag.ErrHelp))
	_, _, err = rlCLI("export", "--db", filepath.Join(t.TempDir(), "missing.db"), "--format", "sft", "--out", "x")
	assert.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
}

package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/pgtest"
	"github.com/reagent-go/reagent/trajectory"
)

var baseTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// sampleRun builds a realistic ReAct run: a system prompt and task on the
// first model call, then per step a thought, one tool call with input and an
// observation of a few hundred bytes, and a final answer.
func sampleRun(i, steps int) *trajectory.Trajectory {
	start := baseTime.Add(time.Duration(i) * time.Second)
	t := &trajectory.Trajectory{
		ID:        fmt.Sprintf("run-%05d", i),
		Task:      fmt.Sprintf("Find the population of city #%d in 2020 and compare it with 2010.", i),
		Inputs:    map[string]string{"input": fmt.Sprintf("city #%d", i)},
		Agent:     "react",
		Model:     "qwen2.5-7b-instruct",
		Tools:     []trajectory.ToolSpec{{Name: "search", Description: "Search the web", Tags: []string{"egress"}}, {Name: "calculator", Description: "Evaluate arithmetic", Tags: []string{"read-only"}}},
		Status:    trajectory.StatusFinished,
		StartedAt: start,
		EndedAt:   start.Add(time.Duration(steps) * 1500 * time.Millisecond),
		Metadata:  map[string]string{"suite": "gaia", "strategy": []string{"reagent-c", "reagent-r", "reagent-u"}[i%3]},
	}
	system := strings.Repeat("You are a careful research agent. Use the tools below, think step by step, and cite what you observe. ", 6)
	for s := 0; s < steps; s++ {
		at := start.Add(time.Duration(s) * 1500 * time.Millisecond)
		thought := fmt.Sprintf("Step %d: I should look up the census table for city #%d and check the %d figure against a second source before computing the change. ", s, i, 2010+s%11)
		step := trajectory.Step{Index: s, Thought: thought, StartedAt: at, Duration: 1500 * time.Millisecond}
		call := trajectory.LLMCall{Model: t.Model, Completion: thought + "Action: search\nAction Input: census city " + fmt.Sprint(i),
			StopReason: "stop", Usage: trajectory.Usage{PromptTokens: 900 + 120*s, CompletionTokens: 60, TotalTokens: 960 + 120*s},
			StartedAt: at, Duration: 700 * time.Millisecond}
		if s == 0 {
			call.Messages = []trajectory.Message{{Role: "system", Content: system}, {Role: "user", Content: t.Task}}
		}
		step.LLMCalls = []trajectory.LLMCall{call}
		if s == steps-1 {
			step.Final = true
			step.Answer = fmt.Sprintf("City #%d grew by %d.%d%% between 2010 and 2020.", i, i%17, i%10)
			t.FinalAnswer = step.Answer
		} else {
			step.Calls = []trajectory.ToolCall{{
				ID: fmt.Sprintf("call-%d-%d", i, s), Tool: "search", Input: fmt.Sprintf("census city %d year %d", i, 2010+s%11),
				Observation: strings.Repeat(fmt.Sprintf("Result %d: the %d census counted %d residents in the metropolitan area. ", s, 2010+s%11, 100000+i*37+s), 5),
				StartedAt:   at.Add(700 * time.Millisecond), Duration: 800 * time.Millisecond,
			}}
		}
		t.Steps = append(t.Steps, step)
	}
	t.Usage = trajectory.Usage{PromptTokens: 9000, CompletionTokens: 600, TotalTokens: 9600}
	return t
}

func score(v float64) *float64 { return &v }

func assessment(judge string, s float64) trajectory.Assessment {
	return trajectory.Assessment{Judge: judge, Status: trajectory.AssessmentOK, Think: "checked each step",
		Critique: fmt.Sprintf("critique from %s", judge), Score: s, Steps: 10, CreatedAt: baseTime}
}

// env is one backend's database for one test: Postgres tests get a schema
// of their own, SQLite tests a file of their own.
type env struct {
	kind string
	dsn  string // what audit.Open takes
	raw  *sql.DB
}

func (e *env) open(t testing.TB, opts ...audit.Option) audit.Store {
	t.Helper()
	s, err := audit.Open(context.Background(), e.dsn, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// exec runs tampering SQL directly against the database; ? placeholders
// are rewritten for PostgreSQL.
func (e *env) exec(t testing.TB, query string, args ...any) {
	t.Helper()
	_, err := e.raw.Exec(e.q(query), args...)
	require.NoError(t, err, query)
}

func (e *env) q(query string) string {
	if e.kind != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func newSQLiteEnv(t testing.TB) *env {
	path := filepath.Join(t.TempDir(), "audit.db")
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	return &env{kind: "sqlite", dsn: path, raw: raw}
}

func newPostgresEnv(t testing.TB) *env {
	t.Helper()
	schema := pgtest.New(t, "reagent_test_")
	raw, err := sql.Open("pgx", schema.DSN)
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	return &env{kind: "postgres", dsn: schema.DSN, raw: raw}
}

// backends runs f once per store kind.
func backends(t *testing.T, f func(t *testing.T, e func(testing.TB) *env)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newSQLiteEnv) })
	t.Run("postgres", func(t *testing.T) { f(t, newPostgresEnv) })
}

package audit_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/reagent-go/reagent/audit"
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

// postgresDSN returns the test server's DSN. Without one the test fails,
// saying how to provide it, unless REAGENT_SKIP_POSTGRES=1 asks to skip.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("REAGENT_TEST_POSTGRES")
	if dsn != "" {
		return dsn
	}
	if os.Getenv("REAGENT_SKIP_POSTGRES") == "1" {
		t.Skip("REAGENT_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
	}
	t.Fatal("REAGENT_TEST_POSTGRES is not set. Start PostgreSQL and export, for example, " +
		"REAGENT_TEST_POSTGRES='postgres://postgres:reagent@127.0.0.1:5432/reagent_test?sslmode=disable' " +
		"(the role needs CREATE on the database: each test makes and drops a schema), " +
		"or set REAGENT_SKIP_POSTGRES=1 to skip these tests explicitly. scripts/test.sh does the setup.")
	return ""
}

func newPostgresEnv(t testing.TB) *env {
	t.Helper()
	base := postgresDSN(t)
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "reagent_test_" + hex.EncodeToString(b[:])
	_, err = admin.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err, "create a test schema in %s", redactedDSN(base))
	t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(base)
	require.NoError(t, err, "REAGENT_TEST_POSTGRES must be a postgres:// URL")
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	raw, err := sql.Open("pgx", u.String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	return &env{kind: "postgres", dsn: u.String(), raw: raw}
}

func redactedDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable DSN)"
	}
	return u.Redacted()
}

// backends runs f once per store kind.
func backends(t *testing.T, f func(t *testing.T, e func(testing.TB) *env)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newSQLiteEnv) })
	t.Run("postgres", func(t *testing.T) { f(t, newPostgresEnv) })
}

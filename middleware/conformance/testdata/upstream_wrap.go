// This file is not compiled with reagent: upstream_test.go writes it into a
// temporary copy of langchaingo's agents package (package agents_test), whose
// rewritten test files build their executors with reagentWrap and
// reagentInitialize. It is the only part of the upstream harness that names
// the middleware's API.

package agents_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/tools"
)

// reagentRunsMu serialises writes to the file named by REAGENT_UPSTREAM_RUNS.
var reagentRunsMu sync.Mutex

// reagentRecord appends one line per finished run to the file named by
// REAGENT_UPSTREAM_RUNS, so the harness can check that every wrapped executor
// really opened and closed a run.
func reagentRecord(t *trajectory.Trajectory) {
	path := os.Getenv("REAGENT_UPSTREAM_RUNS")
	if path == "" {
		panic("REAGENT_UPSTREAM_RUNS is not set: run these tests through middleware/conformance")
	}
	line, err := json.Marshal(map[string]any{
		"task":   t.Task,
		"status": t.Status,
		"steps":  len(t.Steps),
		"error":  t.Error,
	})
	if err != nil {
		panic(err)
	}
	reagentRunsMu.Lock()
	defer reagentRunsMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		panic(err)
	}
}

// reagentWrapped holds every executor reagentWrap made, for TestMain to
// shut down.
var reagentWrapped struct {
	sync.Mutex
	execs []*middleware.Executor
}

// reagentWrap is what every agents.NewExecutor(...) call of the rewritten
// tests becomes.
func reagentWrap(exec *agents.Executor) *middleware.Executor {
	wrapped := middleware.Wrap(exec, run.WithOnEnd(reagentRecord))
	reagentWrapped.Lock()
	reagentWrapped.execs = append(reagentWrapped.execs, wrapped)
	reagentWrapped.Unlock()
	return wrapped
}

// TestMain runs the tests, then shuts every wrapped executor down so each
// finished run has been handed to reagentRecord before the process exits.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, exec := range reagentWrapped.execs {
		if err := exec.Shutdown(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "reagent: shutting a wrapped executor down:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// reagentInitialize is what every agents.Initialize(...) call of the
// rewritten tests becomes.
func reagentInitialize(llm llms.Model, ts []tools.Tool, agentType agents.AgentType, opts ...agents.Option) (*middleware.Executor, error) {
	exec, err := agents.Initialize(llm, ts, agentType, opts...) //nolint:staticcheck // the upstream tests use it
	if err != nil {
		return nil, err
	}
	return reagentWrap(exec), nil
}

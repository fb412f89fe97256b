package middleware_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// cancelTool cancels the caller's context when it is called: the caller's
// deadline ends in the middle of the run, with no clock involved.
type cancelTool struct{ cancel context.CancelFunc }

func (c cancelTool) Name() string        { return "stop" }
func (c cancelTool) Description() string { return "ends the caller's context" }
func (c cancelTool) Call(context.Context, string) (string, error) {
	c.cancel()
	return "stopped", nil
}

// fullStore behaves like an audit store whose queue is full behind a hung
// database: Append waits for room until the caller's context ends, then
// reports the run as not stored (the audit package's own tests check that
// the real SQLite and PostgreSQL stores do exactly this, TestDeadlinesHold).
type fullStore struct{ appends int }

func (s *fullStore) Append(ctx context.Context, t *trajectory.Trajectory) error {
	s.appends++
	<-ctx.Done()
	return ctx.Err()
}
func (s *fullStore) AppendAssessment(ctx context.Context, _ string, _ trajectory.Assessment) error {
	<-ctx.Done()
	return ctx.Err()
}
func (s *fullStore) Flush(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestStoreThatCannotTakeTheRunNeverHoldsTheCaller ends a run whose
// caller's context is done while the store has no room: the call returns,
// and the run is reported as not stored (never dropped silently).
func TestStoreThatCannotTakeTheRunNeverHoldsTheCaller(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := &fullStore{}
	srv := llmtest.New(t, react("stop", "now"), final("unused"))
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{cancelTool{cancel: cancel}})
	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithStore(store), run.WithLogger(quietLogger))
	h := run.NewHandle(run.WithRunID("not-stored"))
	_, err := chains.Run(run.ContextWithHandle(ctx, h), exec, "q")
	require.Error(t, err, "the caller's context ended during the run")

	tr := h.Trajectory()
	require.NotNil(t, tr)
	assert.Equal(t, trajectory.StatusCancelled, tr.Status)
	assert.Equal(t, 1, store.appends)
	require.Error(t, h.StoreErr(), "the run is reported as not stored")
	assert.ErrorIs(t, h.StoreErr(), context.Canceled)

	// Shutdown too returns when its context ends.
	sctx, scancel := context.WithCancel(context.Background())
	scancel()
	assert.ErrorIs(t, exec.Shutdown(sctx), context.Canceled)
}

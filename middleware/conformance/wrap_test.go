package conformance_test

// This is the only file of the transparency suite that names the
// middleware's API: wrapper.wrap turns a user's executor into the wrapped
// chain, and wrapper.stored waits for the wrapped runs to be stored.

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// wrapOptions are the options a scenario asks of the middleware.
type wrapOptions struct {
	// toolErrorAbort asks for langchaingo's own behaviour on a tool's error
	// or panic.
	toolErrorAbort bool
}

// wrapper wraps executors with one set of options, one real SQLite audit
// store and one recorder of finished runs, shared by every executor it wraps.
type wrapper struct {
	store     *audit.SQLite
	opts      wrapOptions
	mu        sync.Mutex
	ended     []*trajectory.Trajectory
	shutdowns []func(context.Context) error
	shut      bool
}

func newWrapper(t *testing.T, o wrapOptions) *wrapper {
	t.Helper()
	store, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	w := &wrapper{store: store, opts: o}
	t.Cleanup(func() {
		require.NoError(t, w.shutdown(context.Background()))
		require.NoError(t, store.Close())
	})
	return w
}

// wrap is the one line a user writes.
func (w *wrapper) wrap(exec *agents.Executor) chains.Chain {
	wrapped := middleware.Wrap(exec,
		run.WithStore(w.store),
		run.WithOnEnd(w.record),
		run.WithToolErrorAbort(w.opts.toolErrorAbort),
	)
	w.mu.Lock()
	w.shutdowns = append(w.shutdowns, wrapped.Shutdown)
	w.mu.Unlock()
	return wrapped
}

// shutdown waits for every wrapped executor's pending work (judgments, store
// writes); it runs once.
func (w *wrapper) shutdown(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shut {
		return nil
	}
	w.shut = true
	for _, s := range w.shutdowns {
		if err := s(ctx); err != nil {
			return err
		}
	}
	return nil
}

// TestWrappedExecutorIsTheUsersExecutor: the wrapped value embeds the user's
// executor, so code that set its fields keeps working: a limit set on the
// wrapped value after wrapping is the user's executor's limit, and it holds.
func TestWrappedExecutorIsTheUsersExecutor(t *testing.T) {
	model := &scriptedModel{name: "m", script: loopingMRKL}
	exec := agents.NewExecutor(agents.NewOneShotAgent(model, nil), agents.WithMaxIterations(5))
	store, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	defer store.Close()
	wrapped := middleware.Wrap(exec, run.WithStore(store))
	require.Same(t, exec, wrapped.Executor)

	wrapped.MaxIterations = 2
	require.Equal(t, 2, exec.MaxIterations)
	_, err = chains.Run(t.Context(), wrapped, "Count")
	require.ErrorIs(t, err, agents.ErrNotFinished)
	require.Len(t, model.seen(), 2)

	require.NoError(t, wrapped.Shutdown(t.Context()))
	require.NoError(t, store.Flush(t.Context()))
	runs, err := store.List(t.Context(), audit.Query{})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, trajectory.StatusMaxIterations, runs[0].Status)
	require.Len(t, runs[0].Steps, 2)
}

package middleware_test

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// panicAgent is a custom agent whose Plan panics; it counts its calls, so
// the test can see that it was called as itself, not through a copy.
type panicAgent struct {
	mu    sync.Mutex
	plans int
}

func (a *panicAgent) Plan(context.Context, []schema.AgentStep, map[string]string, ...chains.ChainCallOption) ([]schema.AgentAction, *schema.AgentFinish, error) {
	a.mu.Lock()
	a.plans++
	a.mu.Unlock()
	panic("planner exploded")
}
func (a *panicAgent) GetInputKeys() []string  { return []string{"input"} }
func (a *panicAgent) GetOutputKeys() []string { return []string{"output"} }
func (a *panicAgent) GetTools() []tools.Tool  { return nil }

// callRecovering runs exec and returns what it panicked with, if anything.
func callRecovering(exec chains.Chain, input string) (p any) {
	defer func() { p = recover() }()
	_, _ = chains.Run(context.Background(), exec, input)
	return nil
}

func TestPanickingPlanReachesCallerAndIsStoredAsPanic(t *testing.T) {
	bare := &panicAgent{}
	bareP := callRecovering(agents.NewExecutor(bare), "q")

	agent := &panicAgent{}
	var got []*trajectory.Trajectory
	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithOnEnd(func(t *trajectory.Trajectory) { got = append(got, t) }))
	wrappedP := callRecovering(exec, "q")

	assert.Equal(t, bareP, wrappedP, "the panic reaches the caller as without reagent")
	assert.Equal(t, 1, agent.plans, "the user's agent itself saw the Plan")
	require.Len(t, got, 1)
	assert.Equal(t, trajectory.StatusPanic, got[0].Status)
	assert.Contains(t, got[0].Error, "planner exploded")
}

// TestPanickingRunsLeaveNothingBehind runs 10,000 panicking runs and checks
// that the live heap does not grow with them (each used to keep ~2.4 KB in
// an open-run registry) and that every one of them ended.
func TestPanickingRunsLeaveNothingBehind(t *testing.T) {
	const n = 10000
	ended := 0
	exec := middleware.Wrap(agents.NewExecutor(&panicAgent{}), run.WithOnEnd(func(t *trajectory.Trajectory) {
		if t.Status == trajectory.StatusPanic {
			ended++
		}
	}))
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for range 100 { // warm up pools and caches
		callRecovering(exec, "q")
	}
	before := heap()
	for range n {
		callRecovering(exec, "q")
	}
	after := heap()
	assert.Equal(t, n+100, ended, "every panicking run ended exactly once")
	// 10,000 leaked runs of ~2.4 KB would be ~24 MB; allow 1 MB of noise.
	assert.Less(t, int64(after)-int64(before), int64(1<<20), "live heap grew by %d bytes", int64(after)-int64(before))
}

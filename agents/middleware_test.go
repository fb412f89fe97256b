package agents

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lcagents "github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/tools/calculator"
	"github.com/reagent-go/reagent/trajectory"
)

// runWrapped runs exec under middleware.Wrap and returns the output and the
// recorded trajectory.
func runWrapped(t *testing.T, exec *lcagents.Executor, input string) (map[string]any, error, *trajectory.Trajectory) {
	t.Helper()
	var mu sync.Mutex
	var got *trajectory.Trajectory
	wrapped := middleware.Wrap(exec, run.WithOnEnd(func(tr *trajectory.Trajectory) {
		mu.Lock()
		got = tr.Clone()
		mu.Unlock()
	}))
	out, err := chains.Call(context.Background(), wrapped, map[string]any{"input": input})
	require.NoError(t, wrapped.Shutdown(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	require.NotNil(t, got, "the run was recorded")
	return out, err, got
}

func TestToolCallingUnderMiddleware(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{Content: "Two things at once.", ToolCalls: []llmtest.ToolCall{
			call("call_1", "calculator", `{"expression":"2^10"}`),
			call("call_2", "broken", `{"input":"x"}`),
		}},
		llmtest.Reply{Content: "1024, and the backend is down."},
	)
	agent := NewToolCalling(client(t, srv), []tools.Tool{calculator.New(), broken{}})
	out, err, tr := runWrapped(t, lcagents.NewExecutor(agent), "Compute 2^10 and ask the backend.")
	require.NoError(t, err, "a tool's Go error is an observation under the middleware")
	assert.Equal(t, "1024, and the backend is down.", out["output"])

	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	assert.Equal(t, "1024, and the backend is down.", tr.FinalAnswer)
	calls := tr.ToolCalls()
	require.Len(t, calls, 2)
	assert.Equal(t, "call_1", calls[0].ID)
	assert.Equal(t, "1024", calls[0].Observation)
	assert.Equal(t, "call_2", calls[1].ID)
	assert.Contains(t, calls[1].Observation, "backend unavailable")
	var specs []string
	for _, s := range tr.Tools {
		specs = append(specs, s.Name)
		if s.Name == "calculator" {
			assert.True(t, s.HasTag("read-only"))
			assert.Contains(t, string(s.Parameters), "expression")
		}
	}
	assert.ElementsMatch(t, []string{"calculator", "broken"}, specs)
	// The middleware swapped the agent's LLM for its recorder.
	var llmCalls []trajectory.LLMCall
	for _, s := range tr.Steps {
		llmCalls = append(llmCalls, s.LLMCalls...)
	}
	require.Len(t, llmCalls, 2)
	require.Len(t, llmCalls[0].ToolCalls, 2)
	assert.Equal(t, "calculator", llmCalls[0].ToolCalls[0].Name)
	// The second request still carried both tool results, with their ids.
	m := srv.Requests()[1].Messages
	assert.Equal(t, "call_2", m[len(m)-1].ToolCallID)
	assert.Contains(t, m[len(m)-1].Content, "backend unavailable")
}

func TestReActUnderMiddleware(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{Content: "Thought: compute\nAction: calculator\nAction Input: 3*(4+5)"},
		llmtest.Reply{Content: "Thought: done\nFinal Answer: 27"},
	)
	out, err, tr := runWrapped(t, NewReAct(client(t, srv), []tools.Tool{calculator.New()}), "3*(4+5)?")
	require.NoError(t, err)
	assert.Equal(t, "27", out["output"])
	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	require.Len(t, tr.ToolCalls(), 1)
	assert.Equal(t, "27", tr.ToolCalls()[0].Observation)
	assert.Equal(t, "compute", tr.Steps[0].Thought)
}

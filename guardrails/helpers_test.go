package guardrails

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/internal/policytest"
	"github.com/reagent-go/reagent/trajectory"
)

// newOpenAIServer is an OpenAI-compatible judge endpoint (the project's one
// test double) whose replies come in order, the last one repeating.
func newOpenAIServer(t *testing.T, replies ...llmtest.Reply) *llmtest.Server {
	t.Helper()
	var mu sync.Mutex
	n := 0
	return llmtest.NewFunc(t, func(llmtest.Request) llmtest.Reply {
		mu.Lock()
		defer mu.Unlock()
		r := replies[min(n, len(replies)-1)]
		n++
		return r
	})
}

func rrmReply(score float64, critique string) llmtest.Reply {
	return llmtest.Reply{Content: fmt.Sprintf("<think>checking the run</think><critique>%s</critique><score>%.2f</score>", critique, score)}
}

// history builds a running trajectory with the given executed calls.
func history(calls ...trajectory.ToolCall) *trajectory.Trajectory {
	return policytest.History(calls...)
}

func callEvent(tool, input string, tags ...string) *Event {
	return &Event{
		Kind: trajectory.EventToolCall,
		Tool: trajectory.ToolSpec{Name: tool, Tags: tags},
		Call: &trajectory.ToolCall{ID: "pending", Tool: tool, Input: input},
		Step: 0, Trajectory: history(),
	}
}

func resultEvent(tool, input, obs string, tags ...string) *Event {
	ev := callEvent(tool, input, tags...)
	ev.Kind = trajectory.EventToolResult
	ev.Call.Observation = obs
	return ev
}

// quietLogger discards what a chain logs (approval failures a test
// provokes on purpose).
var quietLogger = slog.New(slog.DiscardHandler)

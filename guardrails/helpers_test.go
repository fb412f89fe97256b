package guardrails

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reagent-go/reagent/internal/llmtest"
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

// run builds a trajectory with the given executed calls (tool, input).
func run(calls ...trajectory.ToolCall) *trajectory.Trajectory {
	t := &trajectory.Trajectory{SchemaVersion: trajectory.SchemaVersion, ID: "run-1", Task: "find the weather", Status: trajectory.StatusRunning, StartedAt: time.Now()}
	for i, c := range calls {
		if c.ID == "" {
			c.ID = fmt.Sprintf("c%d", i)
		}
		if c.Observation == "" && c.Error == "" && !c.Blocked {
			c.Observation, c.Duration = "ok", time.Millisecond // it ran
		}
		t.Steps = append(t.Steps, trajectory.Step{Index: i, Calls: []trajectory.ToolCall{c}})
	}
	return t
}

func callEvent(tool, input string, tags ...string) *Event {
	return &Event{
		Kind: trajectory.EventToolCall,
		Tool: trajectory.ToolSpec{Name: tool, Tags: tags},
		Call: &trajectory.ToolCall{ID: "pending", Tool: tool, Input: input},
		Step: 0, Trajectory: run(),
	}
}

func resultEvent(tool, input, obs string, tags ...string) *Event {
	ev := callEvent(tool, input, tags...)
	ev.Kind = trajectory.EventToolResult
	ev.Call.Observation = obs
	return ev
}

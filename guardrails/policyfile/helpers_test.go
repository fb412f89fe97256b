package policyfile

import (
	"context"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/internal/policytest"
	"github.com/reagent-go/reagent/trajectory"
)

var ctx = context.Background()

// history builds a running trajectory with the given executed calls.
func history(calls ...trajectory.ToolCall) *trajectory.Trajectory {
	return policytest.History(calls...)
}

func callEvent(tool, input string, tags ...string) *guardrails.Event {
	return &guardrails.Event{
		Kind:       trajectory.EventToolCall,
		Tool:       trajectory.ToolSpec{Name: tool, Tags: tags},
		Call:       &trajectory.ToolCall{ID: "pending", Tool: tool, Input: input},
		Trajectory: history(),
	}
}

func resultEvent(tool, input, obs string, tags ...string) *guardrails.Event {
	ev := callEvent(tool, input, tags...)
	ev.Kind = trajectory.EventToolResult
	ev.Call.Observation = obs
	return ev
}

func guardNames(gs []guardrails.Guard) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name())
	}
	return out
}

package rrm_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// TestHeuristicReadsRealFence: observations fenced by guardrails.Fence (as
// the default guard policy fences every API and web result) are read
// through the fence: an HTTP error inside is a failed call, the fence's
// own words are no evidence, and a success inside stays one.
func TestHeuristicReadsRealFence(t *testing.T) {
	judge := func(obs, answer string) trajectory.Assessment {
		tr := &trajectory.Trajectory{SchemaVersion: 1, ID: "fenced", Task: "Which city does Ada Falk live in?", Status: trajectory.StatusFinished,
			Tools: []trajectory.ToolSpec{{Name: "get_person"}},
			Steps: []trajectory.Step{
				{Index: 0, Calls: []trajectory.ToolCall{{Tool: "get_person", Input: `{"id":"Ada Falk"}`, Observation: obs}}},
				{Index: 1, Final: true, Answer: answer},
			},
			FinalAnswer: answer}
		return rrm.NewHeuristic().Judge(context.Background(), tr)
	}
	a := judge(guardrails.Fence("get_person", "HTTP 503 Service Unavailable\n{\"error\":{\"message\":\"try again later\"}}"), "Tartu")
	assert.Contains(t, a.Think, "- tool errors: FAIL")
	assert.Contains(t, a.Critique, `failed with "HTTP 503 Service Unavailable: try again later"`)

	ok := guardrails.Fence("get_person", "HTTP 200 OK\n"+`{"born":1982,"city":{"id":"tartu","name":"Tartu"},"employer":{"id":"norvik","name":"Norvik"},"id":"ada-falk","name":"Ada Falk"}`)
	a = judge(ok, "Tartu")
	assert.Equal(t, 1.0, a.Score, a.Think)
	// "Untrusted" is a word of the fence, not of the observation.
	a = judge(ok, "Untrusted")
	assert.Less(t, a.Score, rrm.FlawThreshold, a.Think)
}

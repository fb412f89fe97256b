package redact_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/trajectory"
)

// auditRun is a 10-step run shaped like the audit benchmark's (census
// questions, search calls): text with no secret and few keywords.
func auditRun(i int) *trajectory.Trajectory {
	t := &trajectory.Trajectory{ID: fmt.Sprintf("run-%05d", i), Task: fmt.Sprintf("Find the population of city #%d in 2020 and compare it with 2010.", i),
		Inputs: map[string]string{"input": fmt.Sprintf("city #%d", i)}, Agent: "react", Model: "qwen2.5-7b-instruct",
		Metadata: map[string]string{"suite": "gaia", "strategy": "reagent-c"}}
	system := strings.Repeat("You are a careful research agent. Use the tools below, think step by step, and cite what you observe. ", 6)
	for s := 0; s < 10; s++ {
		thought := fmt.Sprintf("Step %d: I should look up the census table for city #%d and check the %d figure against a second source before computing the change. ", s, i, 2010+s%11)
		call := trajectory.LLMCall{Model: t.Model, Completion: thought + "Action: search\nAction Input: census city " + fmt.Sprint(i)}
		if s == 0 {
			call.Messages = []trajectory.Message{{Role: "system", Content: system}, {Role: "user", Content: t.Task}}
		}
		t.Steps = append(t.Steps, trajectory.Step{Index: s, Thought: thought, LLMCalls: []trajectory.LLMCall{call},
			Calls: []trajectory.ToolCall{{ID: fmt.Sprintf("call-%d-%d", i, s), Tool: "search", Input: fmt.Sprintf("census city %d year %d", i, 2010+s%11),
				Observation: strings.Repeat(fmt.Sprintf("Result %d: the %d census counted %d residents in the metropolitan area. ", s, 2010+s%11, 100000+i*37+s), 5)}}})
	}
	return t
}

// BenchmarkRedactAuditRun redacts one audit-benchmark-shaped run: the
// redaction share of BenchmarkAuditAppend (../bench_test.go).
func BenchmarkRedactAuditRun(b *testing.B) {
	r := redact.Default()
	runs := make([]*trajectory.Trajectory, 64)
	for i := range runs {
		runs[i] = auditRun(i)
	}
	b.ResetTimer()
	for i := range b.N {
		_ = r.Trajectory(runs[i%len(runs)])
	}
}

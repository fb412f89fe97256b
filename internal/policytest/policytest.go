// Package policytest holds what tests of several packages share: scripted
// agent models (reply functions for an internal/llmtest server), the
// adversarial guardrail table (AdversarialPolicy, Adversarial) and runs in
// progress for guards to check (History).
package policytest

import (
	"net/http"
	"strings"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/run"
)

// Arith answers "What is EXPR?" like a tool-calling agent model: it
// answers guess until a reviewer's critique (a system message starting
// with run.CritiquePrefix) is in the prompt, then calls the
// calculator tool with EXPR, and answers with the tool's result once it has
// it. With an empty guess it uses the calculator at once.
func Arith(guess string) func(llmtest.Request) llmtest.Reply {
	return func(req llmtest.Request) llmtest.Reply {
		if len(req.Messages) == 0 {
			return llmtest.Reply{Status: http.StatusBadRequest, Body: `{"error":{"message":"policytest: no messages"}}`}
		}
		last := req.Messages[len(req.Messages)-1]
		if last.Role == "tool" {
			return llmtest.Reply{Content: last.Content}
		}
		critiqued := guess == ""
		for _, m := range req.Messages {
			if m.Role == "system" && strings.HasPrefix(m.Content, run.CritiquePrefix) {
				critiqued = true
			}
		}
		if !critiqued {
			return llmtest.Reply{Content: guess}
		}
		expr := strings.TrimSuffix(strings.TrimPrefix(last.Content, "What is "), "?")
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "c1", Name: "calculator", Arguments: `{"expression":"` + expr + `"}`}}}
	}
}

package policytest

import (
	"net/http"
	"testing"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

func TestArith(t *testing.T) {
	user := llmtest.Message{Role: "user", Content: "What is 6 * 7?"}
	critique := llmtest.Message{Role: "system", Content: run.CritiquePrefix + "use the calculator"}
	tool := llmtest.Message{Role: "tool", Content: "42"}

	if r := Arith("40")(llmtest.Request{Messages: []llmtest.Message{user}}); r.Content != "40" || len(r.ToolCalls) != 0 {
		t.Errorf("first attempt: %+v, want the guess", r)
	}
	r := Arith("40")(llmtest.Request{Messages: []llmtest.Message{critique, user}})
	if len(r.ToolCalls) != 1 || r.ToolCalls[0].Name != "calculator" || r.ToolCalls[0].Arguments != `{"expression":"6 * 7"}` {
		t.Errorf("after a critique: %+v, want a calculator call", r)
	}
	if r := Arith("")(llmtest.Request{Messages: []llmtest.Message{user}}); len(r.ToolCalls) != 1 {
		t.Errorf("careful model: %+v, want a calculator call at once", r)
	}
	if r := Arith("40")(llmtest.Request{Messages: []llmtest.Message{critique, user, tool}}); r.Content != "42" {
		t.Errorf("after the tool: %+v, want its result", r)
	}
	if r := Arith("40")(llmtest.Request{}); r.Status != http.StatusBadRequest {
		t.Errorf("no messages: %+v, want a 400", r)
	}
}

func TestAdversarialTableIsWellFormed(t *testing.T) {
	rows := Adversarial()
	if len(rows) < 60 {
		t.Fatalf("%d rows, want at least 60", len(rows))
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Name] {
			t.Errorf("duplicate row %q", r.Name)
		}
		seen[r.Name] = true
		if (r.Want == trajectory.Block) != (r.By != "") {
			t.Errorf("%s: a blocked row names its guard, an allowed one none (want %s, by %q)", r.Name, r.Want, r.By)
		}
		if r.Kind == trajectory.EventToolResult && r.Obs == "" {
			t.Errorf("%s: a tool-result row needs an observation", r.Name)
		}
	}
	rows[0].Name = "changed"
	if Adversarial()[0].Name == "changed" {
		t.Error("Adversarial returns the table itself, not a copy")
	}
}

// Package guardrails decides, before a tool runs, after it returns and before
// the final answer, whether an agent may go on: Allow, Block or Escalate to a
// human. Every guard's own decision is kept in the trajectory.
package guardrails

import (
	"context"

	"github.com/reagent-go/reagent/trajectory"
)

// Event is what a guard checks: a tool call about to run (Call set, no
// observation yet), a tool result (Call with its Observation), or a final
// answer (Answer set). Trajectory is the run so far; guards must not modify it.
// An Event is checked by one goroutine at a time: guards share a parse of
// the call's input through it.
type Event struct {
	Kind       trajectory.GuardEvent
	Tool       trajectory.ToolSpec
	Call       *trajectory.ToolCall
	Answer     string
	Step       int
	Trajectory *trajectory.Trajectory

	cache     *inputCache                // see parsed
	wantDoc   bool                       // a guard of the chain reads the input as a document (parsed builds it)
	tags      func(tool string) []string // the policy's tags for a tool, set by the Chain
	rewritten string                     // see Rewrite
	rewrote   bool                       // rewritten is set
	// tagMemo keeps hasTag's answers during one Chain.Check (several guards
	// ask about the same tool and tag); off outside a check, so that a
	// caller who changes the event between direct guard calls is never
	// answered from an old state.
	tagMemo  [4]tagAnswer
	nTagMemo int
	memoOn   bool
}

type tagAnswer struct {
	tool, tag string
	has       bool
}

// Rewrite proposes what the model sees of a tool result instead of its
// observation (fencing untrusted content, say). The Chain applies the last
// proposal when the result is allowed; later guards see the proposal in
// ev.Call.Observation.
func (ev *Event) Rewrite(observation string) {
	ev.rewritten, ev.rewrote = observation, true
	if ev.Call != nil {
		c := *ev.Call
		c.Observation = observation
		ev.Call = &c
	}
}

// Guard checks events. Every method is part of the contract, so a guard
// that wraps another passes all of it on and loses nothing:
//
//   - Name is the guard's name in decisions ("network").
//   - Handles reports whether the guard checks events of this kind; a Chain
//     does not call it (and records no decision) for the others. NewChain
//     reads Name and Handles once, for the event kinds reagent defines
//     (trajectory.EventToolCall, EventToolResult, EventFinalAnswer), so the
//     answers must not change afterwards.
//   - Describe says what the guard checks, in one line, for policy
//     summaries.
//   - Check returns the guard's decision; the Guard, Event, Step, Tool and
//     CallID fields are filled by the Chain when empty. A guard may propose
//     a new observation for a tool result with ev.Rewrite.
type Guard interface {
	Name() string
	Handles(kind trajectory.GuardEvent) bool
	Describe() string
	Check(ctx context.Context, ev *Event) trajectory.Decision
}

// GuardFunc makes a Guard of a function.
type GuardFunc struct {
	// GuardName names the guard in decisions.
	GuardName string
	// Events are the kinds of event it checks; none means every kind.
	Events []trajectory.GuardEvent
	// Summary describes it for policy summaries (default: its name).
	Summary string
	// Fn decides.
	Fn func(ctx context.Context, ev *Event) trajectory.Decision
}

// Name returns f.GuardName.
func (f GuardFunc) Name() string { return f.GuardName }

// Handles reports whether kind is one of f.Events (any kind when empty).
func (f GuardFunc) Handles(kind trajectory.GuardEvent) bool {
	if len(f.Events) == 0 {
		return true
	}
	for _, e := range f.Events {
		if e == kind {
			return true
		}
	}
	return false
}

// Describe returns f.Summary, or the name.
func (f GuardFunc) Describe() string {
	if f.Summary != "" {
		return f.Summary
	}
	return f.GuardName
}

// Check calls f.Fn; a GuardFunc without one blocks.
func (f GuardFunc) Check(ctx context.Context, ev *Event) trajectory.Decision {
	if f.Fn == nil {
		return trajectory.Decision{Verdict: trajectory.Block, Reason: "guard has no function"}
	}
	return f.Fn(ctx, ev)
}

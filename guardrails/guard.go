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

	cache *inputCache // see parsed
}

// Guard checks one event. Check returns the guard's decision; the Guard,
// Event, Step, Tool and CallID fields are filled by the caller when empty.
type Guard interface {
	Name() string
	Check(ctx context.Context, ev *Event) trajectory.Decision
}

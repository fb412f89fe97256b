package guardrails

import (
	"context"
	"fmt"

	"github.com/reagent-go/reagent/trajectory"
)

// ToolFilter allows or refuses tool calls by tool name and tag. Deny wins;
// then, when Allow is not empty, a tool it does not match is refused; then
// a tool matched by Approve needs a human's approval (Escalate).
type ToolFilter struct {
	Allow   ToolMatch
	Deny    ToolMatch
	Approve ToolMatch
}

// Name returns "tools".
func (f *ToolFilter) Name() string { return "tools" }

// Handles reports that the filter checks tool calls only.
func (f *ToolFilter) Handles(kind trajectory.GuardEvent) bool {
	return kind == trajectory.EventToolCall
}

// Check decides on the tool about to run.
func (f *ToolFilter) Check(_ context.Context, ev *Event) trajectory.Decision {
	tool := toolName(ev)
	if ok, why := f.Deny.matches(ev, tool); ok {
		return decide(trajectory.Block, fmt.Sprintf("tool %q is denied (%s)", tool, matchReason(why)))
	}
	if !f.Allow.Empty() {
		if ok, _ := f.Allow.matches(ev, tool); !ok {
			return decide(trajectory.Block, fmt.Sprintf("tool %q is not in the allow list", tool))
		}
	}
	if ok, why := f.Approve.matches(ev, tool); ok {
		return decide(trajectory.Escalate, fmt.Sprintf("tool %q needs approval (%s)", tool, matchReason(why)))
	}
	return allow("tool permitted")
}

// Describe summarizes the filter for `reagent policy check`.
func (f *ToolFilter) Describe() string {
	s := "tools:"
	if !f.Allow.Empty() {
		s += " allow " + f.Allow.String() + ";"
	}
	if !f.Deny.Empty() {
		s += " deny " + f.Deny.String() + ";"
	}
	if !f.Approve.Empty() {
		s += " approve " + f.Approve.String() + ";"
	}
	if s == "tools:" {
		return "tools: every tool allowed"
	}
	return s[:len(s)-1]
}

package guardrails

import (
	"context"
	"fmt"
	"strings"

	"github.com/reagent-go/reagent/trajectory"
)

// SequenceRule forbids a tool after another has run in the same run, for
// example "after a tool tagged secret ran, no tool tagged egress may run".
type SequenceRule struct {
	Name  string
	After ToolMatch // once one of these has run (not blocked) …
	Deny  ToolMatch // … these may not run
	// Verdict is Block (default) or Escalate.
	Verdict trajectory.Verdict
}

// SequenceGuard applies sequence rules over the run so far.
type SequenceGuard struct {
	rules []SequenceRule
}

// NewSequenceGuard checks the rules: each needs After and Deny.
func NewSequenceGuard(rules ...SequenceRule) (*SequenceGuard, error) {
	g := &SequenceGuard{}
	for i, r := range rules {
		if r.Name == "" {
			r.Name = fmt.Sprintf("sequence %d", i+1)
		}
		if r.After.Empty() || r.Deny.Empty() {
			return nil, fmt.Errorf("sequence %s: needs both after and deny", r.Name)
		}
		if r.Verdict != "" && r.Verdict != trajectory.Block && r.Verdict != trajectory.Escalate {
			return nil, fmt.Errorf("sequence %s: verdict %q must be block or escalate", r.Name, r.Verdict)
		}
		r.Verdict = verdictOr(r.Verdict, trajectory.Block)
		g.rules = append(g.rules, r)
	}
	return g, nil
}

// Name returns "sequence".
func (g *SequenceGuard) Name() string { return "sequence" }

// Handles reports that the guard checks tool calls only.
func (g *SequenceGuard) Handles(kind trajectory.GuardEvent) bool {
	return kind == trajectory.EventToolCall
}

// Check refuses the tool when an earlier call in the run armed a rule
// that denies it.
func (g *SequenceGuard) Check(_ context.Context, ev *Event) trajectory.Decision {
	tool := toolName(ev)
	var escalated *trajectory.Decision
	for _, r := range g.rules {
		deny, why := r.Deny.matches(ev, tool)
		if !deny {
			continue
		}
		prior, ok := g.ranBefore(ev, r.After)
		if !ok {
			continue
		}
		d := decide(r.Verdict, fmt.Sprintf("%s: %q (%s) may not run after %q ran", r.Name, tool, matchReason(why), prior))
		if r.Verdict == trajectory.Block {
			return d
		}
		if escalated == nil {
			escalated = &d
		}
	}
	if escalated != nil {
		return *escalated
	}
	return allow("no sequence rule applies")
}

// ranBefore finds an executed call in the run that m selects.
func (g *SequenceGuard) ranBefore(ev *Event, m ToolMatch) (string, bool) {
	if ev.Trajectory == nil {
		return "", false
	}
	for _, s := range ev.Trajectory.Steps {
		for i := range s.Calls {
			c := &s.Calls[i]
			if !ran(ev, c) {
				continue
			}
			if ok, _ := m.matches(ev, c.Tool); ok {
				return c.Tool, true
			}
		}
	}
	return "", false
}

// Describe summarizes the rules.
func (g *SequenceGuard) Describe() string {
	var parts []string
	for _, r := range g.rules {
		parts = append(parts, fmt.Sprintf("%s (after %s: %s %s)", r.Name, r.After, r.Verdict, r.Deny))
	}
	return fmt.Sprintf("sequence: %d rule(s): %s", len(g.rules), strings.Join(parts, "; "))
}

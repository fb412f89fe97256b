package guardrails

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

// Budget limits a run: tool calls in all, calls per tool, and wall time.
// It counts the calls of the run's trajectory that ran (see ran), so one
// Budget serves many concurrent runs; the call being checked has no
// outcome yet and is not counted, whether or not the recorder added it.
type Budget struct {
	// MaxCalls bounds the tool calls of a run (0: no bound).
	MaxCalls int
	// MaxCallsPerTool bounds calls by tool name; the key "*" bounds every
	// tool not listed.
	MaxCallsPerTool map[string]int
	// MaxDuration bounds the wall time since the run started (0: none).
	MaxDuration time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Name returns "budget".
func (b *Budget) Name() string { return "budget" }

// Handles reports that the budget checks tool calls only.
func (b *Budget) Handles(kind trajectory.GuardEvent) bool {
	return kind == trajectory.EventToolCall
}

// Check refuses a call that would exceed a limit.
func (b *Budget) Check(_ context.Context, ev *Event) trajectory.Decision {
	tool := toolName(ev)
	t := ev.Trajectory
	if b.MaxDuration > 0 && t != nil && !t.StartedAt.IsZero() {
		now := time.Now
		if b.Now != nil {
			now = b.Now
		}
		if el := now().Sub(t.StartedAt); el > b.MaxDuration {
			return decide(trajectory.Block, fmt.Sprintf("run time %s exceeds the budget of %s", el.Round(time.Millisecond), b.MaxDuration))
		}
	}
	limit, hasLimit := b.toolLimit(tool)
	if b.MaxCalls <= 0 && !hasLimit {
		return allow("within budget")
	}
	total, same := 0, 0
	if t != nil {
		for _, s := range t.Steps {
			for i := range s.Calls {
				c := &s.Calls[i]
				if !ran(ev, c) {
					continue
				}
				total++
				if sameName(c.Tool, tool) {
					same++
				}
			}
		}
	}
	if b.MaxCalls > 0 && total >= b.MaxCalls {
		return decide(trajectory.Block, fmt.Sprintf("tool-call budget of %d per run is spent", b.MaxCalls))
	}
	if hasLimit && same >= limit {
		return decide(trajectory.Block, fmt.Sprintf("budget of %d call(s) to %q per run is spent", limit, tool))
	}
	return allow("within budget")
}

func (b *Budget) toolLimit(tool string) (int, bool) {
	for k, v := range b.MaxCallsPerTool {
		if k != "*" && sameName(k, tool) {
			return v, true
		}
	}
	v, ok := b.MaxCallsPerTool["*"]
	return v, ok
}

// Describe summarizes the limits.
func (b *Budget) Describe() string {
	var parts []string
	if b.MaxCalls > 0 {
		parts = append(parts, fmt.Sprintf("%d calls per run", b.MaxCalls))
	}
	keys := make([]string, 0, len(b.MaxCallsPerTool))
	for k := range b.MaxCallsPerTool {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d calls to %s", b.MaxCallsPerTool[k], k))
	}
	if b.MaxDuration > 0 {
		parts = append(parts, fmt.Sprintf("%s wall time", b.MaxDuration))
	}
	if len(parts) == 0 {
		return "budget: no limits"
	}
	return "budget: " + strings.Join(parts, ", ")
}

// ran reports whether a recorded call was executed: it was not blocked,
// named a real tool, and has an outcome (an observation, an error, a
// panic or a duration). A call the recorder has claimed but not run yet
// (the one being checked, or another of the same step) has none.
func ran(ev *Event, c *trajectory.ToolCall) bool {
	if c.Blocked || c.UnknownTool {
		return false
	}
	if ev != nil && ev.Call != nil && ev.Call.ID != "" && c.ID == ev.Call.ID && ev.Kind == trajectory.EventToolCall {
		return false
	}
	return c.Observation != "" || c.Error != "" || c.Panicked || c.Duration > 0
}

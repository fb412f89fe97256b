package guardrails

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/reagent-go/reagent/internal/trunc"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// DefaultCritiqueFlags returns the pattern of critiques that call the step
// about to run unsafe; the gate treats such a critique like a low score.
func DefaultCritiqueFlags() *regexp.Regexp { return defaultCritiqueFlags }

var defaultCritiqueFlags = regexp.MustCompile(`(?i)\b(unsafe|harmful|dangerous|destructive|malicious|irreversible|exfiltrat\w*|prompt[ -]injection|injected instructions?|(should|must) not (run|execute|call|proceed|be (run|executed|called))|do not (run|execute|call|proceed))\b`)

// PendingObservation is the observation the gate's judge sees for the
// call it is asked about, which has not run yet.
const PendingObservation = "(not executed yet: awaiting the guardrail's decision)"

// RRMGate asks a reasoning reward model about the run so far before a
// risky tool runs: the partial trajectory, with the pending call as its
// last step, is judged; a score under the threshold, or a critique that
// flags the step, blocks or escalates. A judge that fails blocks unless
// the gate fails open.
type RRMGate struct {
	judge     rrm.Judge
	tools     ToolMatch
	threshold float64
	verdict   trajectory.Verdict
	failOpen  bool
	flags     *regexp.Regexp
	timeout   time.Duration
}

// GateOption configures an RRMGate.
type GateOption func(*RRMGate)

// GateTools selects the tools the gate judges (default: tagged risky).
func GateTools(m ToolMatch) GateOption { return func(g *RRMGate) { g.tools = m } }

// GateThreshold sets the lowest passing score (default 0.5).
func GateThreshold(t float64) GateOption { return func(g *RRMGate) { g.threshold = t } }

// GateVerdict sets what a failing judgment does: Block (default) or
// Escalate.
func GateVerdict(v trajectory.Verdict) GateOption {
	return func(g *RRMGate) { g.verdict = verdictOr(v, trajectory.Block) }
}

// GateFailOpen lets calls through when the judge fails (default: they are
// blocked).
func GateFailOpen(open bool) GateOption { return func(g *RRMGate) { g.failOpen = open } }

// GateFlags sets the pattern of critiques that flag the step (nil: only
// the score counts).
func GateFlags(re *regexp.Regexp) GateOption { return func(g *RRMGate) { g.flags = re } }

// GateTimeout bounds one judgment (default 60 s); a timeout is a failure.
func GateTimeout(d time.Duration) GateOption {
	return func(g *RRMGate) {
		if d > 0 {
			g.timeout = d
		}
	}
}

// NewRRMGate returns a gate judging with j.
func NewRRMGate(j rrm.Judge, opts ...GateOption) *RRMGate {
	g := &RRMGate{
		judge: j, tools: Tagged(TagRisky), threshold: 0.5, verdict: trajectory.Block,
		flags: defaultCritiqueFlags, timeout: 60 * time.Second,
	}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Name returns "rrm-gate".
func (g *RRMGate) Name() string { return "rrm-gate" }

// Handles reports that the gate checks tool calls only.
func (g *RRMGate) Handles(kind trajectory.GuardEvent) bool {
	return kind == trajectory.EventToolCall
}

// Check judges the partial run with the pending call.
func (g *RRMGate) Check(ctx context.Context, ev *Event) trajectory.Decision {
	tool := toolName(ev)
	if ok, _ := g.tools.matches(ev, tool); !ok {
		return allow("tool not gated")
	}
	if g.judge == nil {
		return g.failure("no judge configured")
	}
	jctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	a := g.judge.Judge(jctx, PartialWithPending(ev))
	if !a.OK() {
		msg := a.Error
		if msg == "" {
			msg = "judge returned no usable assessment"
		}
		return g.failure("judge failed: " + msg)
	}
	critique := trunc.Quote(a.Critique, 300)
	if a.Score < g.threshold {
		return scored(decide(g.verdict, fmt.Sprintf("RRM score %.2f is below %.2f: %s", a.Score, g.threshold, critique)), a.Score)
	}
	if g.flags != nil && g.flags.MatchString(a.Critique) {
		return scored(decide(g.verdict, fmt.Sprintf("RRM critique flags the step (score %.2f): %s", a.Score, critique)), a.Score)
	}
	return scored(allow(fmt.Sprintf("RRM score %.2f ≥ %.2f", a.Score, g.threshold)), a.Score)
}

func (g *RRMGate) failure(reason string) trajectory.Decision {
	if g.failOpen {
		return allow(reason + " (gate fails open)")
	}
	return decide(trajectory.Block, reason+" (gate fails closed)")
}

// PartialWithPending returns a copy of the event's run, marked running,
// with the pending call appended to its current step (or a new step), so
// a judge sees what the agent is about to do.
func PartialWithPending(ev *Event) *trajectory.Trajectory {
	var t *trajectory.Trajectory
	if ev.Trajectory != nil {
		t = ev.Trajectory.Clone()
	} else {
		t = &trajectory.Trajectory{SchemaVersion: trajectory.SchemaVersion}
	}
	t.Status = trajectory.StatusRunning
	if ev.Call == nil {
		return t
	}
	call := *ev.Call
	call.Observation = PendingObservation
	call.Error, call.Blocked, call.BlockedBy = "", false, ""
	for i := range t.Steps {
		if t.Steps[i].Index != ev.Step {
			continue
		}
		// The recorder may already hold the call (claimed, not run yet):
		// replace it rather than show it twice.
		for j, c := range t.Steps[i].Calls {
			same := c.ID != "" && c.ID == call.ID ||
				c.ID == "" && c.Tool == call.Tool && c.Input == call.Input && !ran(nil, &c) && !c.Blocked
			if same {
				t.Steps[i].Calls[j] = call
				return t
			}
		}
		t.Steps[i].Calls = append(t.Steps[i].Calls, call)
		return t
	}
	t.Steps = append(t.Steps, trajectory.Step{Index: ev.Step, Calls: []trajectory.ToolCall{call}})
	return t
}

// Describe summarizes the gate.
func (g *RRMGate) Describe() string {
	fail := "fails closed"
	if g.failOpen {
		fail = "fails open"
	}
	return fmt.Sprintf("rrm-gate: %s before %s when the score is below %.2f or the critique flags the step; %s", g.verdict, g.tools, g.threshold, fail)
}

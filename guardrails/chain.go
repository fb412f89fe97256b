package guardrails

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

// GuardSet is a guard made of other guards (a *Policy). A Chain flattens
// sets so that each inner guard's own decision is kept.
type GuardSet interface {
	Guards() []Guard
}

// EventFilter is implemented by guards that only care about some events; a
// Chain does not call them (and records no decision) for the others.
type EventFilter interface {
	Handles(kind trajectory.GuardEvent) bool
}

// Expensive is implemented by guards that cost time or money (the RRM gate
// asks a model). A Chain runs them after the others, and not at all when a
// cheaper guard already blocked.
type Expensive interface {
	Expensive() bool
}

// ObservationRewriter is implemented by guards that may change what the
// model sees of a tool result (fencing untrusted content). It is called on
// allowed tool results only; ok false leaves the text as it is.
type ObservationRewriter interface {
	RewriteObservation(ctx context.Context, ev *Event) (string, bool)
}

// Chain combines guards. Block wins, then Escalate, then Allow. A guard
// that panics or returns no valid verdict blocks (fail closed); an
// escalation is resolved by the approver, and without one it blocks.
type Chain struct {
	guards          []Guard
	approver        Approver
	approvalTimeout time.Duration
	timeoutSet      bool
	now             func() time.Time
	log             *slog.Logger
}

// ChainOption configures a Chain.
type ChainOption func(*Chain)

// WithApprover resolves Escalate decisions. Without one, a Chain uses the
// approver of the first guard set that has one (a policy's webhook), and
// otherwise an escalation blocks.
func WithApprover(a Approver) ChainOption { return func(c *Chain) { c.approver = a } }

// WithApprovalTimeout bounds how long a Chain waits for an approver (default
// 2 minutes); a timeout blocks.
func WithApprovalTimeout(d time.Duration) ChainOption {
	return func(c *Chain) {
		if d > 0 {
			c.approvalTimeout, c.timeoutSet = d, true
		}
	}
}

// WithLogger sets the logger for guard panics and approval failures.
func WithLogger(l *slog.Logger) ChainOption {
	return func(c *Chain) {
		if l != nil {
			c.log = l
		}
	}
}

// WithClock sets the clock that stamps decisions (default time.Now).
func WithClock(now func() time.Time) ChainOption {
	return func(c *Chain) {
		if now != nil {
			c.now = now
		}
	}
}

// DefaultApprovalTimeout is how long a Chain waits for an approval unless
// WithApprovalTimeout says otherwise.
const DefaultApprovalTimeout = 2 * time.Minute

// maxSetDepth bounds the flattening of nested guard sets (and breaks cycles).
const maxSetDepth = 8

// NewChain returns a chain over guards; guard sets among them are
// flattened, nil guards dropped.
func NewChain(guards []Guard, opts ...ChainOption) *Chain {
	c := &Chain{approvalTimeout: DefaultApprovalTimeout, now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(c)
	}
	var setApprover Approver
	var setTimeout time.Duration
	var flatten func(gs []Guard, depth int)
	flatten = func(gs []Guard, depth int) {
		for _, g := range gs {
			if g == nil {
				continue
			}
			set, ok := g.(GuardSet)
			if !ok || depth >= maxSetDepth {
				c.guards = append(c.guards, g)
				continue
			}
			if ap, ok := g.(interface{ Approver() Approver }); ok && setApprover == nil {
				if setApprover = ap.Approver(); setApprover != nil {
					if t, ok := g.(interface{ ApprovalTimeout() time.Duration }); ok {
						setTimeout = t.ApprovalTimeout()
					}
				}
			}
			flatten(set.Guards(), depth+1)
		}
	}
	flatten(guards, 0)
	if c.approver == nil && setApprover != nil {
		c.approver = setApprover
		if !c.timeoutSet && setTimeout > 0 {
			c.approvalTimeout = setTimeout
		}
	}
	return c
}

// Guards returns the flattened guards in the order they run.
func (c *Chain) Guards() []Guard { return append([]Guard(nil), c.guards...) }

// Outcome is the chain's answer for one event.
type Outcome struct {
	// Verdict is final, after approvals: an approved escalation is Allow,
	// a denied or timed-out one Block.
	Verdict trajectory.Verdict
	// Decisions holds every guard's own decision, escalations with their
	// Resolution and ResolvedBy.
	Decisions []trajectory.Decision
	// By and Reason name the guard (and its reason) that decided a Block.
	By, Reason string
	// Observation is, for a tool result, what the model should see: the
	// observation as rewritten (fenced) by guards, or the block message.
	// It is empty for other events.
	Observation string
}

// Message is the text shown to the agent for a block:
// "Blocked by guardrail <name>: <reason>". It is empty unless Verdict is
// Block.
func (o Outcome) Message() string {
	if o.Verdict != trajectory.Block {
		return ""
	}
	return BlockMessage(o.By, o.Reason)
}

// BlockMessage formats the observation an agent sees for a blocked call.
func BlockMessage(by, reason string) string {
	return fmt.Sprintf("Blocked by guardrail %s: %s", by, reason)
}

// Check runs every guard on ev and combines their decisions. It never
// panics because of a guard and never returns without a verdict.
func (c *Chain) Check(ctx context.Context, ev *Event) Outcome {
	if ev == nil {
		return Outcome{Verdict: trajectory.Block, By: "chain", Reason: "no event to check"}
	}
	out := Outcome{Verdict: trajectory.Allow, Decisions: c.collect(ctx, ev)}
	c.combine(ctx, ev, &out)
	if ev.Kind == trajectory.EventToolResult {
		switch out.Verdict {
		case trajectory.Allow:
			c.rewrite(ctx, ev, &out)
		case trajectory.Block:
			out.Observation = out.Message()
		}
	}
	return out
}

// collect runs the guards that handle the event: cheap ones in order, then
// expensive ones unless a cheap one blocked.
func (c *Chain) collect(ctx context.Context, ev *Event) []trajectory.Decision {
	ds := make([]trajectory.Decision, 0, len(c.guards))
	// The cheap guards take microseconds: one clock reading stamps them all.
	at := c.now()
	blocked := false
	var deferred []Guard
	for _, g := range c.guards {
		if !handles(g, ev.Kind) {
			continue
		}
		if e, ok := g.(Expensive); ok && e.Expensive() {
			deferred = append(deferred, g)
			continue
		}
		d := c.run(ctx, g, ev, at)
		blocked = blocked || d.Verdict == trajectory.Block
		ds = append(ds, d)
	}
	if !blocked {
		for _, g := range deferred {
			ds = append(ds, c.run(ctx, g, ev, time.Time{}))
		}
	}
	return ds
}

func handles(g Guard, kind trajectory.GuardEvent) (ok bool) {
	f, is := g.(EventFilter)
	if !is {
		return true
	}
	defer func() {
		if recover() != nil {
			ok = true // a broken filter must not hide the guard
		}
	}()
	return f.Handles(kind)
}

// run calls one guard, turning a panic, a cancelled context or a bad verdict
// into a Block, and fills the decision's bookkeeping fields (stamped at at,
// or when it ends if at is zero).
func (c *Chain) run(ctx context.Context, g Guard, ev *Event, at time.Time) (d trajectory.Decision) {
	name := guardName(g)
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("guardrails: guard panicked", "guard", name, "panic", r)
			d = trajectory.Decision{Verdict: trajectory.Block, Reason: fmt.Sprintf("guard failed: panic: %v", r)}
		}
		c.fill(&d, name, ev, at)
	}()
	if err := ctx.Err(); err != nil {
		return trajectory.Decision{Verdict: trajectory.Block, Reason: "not checked: " + err.Error()}
	}
	d = g.Check(ctx, ev)
	switch d.Verdict {
	case trajectory.Allow, trajectory.Block, trajectory.Escalate:
	default:
		d.Reason = fmt.Sprintf("guard returned an invalid verdict %q (%s)", d.Verdict, d.Reason)
		d.Verdict = trajectory.Block
	}
	return d
}

func guardName(g Guard) (name string) {
	defer func() {
		if recover() != nil {
			name = fmt.Sprintf("%T", g)
		}
	}()
	if name = g.Name(); name == "" {
		name = fmt.Sprintf("%T", g)
	}
	return name
}

func (c *Chain) fill(d *trajectory.Decision, name string, ev *Event, at time.Time) {
	if d.Guard == "" {
		d.Guard = name
	}
	if d.Event == "" {
		d.Event = ev.Kind
	}
	if d.Step == 0 {
		d.Step = ev.Step
	}
	if d.Tool == "" {
		d.Tool = toolName(ev)
	}
	if d.CallID == "" && ev.Call != nil {
		d.CallID = ev.Call.ID
	}
	if d.At.IsZero() {
		if at.IsZero() {
			at = c.now()
		}
		d.At = at
	}
}

// combine sets the final verdict: the first Block decides; otherwise
// escalations go to the approver.
func (c *Chain) combine(ctx context.Context, ev *Event, out *Outcome) {
	var esc []int
	for i, d := range out.Decisions {
		switch d.Verdict {
		case trajectory.Block:
			if out.Verdict != trajectory.Block {
				out.Verdict, out.By, out.Reason = trajectory.Block, d.Guard, d.Reason
			}
		case trajectory.Escalate:
			esc = append(esc, i)
		}
	}
	if out.Verdict == trajectory.Block || len(esc) == 0 {
		return
	}
	first := out.Decisions[esc[0]]
	resolution, by, note := c.approve(ctx, ev, out.Decisions, esc)
	for _, i := range esc {
		out.Decisions[i].Resolution, out.Decisions[i].ResolvedBy = resolution, by
	}
	if resolution == "approved" {
		out.Verdict = trajectory.Allow
		return
	}
	out.Verdict, out.By = trajectory.Block, first.Guard
	out.Reason = first.Reason + " (" + note + ")"
}

// approve asks the approver once for all escalations of an event.
func (c *Chain) approve(ctx context.Context, ev *Event, ds []trajectory.Decision, esc []int) (resolution, by, note string) {
	if c.approver == nil {
		return "denied", "no approver", "escalation needs approval but no approver is configured"
	}
	actx, cancel := context.WithTimeout(ctx, c.approvalTimeout)
	defer cancel()
	req := newRequest(ev, c.now())
	if dl, ok := actx.Deadline(); ok {
		req.Deadline = dl
	}
	for _, i := range esc {
		req.Escalations = append(req.Escalations, Escalation{Guard: ds[i].Guard, Reason: ds[i].Reason, Score: ds[i].Score})
	}
	res, err := safeApprove(actx, c.approver, req)
	switch {
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || actx.Err() != nil):
		c.log.Warn("guardrails: approval timed out", "request", req.ID, "tool", req.Tool, "err", err)
		return "timeout", approverName(c.approver, res), "approval timed out"
	case err != nil:
		c.log.Warn("guardrails: approval failed", "request", req.ID, "tool", req.Tool, "err", err)
		return "denied", approverName(c.approver, res), "approval failed: " + err.Error()
	case res.Approved:
		return "approved", approverName(c.approver, res), ""
	default:
		note = "denied by " + approverName(c.approver, res)
		if res.Reason != "" {
			note += ": " + res.Reason
		}
		return "denied", approverName(c.approver, res), note
	}
}

func safeApprove(ctx context.Context, a Approver, req Request) (res Resolution, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = Resolution{}, fmt.Errorf("approver panicked: %v", r)
		}
	}()
	return a.Approve(ctx, req)
}

func approverName(a Approver, res Resolution) string {
	if res.By != "" {
		return res.By
	}
	if n, ok := a.(interface{ Name() string }); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", a)
}

// rewrite lets observation rewriters change an allowed tool result, each
// seeing the previous one's output. A rewriter that panics blocks.
func (c *Chain) rewrite(ctx context.Context, ev *Event, out *Outcome) {
	text := ""
	if ev.Call != nil {
		text = ev.Call.Observation
	}
	for _, g := range c.guards {
		rw, ok := g.(ObservationRewriter)
		if !ok || !handles(g, ev.Kind) {
			continue
		}
		call := trajectory.ToolCall{}
		if ev.Call != nil {
			call = *ev.Call
		}
		call.Observation = text
		e := *ev
		e.Call = &call
		s, changed, err := safeRewrite(ctx, rw, &e)
		if err != nil {
			name := guardName(g)
			c.log.Error("guardrails: observation rewrite failed", "guard", name, "err", err)
			d := trajectory.Decision{Verdict: trajectory.Block, Reason: "observation rewrite failed: " + err.Error()}
			c.fill(&d, name, ev, time.Time{})
			out.Decisions = append(out.Decisions, d)
			out.Verdict, out.By, out.Reason = trajectory.Block, name, d.Reason
			out.Observation = out.Message()
			return
		}
		if changed {
			text = s
		}
	}
	out.Observation = text
}

func safeRewrite(ctx context.Context, rw ObservationRewriter, ev *Event) (s string, ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	s, ok = rw.RewriteObservation(ctx, ev)
	return s, ok, nil
}

func toolName(ev *Event) string {
	if ev.Tool.Name != "" {
		return ev.Tool.Name
	}
	if ev.Call != nil {
		return ev.Call.Tool
	}
	return ""
}

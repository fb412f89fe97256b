package guardrails

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// Chain runs a Policy's guards on each event and combines their
// decisions: Block wins, then Escalate, then Allow. A guard that panics or
// returns no valid verdict blocks (fail closed); an escalation is resolved
// by the policy's approver, and without one it blocks. Make one with
// NewChain and hand its Hooks to a recorder:
//
//	run.WithHooks(guardrails.NewChain(policy).Hooks())
type Chain struct {
	guards  []Guard
	gates   []Guard
	tags    tagIndex
	lookup  func(tool string) []string // tags.lookup, bound once
	schemas []*SchemaGuard             // guards that may read tool input as a JSON document
	// plans holds, for each event kind reagent defines, the guards and
	// gates that handle it with their names, read once by NewChain.
	plans           [len(planKinds)]plan
	mode            Mode
	approver        approval.Approver
	approvalTimeout time.Duration
	now             func() time.Time
	log             *slog.Logger
}

// ChainOption configures a Chain.
type ChainOption func(*Chain)

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

// NewChain returns a chain that enforces p. Nil guards are dropped.
func NewChain(p Policy, opts ...ChainOption) *Chain {
	c := &Chain{
		tags:            newTagIndex(p.ToolTags),
		mode:            p.Mode,
		approver:        p.Approver,
		approvalTimeout: p.ApprovalTimeout,
		now:             time.Now,
		log:             slog.Default(),
	}
	if c.tags != nil {
		c.lookup = c.tags.lookup
	}
	if c.mode == "" {
		c.mode = ModeBlock
	}
	if c.approvalTimeout <= 0 {
		c.approvalTimeout = DefaultApprovalTimeout
	}
	for _, o := range opts {
		o(c)
	}
	for _, g := range p.Guards {
		if g != nil {
			c.guards = append(c.guards, g)
			if sg, ok := g.(*SchemaGuard); ok {
				c.schemas = append(c.schemas, sg)
			}
		}
	}
	for _, g := range p.Gates {
		if g != nil {
			c.gates = append(c.gates, g)
		}
	}
	for i, kind := range planKinds {
		c.plans[i] = c.planFor(kind)
	}
	return c
}

// planKinds are the event kinds a chain plans for when it is made.
var planKinds = [...]trajectory.GuardEvent{trajectory.EventToolCall, trajectory.EventToolResult, trajectory.EventFinalAnswer}

// plan is the guards and gates that handle one kind of event, in order.
type plan struct {
	guards, gates []planned
}

type planned struct {
	g    Guard
	name string
}

func (c *Chain) planFor(kind trajectory.GuardEvent) plan {
	var p plan
	for _, g := range c.guards {
		if handles(g, kind) {
			p.guards = append(p.guards, planned{g, guardName(g)})
		}
	}
	for _, g := range c.gates {
		if handles(g, kind) {
			p.gates = append(p.gates, planned{g, guardName(g)})
		}
	}
	return p
}

// planOf returns the plan for kind: made by NewChain for the kinds reagent
// defines, made now for any other.
func (c *Chain) planOf(kind trajectory.GuardEvent) plan {
	for i, k := range planKinds {
		if k == kind {
			return c.plans[i]
		}
	}
	return c.planFor(kind)
}

// Guards returns the chain's guards and then its gates, in the order they
// run.
func (c *Chain) Guards() []Guard { return append(append([]Guard(nil), c.guards...), c.gates...) }

// Mode returns the chain's mode: block or abort.
func (c *Chain) Mode() Mode { return c.mode }

// Tags returns the tags the policy gives a tool (case-insensitive name).
func (c *Chain) Tags(tool string) []string { return c.tags.lookup(tool) }

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

// Refusal returns the refusal a block amounts to (nil unless Verdict is
// Block), aborting the run when the chain is in abort mode.
func (c *Chain) refusal(o Outcome) *run.Refusal {
	if o.Verdict != trajectory.Block {
		return nil
	}
	return &run.Refusal{By: o.By, Reason: o.Reason, Abort: c.mode == ModeAbort}
}

// Message is the text shown to the agent for a block:
// "Blocked by guardrail <name>: <reason>". It is empty unless Verdict is
// Block.
func (o Outcome) Message() string {
	if o.Verdict != trajectory.Block {
		return ""
	}
	return (&run.Refusal{By: o.By, Reason: o.Reason}).Message()
}

// Check runs every guard on ev and combines their decisions. It never
// panics because of a guard and never returns without a verdict.
func (c *Chain) Check(ctx context.Context, ev *Event) Outcome {
	if ev == nil {
		return Outcome{Verdict: trajectory.Block, By: "chain", Reason: "no event to check"}
	}
	if ev.tags == nil {
		ev.tags = c.lookup
	}
	if ev.Kind == trajectory.EventToolCall && !ev.wantDoc {
		// One JSON reading gives the document and the values, when a
		// schema guard will validate the document.
		for _, sg := range c.schemas {
			ev.wantDoc = ev.wantDoc || sg.wantsDocument(ev)
		}
	}
	// The event's tools and tags stay put during the check: the guards
	// share tag answers.
	ev.memoOn, ev.nTagMemo = true, 0
	defer func() { ev.memoOn, ev.nTagMemo = false, 0 }()
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
	p := c.planOf(ev.Kind)
	ds := make([]trajectory.Decision, 0, len(p.guards)+len(p.gates))
	// The cheap guards take microseconds: one clock reading stamps them all.
	at := c.now()
	blocked := false
	for _, e := range p.guards {
		d := c.run(ctx, e.g, e.name, ev, at)
		blocked = blocked || d.Verdict == trajectory.Block
		ds = append(ds, d)
	}
	if !blocked {
		for _, e := range p.gates {
			ds = append(ds, c.run(ctx, e.g, e.name, ev, time.Time{}))
		}
	}
	return ds
}

func handles(g Guard, kind trajectory.GuardEvent) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = true // a broken filter must not hide the guard
		}
	}()
	return g.Handles(kind)
}

// run calls one guard, turning a panic, a cancelled context or a bad verdict
// into a Block, and fills the decision's bookkeeping fields (stamped at at,
// or when it ends if at is zero).
func (c *Chain) run(ctx context.Context, g Guard, name string, ev *Event, at time.Time) (d trajectory.Decision) {
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
		req.Escalations = append(req.Escalations, approval.Escalation{Guard: ds[i].Guard, Reason: ds[i].Reason, Score: ds[i].Score})
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

func safeApprove(ctx context.Context, a approval.Approver, req approval.Request) (res approval.Resolution, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = approval.Resolution{}, fmt.Errorf("approver panicked: %v", r)
		}
	}()
	return a.Approve(ctx, req)
}

func approverName(a approval.Approver, res approval.Resolution) (name string) {
	if res.By != "" {
		return res.By
	}
	defer func() {
		if recover() != nil {
			name = fmt.Sprintf("%T", a)
		}
	}()
	return a.Name()
}

func newRequest(ev *Event, now time.Time) approval.Request {
	r := approval.Request{
		ID:          approval.NewRequestID(),
		Event:       ev.Kind,
		Tool:        toolName(ev),
		Answer:      ev.Answer,
		Step:        ev.Step,
		RequestedAt: now.UTC(),
	}
	if ev.Call != nil {
		r.CallID, r.Input, r.Observation = ev.Call.ID, ev.Call.Input, ev.Call.Observation
	}
	if ev.Trajectory != nil {
		r.RunID, r.Task = ev.Trajectory.ID, ev.Trajectory.Task
	}
	return r
}

// rewrite sets what the model sees of an allowed tool result: the last
// observation a guard proposed with ev.Rewrite, or the observation itself.
func (c *Chain) rewrite(_ context.Context, ev *Event, out *Outcome) {
	switch {
	case ev.rewrote:
		out.Observation = ev.rewritten
	case ev.Call != nil:
		out.Observation = ev.Call.Observation
	}
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

// Hooks returns the hooks that enforce the chain in every run of a
// recorder: BeforeTool checks each tool call (a block keeps the tool from
// running), AfterTool checks each result (a block withholds it; an allowed
// one may be rewritten, as fencing does), BeforeAnswer checks the final
// answer. Every guard's own decision is kept in the run. A block is shown
// to the agent as "Blocked by guardrail <name>: <reason>", or aborts the
// run in abort mode.
func (c *Chain) Hooks() run.Hooks {
	return run.Hooks{
		OnStart: func(ctx context.Context, r *run.Run) context.Context {
			if c.lookup != nil {
				r.AddToolTags(c.lookup)
			}
			return ctx
		},
		BeforeTool: func(ctx context.Context, r *run.Run, tc *run.ToolCall) (context.Context, error) {
			ev := &Event{Kind: trajectory.EventToolCall, Tool: tc.Spec, Call: &tc.Record, Step: tc.Step, Trajectory: r.View()}
			out := c.Check(ctx, ev)
			r.AddDecisions(ctx, out.Decisions...)
			if ref := c.refusal(out); ref != nil {
				return ctx, ref
			}
			return ctx, nil
		},
		AfterTool: func(ctx context.Context, r *run.Run, tc *run.ToolCall) error {
			if tc.Record.Blocked {
				return nil // refused before it ran
			}
			ev := &Event{Kind: trajectory.EventToolResult, Tool: tc.Spec, Call: &tc.Record, Step: tc.Step, Trajectory: r.View()}
			out := c.Check(ctx, ev)
			r.AddDecisions(ctx, out.Decisions...)
			if ref := c.refusal(out); ref != nil {
				return ref
			}
			if out.Observation != "" {
				tc.Record.Observation = out.Observation
			}
			return nil
		},
		BeforeAnswer: func(ctx context.Context, r *run.Run, ans *run.Answer) error {
			ev := &Event{Kind: trajectory.EventFinalAnswer, Answer: ans.Text, Step: ans.Step, Trajectory: r.View()}
			out := c.Check(ctx, ev)
			r.AddDecisions(ctx, out.Decisions...)
			if ref := c.refusal(out); ref != nil {
				return ref
			}
			return nil
		},
	}
}

// describe returns g.Describe(), or its name when Describe panics or says
// nothing.
func describe(g Guard) (s string) {
	defer func() {
		if recover() != nil {
			s = guardName(g)
		}
	}()
	if s = g.Describe(); s == "" {
		s = guardName(g)
	}
	return s
}

package guardrails

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/trajectory"
)

// fixed is a guard with a set verdict; calls counts its checks.
type fixed struct {
	name    string
	verdict trajectory.Verdict
	reason  string
	calls   int
}

func (f *fixed) Name() string { return f.name }
func (f *fixed) Check(context.Context, *Event) trajectory.Decision {
	f.calls++
	return trajectory.Decision{Verdict: f.verdict, Reason: f.reason}
}

type panicky struct{}

func (panicky) Name() string { return "panicky" }
func (panicky) Check(context.Context, *Event) trajectory.Decision {
	var m map[string]int
	m["boom"]++ // a nil-map write: a real runtime panic
	return trajectory.Decision{Verdict: trajectory.Allow}
}

type costly struct{ fixed }

func (c *costly) Expensive() bool { return true }

type set struct {
	guards   []Guard
	approver Approver
}

func (s set) Name() string                                      { return "set" }
func (s set) Check(context.Context, *Event) trajectory.Decision { return allow("") }
func (s set) Guards() []Guard                                   { return s.guards }
func (s set) Approver() Approver                                { return s.approver }

func TestChainPrecedenceAndDecisions(t *testing.T) {
	a := &fixed{name: "a", verdict: trajectory.Allow, reason: "fine"}
	e := &fixed{name: "e", verdict: trajectory.Escalate, reason: "ask"}
	b := &fixed{name: "b", verdict: trajectory.Block, reason: "no"}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewChain([]Guard{a, e, b}, WithClock(func() time.Time { return at }))
	ev := callEvent("shell", "ls")
	ev.Step = 3
	out := c.Check(context.Background(), ev)
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Equal(t, "b", out.By)
	assert.Equal(t, "no", out.Reason)
	assert.Equal(t, "Blocked by guardrail b: no", out.Message())
	require.Len(t, out.Decisions, 3)
	for i, name := range []string{"a", "e", "b"} {
		d := out.Decisions[i]
		assert.Equal(t, name, d.Guard)
		assert.Equal(t, trajectory.EventToolCall, d.Event)
		assert.Equal(t, 3, d.Step)
		assert.Equal(t, "shell", d.Tool)
		assert.Equal(t, "pending", d.CallID)
		assert.Equal(t, at, d.At)
	}
	assert.Empty(t, out.Decisions[1].Resolution, "a blocked event asks no approver")
	assert.Empty(t, out.Observation, "tool calls carry no observation")

	out = NewChain([]Guard{a, e}).Check(context.Background(), ev)
	assert.Equal(t, trajectory.Block, out.Verdict, "escalation without approver fails closed")
	assert.Equal(t, "e", out.By)
	assert.Contains(t, out.Reason, "no approver")
	assert.Equal(t, "denied", out.Decisions[1].Resolution)

	out = NewChain([]Guard{a}).Check(context.Background(), ev)
	assert.Equal(t, trajectory.Allow, out.Verdict)
	assert.Empty(t, out.Message())
}

func TestChainFailsClosed(t *testing.T) {
	ctx := context.Background()
	ev := callEvent("search", "q")
	out := NewChain([]Guard{&fixed{name: "ok", verdict: trajectory.Allow}, panicky{}}).Check(ctx, ev)
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Equal(t, "panicky", out.By)
	assert.Contains(t, out.Reason, "panic")
	assert.Len(t, out.Decisions, 2, "the panicking guard's decision is kept")

	out = NewChain([]Guard{&fixed{name: "weird", verdict: "maybe"}}).Check(ctx, ev)
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "invalid verdict")

	out = NewChain([]Guard{&fixed{name: "empty"}}).Check(ctx, ev)
	assert.Equal(t, trajectory.Block, out.Verdict)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	out = NewChain([]Guard{&fixed{name: "ok", verdict: trajectory.Allow}}).Check(cctx, ev)
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "canceled")

	out = NewChain(nil).Check(ctx, nil)
	assert.Equal(t, trajectory.Block, out.Verdict)
}

func TestChainFlattensSetsAndUsesTheirApprover(t *testing.T) {
	inner1 := &fixed{name: "inner1", verdict: trajectory.Allow}
	inner2 := &fixed{name: "inner2", verdict: trajectory.Escalate, reason: "needs a human"}
	approved := 0
	ap := ApproverFunc(func(_ context.Context, req Request) (Resolution, error) {
		approved++
		assert.Equal(t, "shell", req.Tool)
		require.Len(t, req.Escalations, 1)
		assert.Equal(t, "inner2", req.Escalations[0].Guard)
		return Resolution{Approved: true, By: "alice"}, nil
	})
	c := NewChain([]Guard{set{guards: []Guard{inner1, set{guards: []Guard{inner2}}}, approver: ap}, nil})
	require.Len(t, c.Guards(), 2)
	out := c.Check(context.Background(), callEvent("shell", "ls"))
	assert.Equal(t, trajectory.Allow, out.Verdict)
	assert.Equal(t, 1, approved)
	require.Len(t, out.Decisions, 2)
	assert.Equal(t, trajectory.Escalate, out.Decisions[1].Verdict, "the guard's own verdict is kept")
	assert.Equal(t, "approved", out.Decisions[1].Resolution)
	assert.Equal(t, "alice", out.Decisions[1].ResolvedBy)

	// An explicit approver wins over the set's.
	deny := ApproverFunc(func(context.Context, Request) (Resolution, error) {
		return Resolution{Approved: false, By: "bob", Reason: "not today"}, nil
	})
	out = NewChain([]Guard{set{guards: []Guard{inner2}, approver: ap}}, WithApprover(deny)).Check(context.Background(), callEvent("shell", "ls"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "denied by bob: not today")
	assert.Equal(t, "bob", out.Decisions[0].ResolvedBy)
}

func TestChainApprovalTimeoutAndErrors(t *testing.T) {
	esc := &fixed{name: "esc", verdict: trajectory.Escalate, reason: "check"}
	slow := ApproverFunc(func(ctx context.Context, _ Request) (Resolution, error) {
		<-ctx.Done()
		return Resolution{}, ctx.Err()
	})
	out := NewChain([]Guard{esc}, WithApprover(slow), WithApprovalTimeout(20*time.Millisecond)).Check(context.Background(), callEvent("pay", "{}"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Equal(t, "timeout", out.Decisions[0].Resolution)
	assert.Contains(t, out.Reason, "timed out")

	failing := ApproverFunc(func(context.Context, Request) (Resolution, error) { return Resolution{}, errors.New("webhook down") })
	out = NewChain([]Guard{esc}, WithApprover(failing)).Check(context.Background(), callEvent("pay", "{}"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Equal(t, "denied", out.Decisions[0].Resolution)
	assert.Contains(t, out.Reason, "webhook down")

	panicking := ApproverFunc(func(context.Context, Request) (Resolution, error) { panic("approver bug") })
	out = NewChain([]Guard{esc}, WithApprover(panicking)).Check(context.Background(), callEvent("pay", "{}"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "approver bug")
}

func TestChainRunsExpensiveGuardsLastAndOnlyIfNeeded(t *testing.T) {
	exp := &costly{fixed{name: "gate", verdict: trajectory.Allow}}
	cheapBlock := &fixed{name: "deny", verdict: trajectory.Block, reason: "denied"}
	out := NewChain([]Guard{exp, cheapBlock}).Check(context.Background(), callEvent("x", ""))
	assert.Equal(t, 0, exp.calls, "no judge call once a cheap guard blocked")
	assert.Len(t, out.Decisions, 1)

	cheapAllow := &fixed{name: "ok", verdict: trajectory.Allow}
	out = NewChain([]Guard{exp, cheapAllow}).Check(context.Background(), callEvent("x", ""))
	assert.Equal(t, 1, exp.calls)
	require.Len(t, out.Decisions, 2)
	assert.Equal(t, "ok", out.Decisions[0].Guard)
	assert.Equal(t, "gate", out.Decisions[1].Guard)
}

type rewriter struct {
	fixed
	prefix string
	panics bool
}

func (r *rewriter) RewriteObservation(_ context.Context, ev *Event) (string, bool) {
	if r.panics {
		panic("rewrite bug")
	}
	return r.prefix + ev.Call.Observation, true
}

func TestChainRewritesObservations(t *testing.T) {
	r1 := &rewriter{fixed: fixed{name: "r1", verdict: trajectory.Allow}, prefix: "[1]"}
	r2 := &rewriter{fixed: fixed{name: "r2", verdict: trajectory.Allow}, prefix: "[2]"}
	ev := resultEvent("browser", "http://x", "page")
	out := NewChain([]Guard{r1, r2}).Check(context.Background(), ev)
	assert.Equal(t, trajectory.Allow, out.Verdict)
	assert.Equal(t, "[2][1]page", out.Observation)
	assert.Equal(t, "page", ev.Call.Observation, "the caller's event is not modified")

	out = NewChain([]Guard{&fixed{name: "plain", verdict: trajectory.Allow}}).Check(context.Background(), ev)
	assert.Equal(t, "page", out.Observation, "unchanged results come back as they are")

	bad := &rewriter{fixed: fixed{name: "bad", verdict: trajectory.Allow}, panics: true}
	out = NewChain([]Guard{bad}).Check(context.Background(), ev)
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.True(t, strings.HasPrefix(out.Observation, "Blocked by guardrail bad:"))

	block := &fixed{name: "inj", verdict: trajectory.Block, reason: "injection"}
	out = NewChain([]Guard{r1, block}).Check(context.Background(), ev)
	assert.Equal(t, "Blocked by guardrail inj: injection", out.Observation)
}

func TestEventFilterSkipsGuards(t *testing.T) {
	c := NewChain([]Guard{&ToolFilter{Deny: Tools("shell")}, &InjectionGuard{}})
	out := c.Check(context.Background(), callEvent("shell", "ls"))
	require.Len(t, out.Decisions, 1)
	assert.Equal(t, "tools", out.Decisions[0].Guard)
	out = c.Check(context.Background(), resultEvent("shell", "ls", "file.txt"))
	require.Len(t, out.Decisions, 1)
	assert.Equal(t, "prompt-injection", out.Decisions[0].Guard)
	fa := &Event{Kind: trajectory.EventFinalAnswer, Answer: "42", Trajectory: run()}
	out = c.Check(context.Background(), fa)
	assert.Empty(t, out.Decisions)
	assert.Equal(t, trajectory.Allow, out.Verdict)
}

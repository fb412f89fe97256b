package guardrails

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/trajectory"
)

// fixed is a guard with a set verdict; calls counts its checks.
type fixed struct {
	name    string
	verdict trajectory.Verdict
	reason  string
	calls   int
}

func (f *fixed) Name() string                       { return f.name }
func (f *fixed) Handles(trajectory.GuardEvent) bool { return true }
func (f *fixed) Describe() string                   { return "fixed " + string(f.verdict) }
func (f *fixed) Check(context.Context, *Event) trajectory.Decision {
	f.calls++
	return trajectory.Decision{Verdict: f.verdict, Reason: f.reason}
}

type panicky struct{}

func (panicky) Name() string                       { return "panicky" }
func (panicky) Handles(trajectory.GuardEvent) bool { return true }
func (panicky) Describe() string                   { return "panics" }
func (panicky) Check(context.Context, *Event) trajectory.Decision {
	var m map[string]int
	m["boom"]++ // a nil-map write: a real runtime panic
	return trajectory.Decision{Verdict: trajectory.Allow}
}

func TestChainPrecedenceAndDecisions(t *testing.T) {
	a := &fixed{name: "a", verdict: trajectory.Allow, reason: "fine"}
	e := &fixed{name: "e", verdict: trajectory.Escalate, reason: "ask"}
	b := &fixed{name: "b", verdict: trajectory.Block, reason: "no"}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewChain(Policy{Guards: []Guard{a, e, b}}, WithClock(func() time.Time { return at }))
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

	out = NewChain(Policy{Guards: []Guard{a, e}}).Check(context.Background(), ev)
	assert.Equal(t, trajectory.Block, out.Verdict, "escalation without approver fails closed")
	assert.Equal(t, "e", out.By)
	assert.Contains(t, out.Reason, "no approver")
	assert.Equal(t, "denied", out.Decisions[1].Resolution)

	out = NewChain(Policy{Guards: []Guard{a}}).Check(context.Background(), ev)
	assert.Equal(t, trajectory.Allow, out.Verdict)
	assert.Empty(t, out.Message())
}

func TestChainFailsClosed(t *testing.T) {
	ctx := context.Background()
	ev := callEvent("search", "q")
	out := NewChain(Policy{Guards: []Guard{&fixed{name: "ok", verdict: trajectory.Allow}, panicky{}}}).Check(ctx, ev)
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Equal(t, "panicky", out.By)
	assert.Contains(t, out.Reason, "panic")
	assert.Len(t, out.Decisions, 2, "the panicking guard's decision is kept")

	out = NewChain(Policy{Guards: []Guard{&fixed{name: "weird", verdict: "maybe"}}}).Check(ctx, ev)
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "invalid verdict")

	out = NewChain(Policy{Guards: []Guard{&fixed{name: "empty"}}}).Check(ctx, ev)
	assert.Equal(t, trajectory.Block, out.Verdict)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	out = NewChain(Policy{Guards: []Guard{&fixed{name: "ok", verdict: trajectory.Allow}}}).Check(cctx, ev)
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "canceled")

	out = NewChain(Policy{}).Check(ctx, nil)
	assert.Equal(t, trajectory.Block, out.Verdict)
}

func TestChainUsesThePolicysApprover(t *testing.T) {
	inner1 := &fixed{name: "inner1", verdict: trajectory.Allow}
	inner2 := &fixed{name: "inner2", verdict: trajectory.Escalate, reason: "needs a human"}
	approved := 0
	ap := approval.Func{Label: "alice's bot", Fn: func(_ context.Context, req approval.Request) (approval.Resolution, error) {
		approved++
		assert.Equal(t, "shell", req.Tool)
		require.Len(t, req.Escalations, 1)
		assert.Equal(t, "inner2", req.Escalations[0].Guard)
		return approval.Resolution{Approved: true, By: "alice"}, nil
	}}
	c := NewChain(Policy{Guards: []Guard{inner1, nil, inner2}, Approver: ap})
	require.Len(t, c.Guards(), 2, "nil guards are dropped")
	out := c.Check(context.Background(), callEvent("shell", "ls"))
	assert.Equal(t, trajectory.Allow, out.Verdict)
	assert.Equal(t, 1, approved)
	require.Len(t, out.Decisions, 2)
	assert.Equal(t, trajectory.Escalate, out.Decisions[1].Verdict, "the guard's own verdict is kept")
	assert.Equal(t, "approved", out.Decisions[1].Resolution)
	assert.Equal(t, "alice", out.Decisions[1].ResolvedBy)

	deny := approval.Func{Fn: func(context.Context, approval.Request) (approval.Resolution, error) {
		return approval.Resolution{Approved: false, By: "bob", Reason: "not today"}, nil
	}}
	out = NewChain(Policy{Guards: []Guard{inner2}, Approver: deny}).Check(context.Background(), callEvent("shell", "ls"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "denied by bob: not today")
	assert.Equal(t, "bob", out.Decisions[0].ResolvedBy)

	// Without a By in the resolution, the approver's name resolves.
	anon := approval.Func{Label: "ops-queue", Fn: func(context.Context, approval.Request) (approval.Resolution, error) {
		return approval.Resolution{Approved: true}, nil
	}}
	out = NewChain(Policy{Guards: []Guard{inner2}, Approver: anon}).Check(context.Background(), callEvent("shell", "ls"))
	assert.Equal(t, "ops-queue", out.Decisions[0].ResolvedBy)
}

// wrapped is a user guard that wraps another: it embeds the Guard and
// changes nothing but the name.
type wrapped struct {
	Guard
}

func (w wrapped) Name() string { return "wrapped-" + w.Guard.Name() }

// TestWrappedGuardLosesNothing checks that a guard wrapping another keeps
// its event filter, its description, its policy tags and its rewrites:
// everything a guard does goes through the Guard interface and the Event.
func TestWrappedGuardLosesNothing(t *testing.T) {
	inner := &InjectionGuard{Mode: InjectionFence, FenceAll: true, Tools: Tagged("egress")}
	p := Policy{Guards: []Guard{wrapped{inner}}, ToolTags: map[string][]string{"Browser": {"egress"}}}
	c := NewChain(p)
	out := c.Check(context.Background(), callEvent("browser", "https://example.com"))
	assert.Empty(t, out.Decisions, "the inner guard's filter still applies: results only")
	out = c.Check(context.Background(), resultEvent("browser", "https://example.com", "a page"))
	require.Len(t, out.Decisions, 1)
	assert.Equal(t, "wrapped-prompt-injection", out.Decisions[0].Guard)
	assert.True(t, strings.HasPrefix(out.Observation, "<<<UNTRUSTED CONTENT"), "the policy's tag reached the inner guard, and its rewrite the chain")
	out = c.Check(context.Background(), resultEvent("calculator", "2+2", "4"))
	assert.Equal(t, "4", out.Observation, "untagged tools are not fenced")
	assert.Contains(t, p.Summary(), "prompt-injection: fence")
}

// TestPolicyTagsReachBuiltInGuards checks the policy's tags by tool name
// (case-insensitive), and the mode.
func TestPolicyTagsReachBuiltInGuards(t *testing.T) {
	c := NewChain(Policy{Guards: []Guard{&ToolFilter{Deny: Tagged("risky")}}, ToolTags: map[string][]string{"Deploy": {"risky"}}, Mode: ModeAbort})
	assert.Equal(t, ModeAbort, c.Mode())
	assert.Equal(t, []string{"risky"}, c.Tags("DEPLOY"))
	out := c.Check(context.Background(), callEvent("deploy", ""))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "tag risky")
	assert.Equal(t, trajectory.Allow, c.Check(context.Background(), callEvent("build", "")).Verdict)
	assert.Equal(t, ModeBlock, NewChain(Policy{}).Mode(), "block is the default mode")
}

func TestPolicySummary(t *testing.T) {
	w, err := approval.NewWebhookApprover("https://hooks.example/approve", []byte("k"))
	require.NoError(t, err)
	p := Policy{
		Source:   "p.yaml",
		Guards:   []Guard{&ToolFilter{Deny: Tools("shell")}, &Budget{MaxCalls: 3}},
		Gates:    []Guard{NewRRMGate(nil)},
		ToolTags: map[string][]string{"vault": {"secret"}, "browser": {"egress", "read-only"}},
		Approver: w,
		Warnings: []string{"line 3: something odd"},
	}
	s := p.Summary()
	for _, want := range []string{"policy p.yaml: ok", "mode: block", "guards (3):", "  - tools: deny tools shell", "  - budget: 3 calls per run", "  - rrm-gate:", "tagged tools (2):", "egress, read-only", "approval: webhook https://hooks.example/approve", "warning: line 3: something odd"} {
		assert.Contains(t, s, want)
	}
	assert.Less(t, strings.Index(s, "browser"), strings.Index(s, "vault"), "tools in name order")
	assert.Contains(t, Policy{Guards: []Guard{GuardFunc{GuardName: "mine"}}}.Summary(), "approval: none (escalations block)")
}

func TestChainApprovalTimeoutAndErrors(t *testing.T) {
	esc := &fixed{name: "esc", verdict: trajectory.Escalate, reason: "check"}
	slow := approval.Func{Fn: func(ctx context.Context, _ approval.Request) (approval.Resolution, error) {
		<-ctx.Done()
		return approval.Resolution{}, ctx.Err()
	}}
	out := NewChain(Policy{Guards: []Guard{esc}, Approver: slow, ApprovalTimeout: 20 * time.Millisecond}).Check(context.Background(), callEvent("pay", "{}"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Equal(t, "timeout", out.Decisions[0].Resolution)
	assert.Contains(t, out.Reason, "timed out")

	failing := approval.Func{Fn: func(context.Context, approval.Request) (approval.Resolution, error) {
		return approval.Resolution{}, errors.New("webhook down")
	}}
	out = NewChain(Policy{Guards: []Guard{esc}, Approver: failing}).Check(context.Background(), callEvent("pay", "{}"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Equal(t, "denied", out.Decisions[0].Resolution)
	assert.Contains(t, out.Reason, "webhook down")

	panicking := approval.Func{Fn: func(context.Context, approval.Request) (approval.Resolution, error) { panic("approver bug") }}
	out = NewChain(Policy{Guards: []Guard{esc}, Approver: panicking}).Check(context.Background(), callEvent("pay", "{}"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "approver bug")
}

func TestChainRunsGatesLastAndOnlyIfNeeded(t *testing.T) {
	exp := &fixed{name: "gate", verdict: trajectory.Allow}
	cheapBlock := &fixed{name: "deny", verdict: trajectory.Block, reason: "denied"}
	out := NewChain(Policy{Gates: []Guard{exp}, Guards: []Guard{cheapBlock}}).Check(context.Background(), callEvent("x", ""))
	assert.Equal(t, 0, exp.calls, "no judge call once a cheap guard blocked")
	assert.Len(t, out.Decisions, 1)

	cheapAllow := &fixed{name: "ok", verdict: trajectory.Allow}
	out = NewChain(Policy{Gates: []Guard{exp}, Guards: []Guard{cheapAllow}}).Check(context.Background(), callEvent("x", ""))
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

// Check proposes the observation with a prefix (and allows).
func (r *rewriter) Check(ctx context.Context, ev *Event) trajectory.Decision {
	if r.panics {
		panic("rewrite bug")
	}
	ev.Rewrite(r.prefix + ev.Call.Observation)
	return r.fixed.Check(ctx, ev)
}

func TestChainRewritesObservations(t *testing.T) {
	r1 := &rewriter{fixed: fixed{name: "r1", verdict: trajectory.Allow}, prefix: "[1]"}
	r2 := &rewriter{fixed: fixed{name: "r2", verdict: trajectory.Allow}, prefix: "[2]"}
	ev := resultEvent("browser", "http://x", "page")
	call := ev.Call
	out := NewChain(Policy{Guards: []Guard{r1, r2}}).Check(context.Background(), ev)
	assert.Equal(t, trajectory.Allow, out.Verdict)
	assert.Equal(t, "[2][1]page", out.Observation, "each guard sees the last proposal")
	assert.Equal(t, "page", call.Observation, "the caller's tool call is not modified")

	out = NewChain(Policy{Guards: []Guard{&fixed{name: "plain", verdict: trajectory.Allow}}}).Check(context.Background(), resultEvent("browser", "http://x", "page"))
	assert.Equal(t, "page", out.Observation, "unchanged results come back as they are")

	bad := &rewriter{fixed: fixed{name: "bad", verdict: trajectory.Allow}, panics: true}
	out = NewChain(Policy{Guards: []Guard{bad}}).Check(context.Background(), resultEvent("browser", "http://x", "page"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.True(t, strings.HasPrefix(out.Observation, "Blocked by guardrail bad:"))

	block := &fixed{name: "inj", verdict: trajectory.Block, reason: "injection"}
	out = NewChain(Policy{Guards: []Guard{r1, block}}).Check(context.Background(), resultEvent("browser", "http://x", "page"))
	assert.Equal(t, "Blocked by guardrail inj: injection", out.Observation, "a blocked result is withheld, rewritten or not")
}

func TestEventFilterSkipsGuards(t *testing.T) {
	c := NewChain(Policy{Guards: []Guard{&ToolFilter{Deny: Tools("shell")}, &InjectionGuard{}}})
	out := c.Check(context.Background(), callEvent("shell", "ls"))
	require.Len(t, out.Decisions, 1)
	assert.Equal(t, "tools", out.Decisions[0].Guard)
	out = c.Check(context.Background(), resultEvent("shell", "ls", "file.txt"))
	require.Len(t, out.Decisions, 1)
	assert.Equal(t, "prompt-injection", out.Decisions[0].Guard)
	fa := &Event{Kind: trajectory.EventFinalAnswer, Answer: "42", Trajectory: history()}
	out = c.Check(context.Background(), fa)
	assert.Empty(t, out.Decisions)
	assert.Equal(t, trajectory.Allow, out.Verdict)
}

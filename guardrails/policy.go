package guardrails

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

// Mode says what a blocked tool call does to the run.
type Mode string

// Modes. In block mode the agent sees "Blocked by guardrail …" as the
// observation and goes on; in abort mode the run stops with an error.
const (
	ModeBlock Mode = "block"
	ModeAbort Mode = "abort"
)

// Policy is a set of guards with the tool tags, approver and mode that go
// with them, usually loaded from a policy file. It is a Guard (combining
// its guards) and a GuardSet (a Chain flattens it, keeping each guard's
// decision).
type Policy struct {
	source          string
	guards          []Guard
	tags            map[string][]string // canonical tool name → tags
	display         map[string]string   // canonical tool name → name as written
	approver        Approver
	approvalTimeout time.Duration
	mode            Mode
	warnings        []string
	inner           *Chain
}

// PolicyOption configures NewPolicy.
type PolicyOption func(*Policy)

// WithToolTags tags tools by name (in addition to the tags tools give
// themselves).
func WithToolTags(tags map[string][]string) PolicyOption {
	return func(p *Policy) {
		for name, ts := range tags {
			p.addTags(name, ts...)
		}
	}
}

// WithPolicyApprover sets the approver that resolves the policy's
// escalations, and how long to wait for it (0: the Chain's default).
func WithPolicyApprover(a Approver, timeout time.Duration) PolicyOption {
	return func(p *Policy) { p.approver, p.approvalTimeout = a, timeout }
}

// WithMode sets block or abort mode (default block).
func WithMode(m Mode) PolicyOption { return func(p *Policy) { p.mode = m } }

// NewPolicy builds a policy from guards made in Go. Built-in guards in it
// see the policy's tool tags.
func NewPolicy(guards []Guard, opts ...PolicyOption) *Policy {
	p := &Policy{source: "policy", tags: map[string][]string{}, display: map[string]string{}, mode: ModeBlock}
	for _, o := range opts {
		o(p)
	}
	for _, g := range guards {
		p.add(g)
	}
	p.seal()
	return p
}

func (p *Policy) addTags(name string, tags ...string) {
	key := canonName(name)
	if _, ok := p.display[key]; !ok {
		p.display[key] = name
	}
	for _, t := range tags {
		if !containsString(p.tags[key], t) {
			p.tags[key] = append(p.tags[key], t)
		}
	}
}

// add appends a guard, giving built-in guards the policy's tags.
func (p *Policy) add(g Guard) {
	if g == nil {
		return
	}
	switch x := g.(type) {
	case *ToolFilter:
		x.tags = p.ToolTags
	case *ArgGuard:
		x.tags = p.ToolTags
	case *NetworkGuard:
		x.tags = p.ToolTags
	case *InjectionGuard:
		x.tags = p.ToolTags
	case *SequenceGuard:
		x.tags = p.ToolTags
	case *RRMGate:
		x.tags = p.ToolTags
	}
	p.guards = append(p.guards, g)
}

func (p *Policy) seal() {
	p.inner = NewChain(p.guards, WithLogger(slog.Default()))
}

// Name returns "policy".
func (p *Policy) Name() string { return "policy" }

// Check combines the policy's guards when the policy is used as a single
// guard (a Chain flattens it instead): the first Block, else the first
// Escalate, else Allow. Escalations are left to the caller's approver.
func (p *Policy) Check(ctx context.Context, ev *Event) trajectory.Decision {
	if ev == nil {
		return decide(trajectory.Block, "no event to check")
	}
	ds := p.inner.collect(ctx, ev)
	var esc *trajectory.Decision
	for i, d := range ds {
		switch d.Verdict {
		case trajectory.Block:
			return decide(trajectory.Block, d.Guard+": "+d.Reason)
		case trajectory.Escalate:
			if esc == nil {
				esc = &ds[i]
			}
		}
	}
	if esc != nil {
		return decide(trajectory.Escalate, esc.Guard+": "+esc.Reason)
	}
	return allow(fmt.Sprintf("%d guard(s) allowed", len(ds)))
}

// RewriteObservation applies the policy's observation rewriters, for when
// the policy is used as a single guard.
func (p *Policy) RewriteObservation(ctx context.Context, ev *Event) (string, bool) {
	text, changed := observation(ev), false
	for _, g := range p.guards {
		rw, ok := g.(ObservationRewriter)
		if !ok {
			continue
		}
		call := trajectory.ToolCall{}
		if ev.Call != nil {
			call = *ev.Call
		}
		call.Observation = text
		e := *ev
		e.Call = &call
		if s, ok := rw.RewriteObservation(ctx, &e); ok {
			text, changed = s, true
		}
	}
	return text, changed
}

// Guards returns the policy's guards in order.
func (p *Policy) Guards() []Guard { return append([]Guard(nil), p.guards...) }

// Approver returns the approver the policy configures, or nil.
func (p *Policy) Approver() Approver { return p.approver }

// ApprovalTimeout returns how long to wait for the approver (0: default).
func (p *Policy) ApprovalTimeout() time.Duration { return p.approvalTimeout }

// ToolTags returns the tags the policy gives a tool (case-insensitive
// name).
func (p *Policy) ToolTags(tool string) []string {
	if len(p.tags) == 0 {
		return nil
	}
	if ts, ok := p.tags[tool]; ok {
		return ts
	}
	return p.tags[canonName(tool)]
}

// Mode returns block or abort.
func (p *Policy) Mode() Mode { return p.mode }

// AbortOnBlock reports whether a block should abort the run.
func (p *Policy) AbortOnBlock() bool { return p.mode == ModeAbort }

// Warnings returns problems that do not make the policy invalid (an unset
// webhook secret, a tag no tool carries).
func (p *Policy) Warnings() []string { return append([]string(nil), p.warnings...) }

// Source names where the policy came from (a file path, "default").
func (p *Policy) Source() string { return p.source }

// Summary describes the policy in a few lines: mode, guards, tagged tools,
// approval, warnings.
func (p *Policy) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy %s: ok\n", p.source)
	fmt.Fprintf(&b, "mode: %s\n", p.mode)
	fmt.Fprintf(&b, "guards (%d):\n", len(p.guards))
	for _, g := range p.guards {
		if d, ok := g.(interface{ Describe() string }); ok {
			fmt.Fprintf(&b, "  - %s\n", d.Describe())
		} else {
			fmt.Fprintf(&b, "  - %s\n", guardName(g))
		}
	}
	keys := make([]string, 0, len(p.tags))
	for k := range p.tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "tagged tools (%d):\n", len(keys))
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-20s %s\n", p.display[k], strings.Join(p.tags[k], ", "))
	}
	switch a := p.approver.(type) {
	case nil:
		b.WriteString("approval: none (escalations block)\n")
	case *WebhookApprover:
		fmt.Fprintf(&b, "approval: webhook %s\n", a.URL())
	default:
		fmt.Fprintf(&b, "approval: %s\n", approverName(a, Resolution{}))
	}
	for _, w := range p.warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

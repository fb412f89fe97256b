package guardrails

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/reagent-go/reagent/guardrails/approval"
)

// Mode says what a blocked tool call does to the run.
type Mode string

// Modes. In block mode the agent sees "Blocked by guardrail …" as the
// observation and goes on; in abort mode the run stops with an error.
const (
	ModeBlock Mode = "block"
	ModeAbort Mode = "abort"
)

// Policy is plain data: the guards to run, the tags tools get by name, what
// a block does, and who resolves escalations. Build one in Go or load one
// from a file (package policyfile), then make a Chain of it with NewChain.
type Policy struct {
	// Source names where the policy came from (a file path, "default").
	Source string
	// Guards run in order on every event they handle.
	Guards []Guard
	// Gates are guards that cost time or money (an RRM gate asks a model):
	// they run after Guards, and not at all when one of those blocked.
	Gates []Guard
	// ToolTags tags tools by name (case-insensitively), in addition to the
	// tags tools give themselves: "egress", "secret", "risky", "read-only".
	ToolTags map[string][]string
	// Mode is block (the default) or abort.
	Mode Mode
	// Approver resolves escalations; without one an escalation blocks.
	Approver approval.Approver
	// ApprovalTimeout bounds the wait for the approver (default
	// DefaultApprovalTimeout); a timeout blocks.
	ApprovalTimeout time.Duration
	// Warnings are problems that do not make the policy invalid (an unset
	// webhook secret, a tag no tool carries).
	Warnings []string
}

// DefaultApprovalTimeout is how long a Chain waits for an approval unless
// the policy says otherwise.
const DefaultApprovalTimeout = 2 * time.Minute

// Summary describes the policy in a few lines: mode, guards, tagged tools,
// approval, warnings.
func (p Policy) Summary() string {
	var b strings.Builder
	src := p.Source
	if src == "" {
		src = "policy"
	}
	mode := p.Mode
	if mode == "" {
		mode = ModeBlock
	}
	fmt.Fprintf(&b, "policy %s: ok\n", src)
	fmt.Fprintf(&b, "mode: %s\n", mode)
	fmt.Fprintf(&b, "guards (%d):\n", len(p.Guards)+len(p.Gates))
	for _, g := range append(append([]Guard(nil), p.Guards...), p.Gates...) {
		if g != nil {
			fmt.Fprintf(&b, "  - %s\n", describe(g))
		}
	}
	keys := make([]string, 0, len(p.ToolTags))
	for k := range p.ToolTags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "tagged tools (%d):\n", len(keys))
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-20s %s\n", k, strings.Join(p.ToolTags[k], ", "))
	}
	if p.Approver == nil {
		b.WriteString("approval: none (escalations block)\n")
	} else {
		fmt.Fprintf(&b, "approval: %s\n", approverSummary(p.Approver))
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// approverSummary names an approver for Summary: by its String method when
// it has one (a WebhookApprover says "webhook URL"), else by its Name. This
// is display only; a wrapper without String loses nothing but detail.
func approverSummary(a approval.Approver) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("%T", a)
		}
	}()
	if st, ok := a.(fmt.Stringer); ok {
		return st.String()
	}
	return a.Name()
}

// tagIndex looks tags up by tool name, case-insensitively.
type tagIndex map[string][]string

func newTagIndex(tags map[string][]string) tagIndex {
	if len(tags) == 0 {
		return nil
	}
	idx := make(tagIndex, len(tags))
	for name, ts := range tags {
		key := canonName(name)
		for _, t := range ts {
			if !containsString(idx[key], t) {
				idx[key] = append(idx[key], t)
			}
		}
	}
	return idx
}

func (idx tagIndex) lookup(tool string) []string {
	if len(idx) == 0 {
		return nil
	}
	return idx[canonName(tool)]
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package guardrails

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/reagent-go/reagent/trajectory"
)

//go:embed default_policy.yaml
var defaultPolicyYAML []byte

// DefaultPolicyYAML returns the text of the default policy, a starting
// point for your own file.
func DefaultPolicyYAML() string { return string(defaultPolicyYAML) }

// DefaultPolicy returns the policy reagent's demo runs with: network tools
// (tagged egress) reach public addresses only and carry no private keys or
// cloud credentials; tools with a parameter schema are validated; a run
// makes at most 25 tool calls in 10 minutes; nothing tagged egress runs
// after a tool tagged secret; every web result is fenced as untrusted; a
// tool tagged risky runs only if the heuristic RRM approves of the run so
// far. Escalations block (there is no approver).
func DefaultPolicy() *Policy {
	p, err := ParsePolicy(defaultPolicyYAML, WithSource("default"))
	if err != nil {
		// The embedded file is tested; should it ever fail, refuse every
		// call rather than run unguarded.
		return NewPolicy([]Guard{failClosed{err: err}})
	}
	return p
}

// failClosed blocks every event with the reason the policy is broken.
type failClosed struct{ err error }

func (f failClosed) Name() string { return "policy-error" }

func (f failClosed) Check(_ context.Context, _ *Event) trajectory.Decision {
	return decide(trajectory.Block, fmt.Sprintf("policy unusable: %v", f.err))
}

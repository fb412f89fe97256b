package policyfile

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/trajectory"
)

//go:embed default_policy.yaml
var defaultYAML []byte

// DefaultYAML returns the text of the default policy, a starting point for
// your own file (`reagent policy default` prints it).
func DefaultYAML() string { return string(defaultYAML) }

// Default returns the policy reagent's demo runs with: network tools
// (tagged egress) reach public addresses only and carry no private keys or
// cloud credentials; tools with a parameter schema are validated; a run
// makes at most 25 tool calls in 10 minutes; nothing tagged egress runs
// after a tool tagged secret; every web result is fenced as untrusted; a
// tool tagged risky runs only if the RRM gate approves of the run so far
// (the heuristic RRM, or the judge given with WithJudge). Escalations
// block unless WithApprover gives an approver.
//
// The embedded file is tested; should it ever fail to load, Default
// returns a policy whose one guard blocks everything, rather than an
// unguarded one.
func Default(opts ...Option) guardrails.Policy {
	p, err := Parse(defaultYAML, append([]Option{WithSource("default")}, opts...)...)
	if err != nil {
		return failClosed(err)
	}
	return p
}

// failClosed is a policy that blocks every event with the reason the
// policy is unusable.
func failClosed(err error) guardrails.Policy {
	reason := fmt.Sprintf("policy unusable: %v", err)
	return guardrails.Policy{
		Source: "default",
		Guards: []guardrails.Guard{guardrails.GuardFunc{
			GuardName: "policy-error",
			Summary:   "policy-error: blocks everything (" + reason + ")",
			Fn: func(context.Context, *guardrails.Event) trajectory.Decision {
				return trajectory.Decision{Verdict: trajectory.Block, Reason: reason}
			},
		}},
		Warnings: []string{reason},
	}
}

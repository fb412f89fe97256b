package guardrails

import "github.com/reagent-go/reagent/trajectory"

// AdversarialRow is one row of the adversarial table, exported for the
// integration test (package guardrails_test), which runs the rows through
// a real agent wrapped by the middleware.
type AdversarialRow struct {
	Name       string
	Kind       trajectory.GuardEvent
	Tool       string
	Input, Obs string
	Want       trajectory.Verdict
	By         string
}

// AdversarialPolicy is the policy the adversarial rows are checked against.
const AdversarialPolicy = adversarialPolicy

// AdversarialRows returns the adversarial table.
func AdversarialRows() []AdversarialRow {
	out := make([]AdversarialRow, len(adversarialCases))
	for i, c := range adversarialCases {
		out[i] = AdversarialRow{Name: c.name, Kind: c.kind, Tool: c.tool, Input: c.input, Obs: c.obs, Want: c.want, By: c.byGuard}
	}
	return out
}

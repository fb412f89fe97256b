// Package rrm judges agent trajectories with a reasoning reward model
// (Agent-RRM): a reasoning trace, a critique addressed to the agent, and a
// score in [0,1].
package rrm

import (
	"context"

	"github.com/reagent-go/reagent/trajectory"
)

// Judge assesses a trajectory. A partial trajectory (Status running) is
// judged on the steps it has so far, for gating and critique injection.
//
// Judge never returns a made-up score: when the judgment fails (network,
// timeout, output that will not parse) the assessment has Status
// trajectory.AssessmentError and the reason in Error.
type Judge interface {
	Judge(ctx context.Context, t *trajectory.Trajectory) trajectory.Assessment
}

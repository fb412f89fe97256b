package run

import (
	"context"

	"github.com/reagent-go/reagent/trajectory"
)

// CritiqueMode says when CritiqueHooks feeds a critique back.
type CritiqueMode int

const (
	// CritiqueEveryStep judges the run so far before the first model call
	// of every step after the first and shows the agent the critique.
	CritiqueEveryStep CritiqueMode = iota
	// CritiqueOnFlag does the same, but shows the critique only when the
	// score is under the threshold.
	CritiqueOnFlag
)

// CritiqueHooks returns hooks that judge the partial trajectory with j
// before each step's first model call (after the first step) and put the
// critique into that call, always or only when the score is under
// threshold, as mode says (Reagent-C during a run). The injected text is
// kept in the step (Step.Critique) and the partial assessment in the
// trajectory; a judgment that fails injects nothing and is kept as an
// error assessment.
func CritiqueHooks(j Judge, mode CritiqueMode, threshold float64) Hooks {
	return Hooks{BeforeModel: func(ctx context.Context, r *Run, mc *ModelCall) (context.Context, error) {
		if !mc.StepStart || mc.Step == 0 {
			return ctx, nil
		}
		snap := r.Snapshot()
		// The step about to start has nothing in it yet.
		snap.Steps = snap.Steps[:mc.Step]
		snap.Status = trajectory.StatusRunning
		a := r.rec.judge(ctx, j, snap)
		a.Partial, a.Steps = true, len(snap.Steps)
		inject := a.OK() && a.Critique != "" && (mode == CritiqueEveryStep || a.Score < threshold)
		r.AddAssessment(ctx, a)
		if inject {
			r.mu.Lock()
			if mc.Step < len(r.t.Steps) {
				r.t.Steps[mc.Step].Critique = a.Critique
			}
			r.mu.Unlock()
			mc.Instructions = append(mc.Instructions, CritiquePrefix+a.Critique)
		}
		return ctx, nil
	}}
}

package reagent

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tmc/langchaingo/chains"

	"github.com/reagent-go/reagent/ppo"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/rrm"
)

// Group is the result of SampleGroup: G refinement chains that share one
// GroupID.
type Group struct {
	ID      string
	Samples []*Refinement
}

// Attempts returns every attempt of the group: the G first-round attempts,
// then the refined ones, in sample order. With one round of refinement and
// no failed judgment these are the 2G samples of Reagent-U.
func (g *Group) Attempts() []Attempt {
	var first, refined []Attempt
	for _, s := range g.Samples {
		if s == nil || len(s.Attempts) == 0 {
			continue
		}
		first = append(first, s.Attempts[0])
		refined = append(refined, s.Attempts[1:]...)
	}
	return append(first, refined...)
}

// SampleGroup is Reagent-U's two-stage sampling: g first-round attempts at
// question, each judged, and g refined attempts, each conditioned on its
// first attempt's critique, all sharing one GroupID so that their 2g
// rewards share one mean and standard deviation (see Advantages). Options
// are Refine's, except that every first attempt is refined unless
// WithRefineBelow says otherwise; WithParallel runs samples concurrently, and WithRunIDs and
// WithPrevious are not allowed (use Refine per sample to resume).
func SampleGroup(ctx context.Context, exec chains.Chain, judge rrm.Judge, question string, g int, opts ...Option) (*Group, error) {
	if g <= 0 {
		return nil, fmt.Errorf("reagent: sample group: group size %d must be positive", g)
	}
	cfg := newConfig(opts)
	if !cfg.stopSet {
		cfg.stopScore = RefineAlways
	}
	if cfg.runID != nil || len(cfg.previous) > 0 {
		return nil, errors.New("reagent: sample group: WithRunIDs and WithPrevious apply to one chain; call Refine per sample")
	}
	if cfg.groupID == "" {
		cfg.groupID = NewID()
	}
	grp := &Group{ID: cfg.groupID, Samples: make([]*Refinement, g)}
	errs := make([]error, g)
	sem := make(chan struct{}, cfg.parallel)
	var wg sync.WaitGroup
	for i := range g {
		c := *cfg
		c.metadata = cloneMeta(cfg.metadata)
		c.metadata["sample"] = fmt.Sprint(i)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			grp.Samples[i], errs[i] = refine(ctx, exec, judge, question, &c)
		}()
	}
	wg.Wait()
	return grp, errors.Join(errs...)
}

// Advantages returns the GRPO advantage of each sample of one group, with
// one mean and standard deviation over the kept samples (for Reagent-U the
// first-round and refined samples together): A = (R − mean)/(std + 1e-6),
// computed by ppo.GroupAdvantages. Dropped results (a failed judgment under
// the Drop policy) take no part and get kept[i] = false.
func Advantages(results []reward.Result) (adv []float64, kept []bool) {
	adv = make([]float64, len(results))
	kept = make([]bool, len(results))
	var rs []float64
	var idx []int
	for i, r := range results {
		if r.Dropped {
			continue
		}
		rs = append(rs, r.Reward)
		idx = append(idx, i)
	}
	for j, a := range ppo.GroupAdvantages(rs) {
		adv[idx[j]] = a
		kept[idx[j]] = true
	}
	return adv, kept
}

// Package reagent implements the three strategies of "Exploring Reasoning
// Reward Model for Agents" on top of reagent's middleware: Reagent-C
// (Refine: answer, get a critique, answer again with the critique in the
// prompt), Reagent-R (reward R = R_rule + λ·score, see package
// reagent/reward) and Reagent-U (SampleGroup: G first attempts and their G
// critique-refined attempts pooled in one GRPO group).
package reagent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"

	"github.com/reagent-go/reagent/run"

	"github.com/tmc/langchaingo/chains"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// ErrNotRecorded is returned when the executor did not record its run:
// strategies need an executor returned by middleware.Wrap.
var ErrNotRecorded = errors.New("reagent: the run was not recorded; wrap the executor with middleware.Wrap")

// Attempt is one run of the agent in a strategy, with its judgment.
type Attempt struct {
	Trajectory *trajectory.Trajectory
	// Assessment is the RRM's judgment of the whole run; nil when the
	// attempt was not judged. A failed judgment has an error status.
	Assessment *trajectory.Assessment
	// Err is the executor's error, if any; the run is still recorded.
	Err error
	// Resumed marks an attempt handed in with WithPrevious rather than run.
	Resumed bool
	// Rejudged marks a resumed attempt whose failed or missing judgment was
	// made again.
	Rejudged bool
}

// Score returns the attempt's RRM score when its judgment succeeded.
func (a Attempt) Score() (float64, bool) {
	if a.Assessment == nil || !a.Assessment.OK() {
		return 0, false
	}
	return a.Assessment.Score, true
}

// Refinement is the result of Refine: the attempts in order (the first
// answer, then each refined answer).
type Refinement struct {
	Attempts []Attempt
	// Stopped says why refinement ended before all rounds ran (a failed
	// judgment leaves no critique to refine with; a failed run); empty when
	// every round ran.
	Stopped string
}

// Last returns the attempt Reagent-C reports: the last one.
func (r *Refinement) Last() Attempt {
	if r == nil || len(r.Attempts) == 0 {
		return Attempt{}
	}
	return r.Attempts[len(r.Attempts)-1]
}

// First returns the first attempt.
func (r *Refinement) First() Attempt {
	if r == nil || len(r.Attempts) == 0 {
		return Attempt{}
	}
	return r.Attempts[0]
}

// FeedbackFunc turns an attempt and its judgment into the feedback the next
// attempt sees.
type FeedbackFunc func(prev *trajectory.Trajectory, a trajectory.Assessment) string

// Feedback is the default feedback: the previous answer and the critique,
// so the next attempt is conditioned on both (o2 ~ π(·|q, o1, c)). The
// middleware puts it before the question, after run.CritiquePrefix.
func Feedback(previousAnswer, critique string) string {
	if previousAnswer == "" {
		return "Your previous attempt ended without an answer. Critique: " + critique
	}
	return "Your previous answer was: " + previousAnswer + ". Critique: " + critique
}

// DefaultFeedback applies Feedback to the previous run's final answer and
// the critique.
func DefaultFeedback(prev *trajectory.Trajectory, a trajectory.Assessment) string {
	return Feedback(prev.FinalAnswer, a.Critique)
}

// Option configures Refine and SampleGroup.
type Option func(*config)

type config struct {
	rounds    int
	judgeLast bool
	stopScore float64
	feedback  FeedbackFunc
	store     audit.Store
	groupID   string
	metadata  map[string]string
	runID     func(round int) string
	previous  []Attempt
	onAttempt []func(context.Context, *Attempt) error
	parallel  int
}

func newConfig(opts []Option) *config {
	c := &config{rounds: 1, judgeLast: true, stopScore: 2, feedback: DefaultFeedback, parallel: 1}
	for _, o := range opts {
		o(c)
	}
	return c
}

// WithRounds sets the number of refinement rounds (default 1: one answer
// and one refined answer). 0 runs and judges once, with no refinement.
func WithRounds(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.rounds = n
		}
	}
}

// WithJudgeLast controls whether the last attempt is judged too (default
// true: its score is needed for Reagent-R and -U rewards and reports).
func WithJudgeLast(on bool) Option { return func(c *config) { c.judgeLast = on } }

// WithStopScore ends refinement early once an attempt scores at least s
// (default: never; the paper always refines).
func WithStopScore(s float64) Option { return func(c *config) { c.stopScore = s } }

// WithFeedback replaces DefaultFeedback.
func WithFeedback(f FeedbackFunc) Option {
	return func(c *config) {
		if f != nil {
			c.feedback = f
		}
	}
}

// WithStore appends the assessments the strategy makes to s, as records of
// the runs they judge. Use it when the middleware stores the runs (with
// run.WithStore) but does not judge them synchronously.
func WithStore(s audit.Store) Option { return func(c *config) { c.store = s } }

// WithGroupID sets the GroupID of every attempt (default: a new id per
// Refine call, shared by its attempts; SampleGroup shares one across the
// group).
func WithGroupID(id string) Option { return func(c *config) { c.groupID = id } }

// WithMetadata adds key/value pairs to every attempt's metadata; the
// strategy adds "round".
func WithMetadata(md map[string]string) Option {
	return func(c *config) {
		if c.metadata == nil {
			c.metadata = map[string]string{}
		}
		maps.Copy(c.metadata, md)
	}
}

// WithRunIDs chooses the run id of each round (default: random).
func WithRunIDs(f func(round int) string) Option { return func(c *config) { c.runID = f } }

// WithPrevious resumes a refinement: the given attempts (rounds 0, 1, …)
// were made earlier and are not run again. A resumed attempt without a
// usable judgment that needs one is judged again (Attempt.Rejudged).
func WithPrevious(attempts ...Attempt) Option {
	return func(c *config) { c.previous = append([]Attempt(nil), attempts...) }
}

// WithOnAttempt calls fn with each attempt once it is complete (run and
// judged), in order, including resumed attempts that were judged again. An
// error from fn stops the strategy and is returned.
func WithOnAttempt(fn func(context.Context, *Attempt) error) Option {
	return func(c *config) {
		if fn != nil {
			c.onAttempt = append(c.onAttempt, fn)
		}
	}
}

// WithParallel lets SampleGroup run up to n samples at once (default 1).
// The executor must then be safe for concurrent runs, as those made by
// middleware.Wrap around reagent's agents are.
func WithParallel(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.parallel = n
		}
	}
}

// Refine is Reagent-C: it runs the agent on question (o1), judges the run,
// runs it again with the critique in the prompt (o2 ~ π(·|q, o1, c)), and
// so on for the configured rounds (default 1). Every attempt is a separate
// recorded run linked to the one it refines (ParentID, Round) and sharing a
// GroupID. exec must come from middleware.Wrap; its store, if any, keeps
// the runs. The judge's assessments are taken from the runs when the
// middleware judged them synchronously, and made by judge otherwise.
//
// A failed judgment ends refinement (there is no critique to refine with)
// and is reported in Refinement.Stopped; it is never read as a score.
// Refine returns an error only when it cannot work at all: a cancelled
// context, an executor that does not record, no judge, or a failing hook.
func Refine(ctx context.Context, exec chains.Chain, judge rrm.Judge, question string, opts ...Option) (*Refinement, error) {
	cfg := newConfig(opts)
	if cfg.groupID == "" {
		cfg.groupID = NewID()
	}
	return refine(ctx, exec, judge, question, cfg)
}

func refine(ctx context.Context, exec chains.Chain, judge rrm.Judge, question string, cfg *config) (*Refinement, error) {
	if exec == nil {
		return nil, errors.New("reagent: refine: nil executor")
	}
	needJudge := cfg.rounds > 0 || cfg.judgeLast
	res := &Refinement{}
	var prev *Attempt
	for round := 0; round <= cfg.rounds; round++ {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("reagent: refine: %w", err)
		}
		last := round == cfg.rounds
		var at Attempt
		if round < len(cfg.previous) && cfg.previous[round].Trajectory != nil {
			at = cfg.previous[round]
			at.Resumed = true
		} else {
			md := cloneMeta(cfg.metadata)
			md["round"] = fmt.Sprint(round)
			opts := []run.StartOption{run.WithGroup(cfg.groupID), run.WithRunMetadata(md), run.WithParent("", round)}
			if cfg.runID != nil {
				opts = append(opts, run.WithRunID(cfg.runID(round)))
			}
			if prev != nil {
				opts = append(opts, run.WithParent(prev.Trajectory.ID, round), run.WithCritique(cfg.feedback(prev.Trajectory, *prev.Assessment)))
			}
			h := run.NewHandle(opts...)
			_, runErr := chains.Run(run.ContextWithHandle(ctx, h), exec, question)
			t := h.Trajectory()
			if t == nil {
				if runErr != nil && ctx.Err() != nil {
					return res, fmt.Errorf("reagent: refine: %w", ctx.Err())
				}
				if runErr != nil {
					return res, fmt.Errorf("%w (executor error: %v)", ErrNotRecorded, runErr)
				}
				return res, ErrNotRecorded
			}
			at = Attempt{Trajectory: t, Err: runErr}
			if a := reward.FinalAssessment(t); a != nil {
				at.Assessment = a
			}
		}
		if judgeNeeded(at, last, cfg) {
			if judge == nil {
				return res, errors.New("reagent: refine: a judge is needed for critiques and scores")
			}
			a := judge.Judge(ctx, at.Trajectory)
			at.Assessment = &a
			at.Rejudged = at.Resumed
			if cfg.store != nil {
				if err := cfg.store.AppendAssessment(ctx, at.Trajectory.ID, a); err != nil {
					return res, fmt.Errorf("reagent: refine: storing the assessment of run %s: %w", at.Trajectory.ID, err)
				}
			}
		}
		if !at.Resumed || at.Rejudged {
			for _, fn := range cfg.onAttempt {
				if err := fn(ctx, &at); err != nil {
					return res, fmt.Errorf("reagent: refine: %w", err)
				}
			}
		}
		res.Attempts = append(res.Attempts, at)
		if last {
			break
		}
		switch {
		case !needJudge:
		case failed(at.Trajectory):
			res.Stopped = fmt.Sprintf("round %d: run failed (%s): %s", round, at.Trajectory.Status, at.Trajectory.Error)
			return res, nil
		case at.Assessment == nil || !at.Assessment.OK():
			res.Stopped = fmt.Sprintf("round %d: no critique to refine with: %s", round, judgeErrorText(at.Assessment))
			return res, nil
		case at.Assessment.Score >= cfg.stopScore:
			res.Stopped = fmt.Sprintf("round %d: score %.3g reached the stop score %.3g", round, at.Assessment.Score, cfg.stopScore)
			return res, nil
		}
		prev = &res.Attempts[len(res.Attempts)-1]
	}
	return res, nil
}

// judgeNeeded: an attempt that will be refined needs a critique; the last
// one needs a score when judgeLast is set. A resumed attempt whose earlier
// judgment failed is judged again.
func judgeNeeded(at Attempt, last bool, cfg *config) bool {
	if last && !cfg.judgeLast {
		return false
	}
	if failed(at.Trajectory) {
		// A run that broke (the model endpoint failed, the context was
		// cancelled) has nothing to judge.
		return false
	}
	return at.Assessment == nil || !at.Assessment.OK()
}

func failed(t *trajectory.Trajectory) bool {
	return t.Status.Broken()
}

func judgeErrorText(a *trajectory.Assessment) string {
	switch {
	case a == nil:
		return "not judged"
	case a.Error != "":
		return "judge error: " + a.Error
	}
	return "judge error"
}

func cloneMeta(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	maps.Copy(out, m)
	return out
}

// NewID returns a random 32-hex-digit id for runs and groups.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

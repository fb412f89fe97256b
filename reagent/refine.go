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
	"math"
	"strings"
	"unicode/utf8"

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

// Choice says which attempt a refinement reports as its result, and why.
type Choice string

// Choices.
const (
	// ChoiceNotFlagged: the first answer scored at or above the refine
	// threshold (WithRefineBelow), so it was not refined and is the result.
	ChoiceNotFlagged Choice = "not-flagged"
	// ChoiceRefined: the last refined attempt is the result.
	ChoiceRefined Choice = "refined"
	// ChoiceKeptEarlier: the refined attempt was judged worse than an
	// earlier one (a lower score, a failed judgment, or a run that broke),
	// so the best earlier attempt is the result (WithKeepBetter).
	ChoiceKeptEarlier Choice = "kept-earlier"
	// ChoiceUnrefined: refinement did not run (no rounds, no critique to
	// refine with, a run that broke); the last attempt is the result.
	ChoiceUnrefined Choice = "unrefined"
)

// Refinement is the result of Refine: the attempts in order (the first
// answer, then each refined answer), and which of them is the result.
type Refinement struct {
	Attempts []Attempt
	// Stopped says why refinement ended before all rounds ran (a failed
	// judgment leaves no critique to refine with; a failed run; an answer
	// the RRM did not flag); empty when every round ran.
	Stopped string
	// Chosen is the index in Attempts of the result (see Result), and
	// Choice why it was chosen.
	Chosen int
	Choice Choice
}

// Result returns the attempt Reagent-C reports: the last refined attempt,
// or an earlier one when the refinement was judged worse (WithKeepBetter)
// or did not run.
func (r *Refinement) Result() Attempt {
	if r == nil || r.Chosen < 0 || r.Chosen >= len(r.Attempts) {
		return Attempt{}
	}
	return r.Attempts[r.Chosen]
}

// Last returns the last attempt made (the paper's Reagent-C reports it;
// Result applies WithKeepBetter).
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

// MaxFeedbackAnswer is how much of the previous answer DefaultFeedback
// quotes, in bytes: a long answer (runaway digits, tool-call markup) would
// fill a small model's context and teaches nothing the critique does not
// say.
const MaxFeedbackAnswer = 120

// DefaultFeedback applies Feedback to the previous run's final answer
// (clipped to MaxFeedbackAnswer bytes) and the critique. An answer that is
// tool-call markup (rrm.IsCallMarkup: a call the agent failed to make) is
// no answer: quoting it would only spend a small model's context.
func DefaultFeedback(prev *trajectory.Trajectory, a trajectory.Assessment) string {
	answer := strings.TrimSpace(prev.FinalAnswer)
	if rrm.IsCallMarkup(answer) {
		answer = ""
	}
	return Feedback(clipAnswer(answer, MaxFeedbackAnswer), a.Critique)
}

// clipAnswer cuts s to at most n bytes on a rune boundary, marking the cut.
func clipAnswer(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Option configures Refine and SampleGroup.
type Option func(*config)

type config struct {
	rounds     int
	judgeLast  bool
	stopScore  float64
	stopSet    bool
	keepBetter bool
	feedback   FeedbackFunc
	store      audit.Store
	groupID    string
	metadata   map[string]string
	runID      func(round int) string
	previous   []Attempt
	onAttempt  []func(context.Context, *Attempt) error
	parallel   int
}

func newConfig(opts []Option) *config {
	c := &config{rounds: 1, judgeLast: true, stopScore: DefaultRefineBelow, keepBetter: true, feedback: DefaultFeedback, parallel: 1}
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
// true: its score is needed for Reagent-R and -U rewards and reports;
// WithKeepBetter judges it whatever this says).
func WithJudgeLast(on bool) Option { return func(c *config) { c.judgeLast = on } }

// DefaultRefineBelow is Refine's default refine threshold: an answer the
// RRM scores below it is refined, one at or above it is kept. It was chosen
// by measurement with the embedded policy and the heuristic judge on the
// arith, lookup and web test splits (docs/RESULTS.md): the heuristic scores
// a grounded answer 1, or 0.85 with one unknown name; every flaw that makes
// a refinement worthwhile costs 0.3 or more.
const DefaultRefineBelow = 0.7

// RefineAlways, given to WithRefineBelow, refines every answer, whatever
// its score (the paper's Reagent-C and Reagent-U).
const RefineAlways = math.MaxFloat64

// WithRefineBelow refines an attempt only when the RRM scores it below
// threshold: the RRM flagged it. Refine's default is DefaultRefineBelow;
// SampleGroup's (Reagent-U) is RefineAlways.
func WithRefineBelow(threshold float64) Option {
	return func(c *config) { c.stopScore, c.stopSet = threshold, true }
}

// WithStopScore ends refinement early once an attempt scores at least s;
// it is WithRefineBelow(s).
func WithStopScore(s float64) Option { return WithRefineBelow(s) }

// WithKeepBetter controls whether Refine reports an earlier attempt when
// the refined one is judged worse (default true: Reagent-C never reports an
// answer the RRM scores lower than the one it had). False reports the last
// attempt, as the paper does. Keeping needs the last attempt judged, so it
// is judged whatever WithJudgeLast says.
func WithKeepBetter(on bool) Option { return func(c *config) { c.keepBetter = on } }

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
// Only an attempt the RRM flags (a score below WithRefineBelow's threshold,
// DefaultRefineBelow unless set) is refined, and a refined attempt judged
// worse than an earlier one is not reported (WithKeepBetter): Result and
// Refinement.Choice say which attempt is the result.
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
	needJudge := cfg.rounds > 0 || cfg.judgeLast || cfg.keepBetter
	res := &Refinement{}
	defer func() { res.Chosen, res.Choice = choose(res.Attempts, res.Stopped != "", cfg) }()
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
		case at.Trajectory.Status.Broken():
			res.Stopped = fmt.Sprintf("round %d: run failed (%s): %s", round, at.Trajectory.Status, at.Trajectory.Error)
			return res, nil
		case at.Assessment == nil || !at.Assessment.OK():
			res.Stopped = fmt.Sprintf("round %d: no critique to refine with: %s", round, judgeErrorText(at.Assessment))
			return res, nil
		case at.Assessment.Score >= cfg.stopScore:
			res.Stopped = fmt.Sprintf("round %d: score %.3g is not below the refine threshold %.3g", round, at.Assessment.Score, cfg.stopScore)
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
	if last && !cfg.judgeLast && !(cfg.keepBetter && at.Trajectory.Round > 0) {
		return false
	}
	if at.Trajectory.Status.Broken() {
		// A run that broke (the model endpoint failed, the context was
		// cancelled) has nothing to judge.
		return false
	}
	return at.Assessment == nil || !at.Assessment.OK()
}

// choose picks the result of a refinement: the last attempt, unless
// keepBetter is set and an earlier attempt is judged better than it.
func choose(atts []Attempt, stopped bool, cfg *config) (int, Choice) {
	if len(atts) == 0 {
		return -1, ChoiceUnrefined
	}
	last := len(atts) - 1
	if last == 0 {
		if s, ok := atts[0].Score(); ok && stopped && cfg.rounds > 0 && s >= cfg.stopScore && !atts[0].Trajectory.Status.Broken() {
			return 0, ChoiceNotFlagged
		}
		return 0, ChoiceUnrefined
	}
	if !cfg.keepBetter {
		return last, ChoiceRefined
	}
	best, bestScore := -1, math.Inf(-1)
	for i, a := range atts {
		s, ok := a.Score()
		if !ok || a.Trajectory.Status.Broken() {
			continue
		}
		if s >= bestScore { // ties go to the later attempt
			best, bestScore = i, s
		}
	}
	if best < 0 || best == last {
		if best < 0 && !atts[last].Trajectory.Status.Broken() {
			return last, ChoiceRefined
		}
		if best == last {
			return last, ChoiceRefined
		}
		// No attempt has a usable score and the last one broke: keep the
		// latest one that did not break.
		for i := last - 1; i >= 0; i-- {
			if !atts[i].Trajectory.Status.Broken() {
				return i, ChoiceKeptEarlier
			}
		}
		return last, ChoiceRefined
	}
	return best, ChoiceKeptEarlier
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

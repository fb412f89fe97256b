// Package rollout is reagent's rollout collector: it runs a wrapped agent
// over a task suite against any policy model, with one of the strategies
// (baseline, Reagent-C, -R or -U), judges and rewards every run, stores the
// runs as training groups in the audit store, resumes where an earlier
// collection stopped, and summarises the results.
package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"

	"github.com/reagent-go/reagent/run"

	lcagents "github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/llms"

	"github.com/reagent-go/reagent/agents"
	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/progress"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/reagent/suite"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// Strategy names how each task is sampled and rewarded.
type Strategy string

// Strategies.
const (
	// Baseline runs each sample once; reward = rule reward.
	Baseline Strategy = "baseline"
	// C is Reagent-C: each sample is answered and judged; an answer the RRM
	// flags (a score below WithRefineBelow's threshold) is critiqued and
	// answered again, and the refined answer is reported unless it is judged
	// worse than the first (WithKeepBetter); reward = rule reward.
	C Strategy = "c"
	// R is Reagent-R: each sample runs once; reward = rule + λ·RRM score.
	R Strategy = "r"
	// U is Reagent-U: G first answers and their G critique-refined answers
	// in one group; reward = rule + λ·RRM score over all 2G.
	U Strategy = "u"
)

// ParseStrategy reads baseline, c, r or u.
func ParseStrategy(s string) (Strategy, error) {
	switch Strategy(s) {
	case Baseline, C, R, U:
		return Strategy(s), nil
	}
	return "", fmt.Errorf("rollout: unknown strategy %q (want baseline, c, r or u)", s)
}

// refines reports whether the strategy refines its first answers.
func (s Strategy) refines() bool { return s == C || s == U }

// usesScore reports whether the reward adds the RRM score.
func (s Strategy) usesScore() bool { return s == R || s == U }

// Agent kinds.
const (
	AgentToolCalling = "tools"
	AgentReAct       = "react"
)

// Defaults.
const (
	DefaultMaxSteps = agents.DefaultMaxIterations
)

// Option configures Collect.
type Option func(*config)

type config struct {
	strategy    Strategy
	group       int
	concurrency int
	lambda      float64
	onJudgeErr  reward.JudgeErrorPolicy
	rules       *reward.Rules
	maxSteps    int
	callOptions []llms.CallOption
	agent       string
	modelName   string
	tag         string
	store       audit.Store
	judge       rrm.Judge
	progress    io.Writer
	logger      *slog.Logger
	wrapOpts    []run.Option
	refineBelow float64
	keepBetter  bool
}

// WithRefineBelow sets Reagent-C's refine threshold: a first answer the RRM
// scores below it is refined (default reagent.DefaultRefineBelow;
// reagent.RefineAlways refines every answer, as the paper does). Reagent-U
// always refines every first answer.
func WithRefineBelow(threshold float64) Option { return func(c *config) { c.refineBelow = threshold } }

// WithKeepBetter sets whether Reagent-C reports the first answer when the
// refined one is judged worse (default true; false reports the refined
// answer, as the paper does).
func WithKeepBetter(on bool) Option { return func(c *config) { c.keepBetter = on } }

// WithMiddleware adds options to the middleware that wraps every run (a
// tracer provider, guards).
func WithMiddleware(opts ...run.Option) Option {
	return func(c *config) { c.wrapOpts = append(c.wrapOpts, opts...) }
}

// WithStrategy sets the strategy (default baseline).
func WithStrategy(s Strategy) Option { return func(c *config) { c.strategy = s } }

// WithGroupSize sets G, the samples per task (default 1). Reagent-U stores
// 2G runs per task.
func WithGroupSize(g int) Option { return func(c *config) { c.group = g } }

// WithConcurrency sets how many samples run at once (default 1).
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// WithLambda sets λ of Reagent-R and -U (default 0.3).
func WithLambda(l float64) Option { return func(c *config) { c.lambda = l } }

// WithOnJudgeError sets what happens to a sample whose judgment failed
// when its reward needs a score (default reward.Drop).
func WithOnJudgeError(p reward.JudgeErrorPolicy) Option { return func(c *config) { c.onJudgeErr = p } }

// WithRules sets the rule rewards tasks can name (default the built-in
// rules).
func WithRules(r *reward.Rules) Option { return func(c *config) { c.rules = r } }

// WithMaxSteps bounds the agent's steps per run (default 13, the paper's).
func WithMaxSteps(n int) Option { return func(c *config) { c.maxSteps = n } }

// WithCallOptions adds options to every policy call (temperature, top-p,
// max tokens). The model name is set by the model itself.
func WithCallOptions(opts ...llms.CallOption) Option {
	return func(c *config) { c.callOptions = append(c.callOptions, opts...) }
}

// WithAgent chooses the agent: "tools" (native tool calling, default) or
// "react" (text ReAct, for models without tool calling).
func WithAgent(kind string) Option { return func(c *config) { c.agent = kind } }

// WithModelName names the policy model in the runs' metadata (resumption
// keys on it).
func WithModelName(name string) Option { return func(c *config) { c.modelName = name } }

// WithTag separates collections that would otherwise share their
// resumption keys (same tasks, strategy and model).
func WithTag(tag string) Option { return func(c *config) { c.tag = tag } }

// WithStore stores every run, with its assessment and rewards in the
// metadata, and resumes from the runs already there. Without a store
// nothing is kept and nothing resumed.
func WithStore(s audit.Store) Option { return func(c *config) { c.store = s } }

// WithJudge sets the reasoning reward model. Strategies c, r and u need
// one; baseline uses it, when given, for the report's mean RRM score.
func WithJudge(j rrm.Judge) Option { return func(c *config) { c.judge = j } }

// WithProgress draws a progress bar on w (a terminal) or prints a final
// progress line (anything else).
func WithProgress(w io.Writer) Option { return func(c *config) { c.progress = w } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// MetaTag is this package's metadata key beyond reagent.Meta*: the
// collection's tag.
const MetaTag = "rollout_tag"

// unit is one sample chain: a task's sample i (one run, or a first run and
// its refinement).
type unit struct {
	task   suite.Task
	sample int
}

// Collect runs the tasks with the model llm and the env's tools, and
// returns the summary. It stops at the first error that makes further work
// pointless (a cancelled context, a store that refuses writes) and returns
// it with the summary of what was done.
func Collect(ctx context.Context, llm llms.Model, env *suite.Env, tasks []suite.Task, opts ...Option) (*Summary, error) {
	cfg := &config{strategy: Baseline, group: 1, concurrency: 1, lambda: reward.DefaultLambda, maxSteps: DefaultMaxSteps,
		agent: AgentToolCalling, logger: slog.Default(), refineBelow: reagent.DefaultRefineBelow, keepBetter: true}
	for _, o := range opts {
		o(cfg)
	}
	if err := cfg.check(llm, env, tasks); err != nil {
		return nil, err
	}
	comb := reward.NewCombiner(reward.WithLambda(cfg.lambdaFor()), reward.WithOnJudgeError(cfg.onJudgeErr))

	done, err := cfg.loadDone(ctx)
	if err != nil {
		return nil, err
	}
	var units []unit
	for _, t := range tasks {
		for i := range cfg.group {
			units = append(units, unit{task: t, sample: i})
		}
	}
	sum := newSummary(cfg)
	bar := newBar(cfg.progress, len(units), fmt.Sprintf("rollout %s", cfg.strategy))
	defer bar.Done()

	work := make(chan unit)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(cfg.concurrency, len(units)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				res, err := cfg.runUnit(ctx, llm, env, comb, u, done[key(u.task, u.sample)])
				mu.Lock()
				if res != nil {
					sum.add(u.task, res)
				}
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
				bar.Add(1)
			}
		}()
	}
feed:
	for _, u := range units {
		select {
		case work <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if cfg.store != nil {
		if err := cfg.store.Flush(context.WithoutCancel(ctx)); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("rollout: flushing the store: %w", err)
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return sum, firstErr
}

func (c *config) check(llm llms.Model, env *suite.Env, tasks []suite.Task) error {
	switch {
	case llm == nil:
		return errors.New("rollout: no policy model")
	case env == nil:
		return errors.New("rollout: no suite env (suite.StartEnv)")
	case len(tasks) == 0:
		return errors.New("rollout: no tasks")
	case c.group < 1:
		return fmt.Errorf("rollout: group size %d must be at least 1", c.group)
	case c.concurrency < 1:
		return fmt.Errorf("rollout: concurrency %d must be at least 1", c.concurrency)
	case c.maxSteps < 1:
		return fmt.Errorf("rollout: max steps %d must be at least 1", c.maxSteps)
	case c.lambda < 0:
		return fmt.Errorf("rollout: λ %v must not be negative", c.lambda)
	case math.IsNaN(c.refineBelow):
		return errors.New("rollout: the refine threshold is not a number")
	case c.agent != AgentToolCalling && c.agent != AgentReAct:
		return fmt.Errorf("rollout: unknown agent %q (want tools or react)", c.agent)
	}
	if _, err := ParseStrategy(string(c.strategy)); err != nil {
		return err
	}
	if c.strategy != Baseline && c.judge == nil {
		return fmt.Errorf("rollout: strategy %s needs a judge", c.strategy)
	}
	if c.rules == nil {
		c.rules = reward.NewRules(nil)
	}
	for _, t := range tasks {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("rollout: task %s: %w", t.ID, err)
		}
		if !c.rules.Has(t.Reward) {
			return fmt.Errorf("rollout: task %s names unknown rule %q (known: %v)", t.ID, t.Reward, c.rules.Names())
		}
		if _, err := env.Tools(t); err != nil {
			return fmt.Errorf("rollout: %w", err)
		}
	}
	return nil
}

func (c *config) lambdaFor() float64 {
	if c.strategy.usesScore() {
		return c.lambda
	}
	return 0
}

func (c *config) rounds() int {
	if c.strategy.refines() {
		return 1
	}
	return 0
}

// doneKey identifies a stored run: suite, task, sample and round.
type doneKey struct {
	suite, task string
	sample      int
}

func key(t suite.Task, sample int) doneKey { return doneKey{t.Suite, t.ID, sample} }

// loadDone indexes the finished runs of earlier collections by chain and
// round. A run that broke (the model endpoint failed) does not count as
// finished and is run again.
func (c *config) loadDone(ctx context.Context) (map[doneKey]map[int]*trajectory.Trajectory, error) {
	out := map[doneKey]map[int]*trajectory.Trajectory{}
	if c.store == nil {
		return out, nil
	}
	q := audit.Query{Metadata: map[string]string{reagent.MetaStrategy: string(c.strategy), reagent.MetaModel: c.modelName}}
	if c.tag != "" {
		q.Metadata[MetaTag] = c.tag
	}
	err := c.store.Walk(ctx, q, func(t *trajectory.Trajectory) error {
		if c.tag == "" && t.Metadata[MetaTag] != "" {
			return nil
		}
		if t.Status.Broken() {
			return nil
		}
		sample, err1 := strconv.Atoi(t.Metadata[reagent.MetaSample])
		round, err2 := strconv.Atoi(t.Metadata[reagent.MetaRound])
		if err1 != nil || err2 != nil {
			return nil
		}
		k := doneKey{t.Metadata[reagent.MetaSuite], t.Metadata[reagent.MetaTask], sample}
		if out[k] == nil {
			out[k] = map[int]*trajectory.Trajectory{}
		}
		out[k][round] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rollout: reading earlier runs to resume: %w", err)
	}
	return out, nil
}

// groupID is the same for a task, strategy, model and tag across
// collections, so a resumed collection adds to the same groups.
func (c *config) groupID(t suite.Task) string {
	h := sha256.New()
	for _, s := range []string{t.Suite, t.ID, string(c.strategy), c.modelName, c.tag} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// unitResult is what one chain produced, for the summary.
type unitResult struct {
	attempts []attemptResult
	resumed  bool
	stopped  string
	// chosen is the index of the reported attempt, choice why.
	chosen int
	choice reagent.Choice
}

type attemptResult struct {
	round       int
	rule        float64
	reward      reward.Result
	failed      bool
	judgeFailed bool
}

// executor builds the wrapped agent for one task.
func (c *config) executor(llm llms.Model, env *suite.Env, t suite.Task) (*middleware.Executor, error) {
	ts, err := env.Tools(t)
	if err != nil {
		return nil, err
	}
	var exec *lcagents.Executor
	switch c.agent {
	case AgentReAct:
		exec = agents.NewReAct(llm, ts, agents.WithMaxIterations(c.maxSteps), agents.WithSystemPrompt(env.SystemPrompt(t)))
	default:
		agent := agents.NewToolCalling(llm, ts, agents.WithSystemPrompt(env.SystemPrompt(t)), agents.WithCallOptions(c.callOptions...))
		exec = lcagents.NewExecutor(agent, lcagents.WithMaxIterations(c.maxSteps))
	}
	opts := append([]run.Option{run.WithAgentName("reagent-rollout"), run.WithLogger(c.logger)}, c.wrapOpts...)
	return middleware.Wrap(exec, opts...), nil
}

func (c *config) runUnit(ctx context.Context, llm llms.Model, env *suite.Env, comb reward.Combiner, u unit, done map[int]*trajectory.Trajectory) (*unitResult, error) {
	rounds := c.rounds()
	var prev []reagent.Attempt
	for r := 0; r <= rounds; r++ {
		t, ok := done[r]
		if !ok {
			break
		}
		prev = append(prev, reagent.Attempt{Trajectory: t, Assessment: reward.FinalAssessment(t)})
	}
	res := &unitResult{}
	exec, err := c.executor(llm, env, u.task)
	if err != nil {
		return nil, err
	}
	md := map[string]string{
		reagent.MetaSuite:    u.task.Suite,
		reagent.MetaTask:     u.task.ID,
		reagent.MetaSplit:    string(u.task.Split),
		reagent.MetaStrategy: string(c.strategy),
		reagent.MetaModel:    c.modelName,
		reagent.MetaSample:   strconv.Itoa(u.sample),
		reagent.MetaAnswer:   u.task.Answer,
		reagent.MetaRule:     ruleName(u.task.Reward),
	}
	if c.tag != "" {
		md[MetaTag] = c.tag
	}
	hook := func(ctx context.Context, a *reagent.Attempt) error {
		return c.store1(ctx, u.task, a, comb)
	}
	below, keep := c.refineBelow, c.keepBetter
	if c.strategy == U {
		// Reagent-U pools every first answer and its refinement.
		below, keep = reagent.RefineAlways, false
	}
	ref, err := reagent.Refine(ctx, exec, c.judge, u.task.Question,
		reagent.WithRounds(rounds),
		reagent.WithRefineBelow(below),
		reagent.WithKeepBetter(keep && rounds > 0),
		reagent.WithJudgeLast(c.judge != nil),
		reagent.WithGroupID(c.groupID(u.task)),
		reagent.WithMetadata(md),
		reagent.WithPrevious(prev...),
		reagent.WithOnAttempt(hook))
	if ref != nil {
		res.resumed = len(ref.Attempts) > 0
		for _, a := range ref.Attempts {
			res.attempts = append(res.attempts, c.result(u.task, a, comb))
			res.resumed = res.resumed && a.Resumed && !a.Rejudged
		}
		res.stopped, res.chosen, res.choice = ref.Stopped, ref.Chosen, ref.Choice
	}
	if err != nil {
		return res, fmt.Errorf("rollout: task %s sample %d: %w", u.task.ID, u.sample, err)
	}
	if ref.Stopped != "" && ref.Choice != reagent.ChoiceNotFlagged {
		c.logger.Warn("rollout: refinement stopped early", "task", u.task.ID, "sample", u.sample, "reason", ref.Stopped)
	}
	return res, nil
}

func ruleName(r string) string {
	if r == "" {
		return reward.RuleAuto
	}
	return r
}

// result scores one attempt for the summary.
func (c *config) result(t suite.Task, a reagent.Attempt, comb reward.Combiner) attemptResult {
	rule, err := c.rules.Score(t.Reward, a.Trajectory.FinalAnswer, t.Answer)
	if err != nil {
		c.logger.Error("rollout: rule reward failed; counted as 0", "task", t.ID, "err", err)
		rule = 0
	}
	res := attemptResult{
		round:       a.Trajectory.Round,
		rule:        rule,
		reward:      comb.Combine(rule, a.Assessment),
		failed:      a.Trajectory.Status.Broken(),
		judgeFailed: a.Assessment != nil && !a.Assessment.OK(),
	}
	if res.failed {
		// A run the model endpoint broke says nothing about the policy.
		res.reward = reward.Result{Rule: rule, Dropped: true, JudgeError: "the run failed"}
	}
	return res
}

// store1 stores a new attempt with its assessment and rewards, or appends
// the new judgment of a resumed one.
func (c *config) store1(ctx context.Context, t suite.Task, a *reagent.Attempt, comb reward.Combiner) error {
	if c.store == nil {
		return nil
	}
	if a.Resumed {
		if a.Rejudged && a.Assessment != nil {
			if err := c.store.AppendAssessment(ctx, a.Trajectory.ID, *a.Assessment); err != nil {
				return fmt.Errorf("storing the new judgment of run %s: %w", a.Trajectory.ID, err)
			}
		}
		return nil
	}
	tr := a.Trajectory.Clone()
	if a.Assessment != nil {
		tr.Assessments = append(tr.Assessments, *a.Assessment)
	}
	tr.Training = c.training(t, *a, comb)
	// The store keeps trajectories after the middleware's context is gone.
	if err := c.store.Append(context.WithoutCancel(ctx), tr); err != nil {
		return fmt.Errorf("storing run %s: %w", tr.ID, err)
	}
	return nil
}

// training returns an attempt's typed rewards, as stored with the run.
func (c *config) training(t suite.Task, a reagent.Attempt, comb reward.Combiner) *trajectory.Training {
	r := c.result(t, a, comb)
	tr := &trajectory.Training{Rule: ruleName(t.Reward), RuleReward: r.rule, Lambda: comb.Lambda}
	switch {
	case r.failed:
		tr.Status = trajectory.RewardFailed
	case r.reward.Dropped:
		tr.Status = trajectory.RewardDropped
	case r.reward.RuleOnly:
		tr.Status = trajectory.RewardRuleOnly
	default:
		tr.Status = trajectory.RewardOK
	}
	if !r.reward.Dropped {
		v := r.reward.Reward
		tr.Reward = &v
	}
	if r.reward.Judged {
		v := r.reward.Score
		tr.Score = &v
	}
	return tr
}

type bar interface {
	Add(int)
	Done()
}

type noBar struct{}

func (noBar) Add(int) {}
func (noBar) Done()   {}

func newBar(w io.Writer, total int, label string) bar {
	if w == nil {
		return noBar{}
	}
	return progress.New(w, total, label)
}

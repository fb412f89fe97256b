// Package middleware is reagent's one-line seam: Wrap replaces a langchaingo
// executor's agent, its model and every tool with recording, guarded
// wrappers, so each run becomes a trajectory that is judged, gated and kept
// in the audit trail without any other change to the user's code.
package middleware

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// Option configures Wrap, WrapAgent, WrapModel and WrapTools.
type Option func(*config)

type config struct {
	store         audit.Store
	judge         rrm.Judge
	syncJudge     bool
	judgeLimit    int
	guards        []guardrails.Guard
	approver      guardrails.Approver
	abortOnBlock  bool
	abortOnError  bool
	agentName     string
	capturePrompt bool
	metadata      map[string]string
	onFinish      []func(context.Context, *trajectory.Trajectory)
	logger        *slog.Logger
	maxIterations int

	modelName      string
	critiqueJudge  rrm.Judge
	critiqueMode   CritiqueMode
	critiqueBelow  float64
	tracerProvider trace.TracerProvider
	captureContent bool
}

func newConfig(opts []Option) *config {
	c := &config{capturePrompt: true, judgeLimit: 4, logger: slog.Default(), critiqueBelow: 0.5}
	for _, o := range opts {
		o(c)
	}
	return c
}

// WithStore appends every finished run (and its assessments) to s.
func WithStore(s audit.Store) Option { return func(c *config) { c.store = s } }

// WithJudge judges every finished run with j and stores the assessment with
// the run. Judging is asynchronous and bounded by default (see
// WithJudgeConcurrency); call Flush before closing the store. A judge failure
// is stored as an assessment with an error status; the run is never lost.
func WithJudge(j rrm.Judge) Option { return func(c *config) { c.judge = j } }

// WithSyncJudge judges each run before the executor returns, so the
// assessment is part of the trajectory that is stored and handed back.
func WithSyncJudge() Option { return func(c *config) { c.syncJudge = true } }

// WithJudgeConcurrency bounds how many asynchronous judgments run at once
// (default 4). When the bound is reached, finishing runs wait for a slot.
func WithJudgeConcurrency(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.judgeLimit = n
		}
	}
}

// WithGuards checks every tool call, tool result and final answer with the
// guards (a *guardrails.Policy is a guard). Block wins, then Escalate.
func WithGuards(gs ...guardrails.Guard) Option {
	return func(c *config) { c.guards = append(c.guards, gs...) }
}

// WithApprover resolves Escalate decisions. Without an approver (and without
// one in a policy), an escalation blocks: guards fail closed.
func WithApprover(a guardrails.Approver) Option { return func(c *config) { c.approver = a } }

// WithAbortOnBlock makes a blocked tool call abort the run with an error
// wrapping ErrBlocked, instead of showing the agent the block as its
// observation.
func WithAbortOnBlock() Option { return func(c *config) { c.abortOnBlock = true } }

// WithToolErrorAbort restores langchaingo's default: a tool that returns an
// error aborts the run. Without it, tool errors and panics become the
// observation "Tool error: …" and the agent can adapt.
func WithToolErrorAbort() Option { return func(c *config) { c.abortOnError = true } }

// WithAgentName names the agent in trajectories (default: its Go type).
func WithAgentName(name string) Option { return func(c *config) { c.agentName = name } }

// WithPromptCapture controls whether the messages sent to the model are
// recorded with each LLM call (default true; the chat view for fine-tuning
// needs the first prompt).
func WithPromptCapture(on bool) Option { return func(c *config) { c.capturePrompt = on } }

// WithMetadata adds key/value pairs to every run's metadata.
func WithMetadata(md map[string]string) Option {
	return func(c *config) {
		if c.metadata == nil {
			c.metadata = map[string]string{}
		}
		for k, v := range md {
			c.metadata[k] = v
		}
	}
}

// WithOnFinish calls fn with every finished trajectory, after it was judged
// (synchronously) and handed to the store. fn must not modify it.
func WithOnFinish(fn func(context.Context, *trajectory.Trajectory)) Option {
	return func(c *config) { c.onFinish = append(c.onFinish, fn) }
}

// WithLogger sets the logger for problems that cannot be returned to the
// caller (a store that refuses a record, a failing hook).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithMaxIterations tells WrapAgent the executor's iteration limit, so a run
// that hits it is recorded as max-iterations. Wrap reads it from the
// executor and needs no such option.
func WithMaxIterations(n int) Option { return func(c *config) { c.maxIterations = n } }

// WithModelName names the agent's model in trajectories and spans when the
// model does not report it (langchaingo's OpenAI client does not).
func WithModelName(name string) Option { return func(c *config) { c.modelName = name } }

// CritiqueMode says when WithCritiqueInjection feeds a critique back.
type CritiqueMode int

const (
	// CritiqueEveryStep judges the run so far before every model call after
	// the first step and puts the critique into that call.
	CritiqueEveryStep CritiqueMode = iota
	// CritiqueOnFlag does the same, but injects the critique only when the
	// score falls under the threshold (WithCritiqueThreshold, default 0.5).
	CritiqueOnFlag
)

// WithCritiqueInjection judges the partial trajectory with j before each
// model call after the first step, and puts the critique into that call
// (always, or only when flagged, as mode says). The injected text is kept in
// the step (Step.Critique) and the partial assessment in the trajectory. A
// judgment that fails injects nothing and is kept as an error assessment.
func WithCritiqueInjection(j rrm.Judge, mode CritiqueMode) Option {
	return func(c *config) { c.critiqueJudge, c.critiqueMode = j, mode }
}

// WithCritiqueThreshold sets the score under which CritiqueOnFlag injects.
func WithCritiqueThreshold(score float64) Option { return func(c *config) { c.critiqueBelow = score } }

package run

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/reagent-go/reagent/trajectory"
)

// Store is what a Recorder needs from an audit store (an audit.Store has
// these methods): it appends each finished run and each later assessment,
// and Flush makes what was appended durable.
type Store interface {
	Append(ctx context.Context, t *trajectory.Trajectory) error
	AppendAssessment(ctx context.Context, runID string, a trajectory.Assessment) error
	Flush(ctx context.Context) error
}

// Judge assesses a trajectory (an rrm.Judge is one). It never makes up a
// score: a failed judgment is an assessment with an error status.
type Judge interface {
	Judge(ctx context.Context, t *trajectory.Trajectory) trajectory.Assessment
}

// Option configures a Recorder (and so every host adapter built on one:
// middleware.Wrap takes these options).
type Option func(*config)

type config struct {
	store          Store
	judge          Judge
	syncJudge      bool
	judgeLimit     int
	hooks          []Hooks
	toolErrorAbort bool
	agentName      string
	modelName      string
	capturePrompt  bool
	metadata       map[string]string
	logger         *slog.Logger
	tracerProvider trace.TracerProvider
	captureContent bool
}

func newConfig(opts []Option) config {
	c := config{capturePrompt: true, judgeLimit: 4, logger: slog.Default()}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithStore appends every finished run, and every later assessment of it,
// to s. Shutdown flushes it.
func WithStore(s Store) Option { return func(c *config) { c.store = s } }

// WithJudge judges every finished run with j. Judging is asynchronous and
// bounded (WithJudgeConcurrency) unless WithSyncJudge(true); the assessment
// is stored as a record of its own. A judge failure is stored as an
// assessment with an error status: the run is never lost.
func WithJudge(j Judge) Option { return func(c *config) { c.judge = j } }

// WithSyncJudge(true) judges each run before the host returns, so the
// assessment is part of the trajectory that is stored and handed back.
func WithSyncJudge(on bool) Option { return func(c *config) { c.syncJudge = on } }

// WithJudgeConcurrency bounds how many asynchronous judgments run at once
// (default 4). A run that ends while every slot is busy waits for one only
// until its caller's context ends; then its assessment is recorded as an
// error ("not judged").
func WithJudgeConcurrency(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.judgeLimit = n
		}
	}
}

// WithHooks adds hook sets, called in the order given (After hooks in
// reverse order, like deferred calls).
func WithHooks(hs ...Hooks) Option { return func(c *config) { c.hooks = append(c.hooks, hs...) } }

// WithToolErrorAbort(true) restores the host's own behaviour for failing
// tools: a tool's error and a tool's panic reach the caller exactly as
// without reagent (for langchaingo, an error aborts the run). By default
// they become the observation "Tool error: …" and the agent can adapt.
func WithToolErrorAbort(on bool) Option { return func(c *config) { c.toolErrorAbort = on } }

// WithAgentName names the agent in trajectories and spans (default: the
// host adapter's name for it, such as its Go type).
func WithAgentName(name string) Option { return func(c *config) { c.agentName = name } }

// WithModelName names the agent's model in trajectories and spans when the
// model does not report it (langchaingo's OpenAI client does not).
func WithModelName(name string) Option { return func(c *config) { c.modelName = name } }

// WithPromptCapture(false) stops recording the messages of the first model
// call of each run (default on: the chat view for fine-tuning needs them).
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

// WithOnEnd calls fn with every finished trajectory, after it was judged
// (when judging is synchronous) and handed to the store. fn must not modify
// it. It is a shorthand for an OnEnd hook.
func WithOnEnd(fn func(t *trajectory.Trajectory)) Option {
	return WithHooks(Hooks{OnEnd: func(_ context.Context, _ *Run, t *trajectory.Trajectory) { fn(t) }})
}

// WithLogger sets the logger for what cannot be returned to the caller: a
// store that refuses a run, a panicking tool turned into an observation.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithTracerProvider traces every run with tp, following the OpenTelemetry
// GenAI semantic conventions (see SemconvVersion): an `invoke_agent {name}`
// span per run with `chat {model}` and `execute_tool {tool}` children, RRM
// assessments as `gen_ai.evaluation.result` events. Without it nothing is
// traced and tracing costs nothing.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = tp }
}

// WithContentCapture(true) records prompts, completions, tool arguments,
// tool results and critiques on spans. It is off by default: they may hold
// personal or secret data.
func WithContentCapture(on bool) Option { return func(c *config) { c.captureContent = on } }

// StartOption configures one run.
type StartOption func(*startConfig)

type startConfig struct {
	id, groupID, parentID string
	round                 int
	critique              string
	agent                 string
	inputs                map[string]string
	metadata              map[string]string
	tools                 []trajectory.ToolSpec
	handle                *Handle
	steps                 int
	host                  any
}

// WithRunID sets the run's ID (default: random).
func WithRunID(id string) StartOption { return func(s *startConfig) { s.id = id } }

// WithGroup ties the run to a training group (GRPO, Reagent-U).
func WithGroup(id string) StartOption { return func(s *startConfig) { s.groupID = id } }

// WithParent links a refined run (Reagent-C) to the run it refines.
func WithParent(id string, round int) StartOption {
	return func(s *startConfig) { s.parentID, s.round = id, round }
}

// WithCritique shows the agent feedback on a previous attempt in every model
// call of the run (Reagent-C's second round), before the task.
func WithCritique(text string) StartOption { return func(s *startConfig) { s.critique = text } }

// WithInputs records the host's inputs (the task is one of them).
func WithInputs(in map[string]string) StartOption { return func(s *startConfig) { s.inputs = in } }

// WithRunMetadata adds key/value pairs to this run's metadata.
func WithRunMetadata(md map[string]string) StartOption {
	return func(s *startConfig) {
		if s.metadata == nil {
			s.metadata = map[string]string{}
		}
		for k, v := range md {
			s.metadata[k] = v
		}
	}
}

// WithTools records the tools the agent was given.
func WithTools(specs []trajectory.ToolSpec) StartOption {
	return func(s *startConfig) { s.tools = specs }
}

// WithAgent names the agent of this run (WithAgentName wins).
func WithAgent(name string) StartOption { return func(s *startConfig) { s.agent = name } }

// WithStepCapacity says how many steps the host expects at most (its
// iteration limit): the run reserves room for that many steps (up to 64)
// and their first model and tool call when it starts, so that recording a
// step allocates nothing. A run may still take more steps.
func WithStepCapacity(n int) StartOption { return func(s *startConfig) { s.steps = n } }

// WithHostState keeps v with the run for the host adapter that starts it
// (Run.HostState returns it): per-run state that the adapter's model, tool
// and agent wrappers find through the run instead of through the context.
func WithHostState(v any) StartOption { return func(s *startConfig) { s.host = v } }

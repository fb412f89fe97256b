package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

// Hooks is a set of optional functions called at fixed points of every run,
// in the spirit of grpc-go interceptors and eino's adk.AgentMiddleware. A
// nil field is skipped. Guards, critique injection, tracing and the store
// are hooks like any a user adds with WithHooks; several sets run in the
// order they were given, and the ctx a Before hook returns is what the
// call, the later hooks and the matching After hook see.
//
// Hooks run on the goroutine that makes the call. The *Run they get may be
// read (View) during the hook; the structs they get are theirs to change
// during the hook only.
type Hooks struct {
	// OnStart runs when a run starts, before anything else.
	OnStart func(ctx context.Context, r *Run) context.Context
	// BeforeModel runs before each model call. It may add instructions
	// (system notes the host puts before the task) or refuse the call by
	// returning an error, which the model call then returns.
	BeforeModel func(ctx context.Context, r *Run, call *ModelCall) (context.Context, error)
	// AfterModel runs after each model call, with the call as recorded.
	AfterModel func(ctx context.Context, r *Run, call *ModelCall)
	// BeforeTool runs before each tool call. A *Refusal keeps the tool from
	// running (the agent sees the refusal's message, or the run aborts);
	// any other error fails the call with that error.
	BeforeTool func(ctx context.Context, r *Run, call *ToolCall) (context.Context, error)
	// AfterTool runs after the tool returned (or panicked, or failed). It
	// may rewrite call.Record.Observation, or withhold the result with a
	// *Refusal.
	AfterTool func(ctx context.Context, r *Run, call *ToolCall) error
	// BeforeAnswer runs before the final answer goes back to the caller. It
	// may replace ans.Text, or withhold it with a *Refusal (the caller then
	// gets the refusal's message as the answer).
	BeforeAnswer func(ctx context.Context, r *Run, ans *Answer) error
	// OnEnd runs once, when the run has ended, with the final trajectory
	// (status set). t must not be modified: the store may be writing it.
	OnEnd func(ctx context.Context, r *Run, t *trajectory.Trajectory)
}

// ModelCall is one model call as the hooks see it.
type ModelCall struct {
	// Step is the index of the step the call belongs to; First is set for
	// the first model call of the run, StepStart for the first of a step.
	Step      int
	First     bool
	StepStart bool
	// Instructions are notes that BeforeModel hooks ask the host to show
	// the model, as system messages before the task.
	Instructions []string
	// Record is the call as recorded: the host fills it in after the call,
	// for AfterModel.
	Record trajectory.LLMCall

	start time.Duration // the clock reading at the start (Run.tick)
}

// ToolCall is one tool call as the hooks see it.
type ToolCall struct {
	// Spec describes the tool, with the tags a policy gave it.
	Spec trajectory.ToolSpec
	// Step is the index of the step the call belongs to.
	Step int
	// Record is the call as recorded so far: Input before the call, then
	// Observation and Error after it. Hooks may rewrite the observation in
	// AfterTool.
	Record trajectory.ToolCall

	index int           // into the step's calls
	start time.Duration // the clock reading at the start (Run.tick)
}

// Answer is a final answer about to go back to the caller.
type Answer struct {
	Text string
	Step int
}

// ErrRefused is wrapped by the error that aborts a run when a hook refuses
// with Abort set.
var ErrRefused = errors.New("run: refused")

// Refusal is returned by a BeforeTool, AfterTool or BeforeAnswer hook to
// refuse. The agent (or, for an answer, the caller) sees Message(); with
// Abort the run ends with an error wrapping ErrRefused instead.
type Refusal struct {
	// By names who refused (a guard's name).
	By string
	// Reason says why, in words the agent can act on.
	Reason string
	// Abort ends the run instead of showing the agent the refusal.
	Abort bool
}

func (r *Refusal) Error() string { return r.Message() }

// Unwrap makes an aborting refusal match ErrRefused.
func (r *Refusal) Unwrap() error {
	if r.Abort {
		return ErrRefused
	}
	return nil
}

// Message is what the agent sees instead of the tool's result:
// "Blocked by guardrail <by>: <reason>".
func (r *Refusal) Message() string {
	if r.Reason == "" {
		return fmt.Sprintf("Blocked by guardrail %s.", r.By)
	}
	return fmt.Sprintf("Blocked by guardrail %s: %s", r.By, r.Reason)
}

// hookList is the flattened hooks of a recorder, one slice per point, so
// that a point with no hooks costs a length check.
type hookList struct {
	onStart      []func(context.Context, *Run) context.Context
	beforeModel  []func(context.Context, *Run, *ModelCall) (context.Context, error)
	afterModel   []func(context.Context, *Run, *ModelCall)
	beforeTool   []func(context.Context, *Run, *ToolCall) (context.Context, error)
	afterTool    []func(context.Context, *Run, *ToolCall) error
	beforeAnswer []func(context.Context, *Run, *Answer) error
	onEnd        []func(context.Context, *Run, *trajectory.Trajectory)
}

func (l *hookList) add(h Hooks) {
	if h.OnStart != nil {
		l.onStart = append(l.onStart, h.OnStart)
	}
	if h.BeforeModel != nil {
		l.beforeModel = append(l.beforeModel, h.BeforeModel)
	}
	if h.AfterModel != nil {
		l.afterModel = append(l.afterModel, h.AfterModel)
	}
	if h.BeforeTool != nil {
		l.beforeTool = append(l.beforeTool, h.BeforeTool)
	}
	if h.AfterTool != nil {
		l.afterTool = append(l.afterTool, h.AfterTool)
	}
	if h.BeforeAnswer != nil {
		l.beforeAnswer = append(l.beforeAnswer, h.BeforeAnswer)
	}
	if h.OnEnd != nil {
		l.onEnd = append(l.onEnd, h.OnEnd)
	}
}

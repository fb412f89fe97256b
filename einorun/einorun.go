// Package einorun is reagent's adapter for cloudwego/eino's ADK: the runs of
// a ChatModelAgent are recorded as trajectories by the run core (package
// run), judged, guarded, critiqued and stored in the same audit chain as
// langchaingo runs.
//
// eino's adk.AgentMiddleware has hooks around each model call and each tool
// call but none where a run starts or ends, so the adapter has two parts:
// the middleware the agent is built with, and a thin wrapper around the
// agent whose Run opens the run and ends it when the agent's event
// iterator is exhausted:
//
//	a := einorun.New(rec, einorun.WithTools(tools...))
//	agent, err := adk.NewChatModelAgent(ctx, &adk.ChatModelAgentConfig{
//		Name: "assistant", Description: "…", Model: model,
//		ToolsConfig: adk.ToolsConfig{ToolsNodeConfig: compose.ToolsNodeConfig{Tools: tools}},
//		Middlewares: []adk.AgentMiddleware{a.Middleware()},
//	})
//	runner := adk.NewRunner(ctx, adk.RunnerConfig{Agent: a.Wrap(agent)})
//
// The run travels in the context the wrapper hands the agent; the
// middleware records into the run of its context and does nothing outside
// one.
//
// Durable approvals (approval.Durable) pause a run with eino's own tool
// interrupt: build the Runner with CheckPointStore: a.CheckPointStore(nil),
// start each run with CheckPointID(id)..., and an escalated call ends the
// run paused, with the Runner's checkpoint kept in the approval request in
// the audit chain. Once someone decided, Adapter.Resume resumes the Runner
// from that checkpoint, in any process.
package einorun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// Adapter records eino agents' runs with one run.Recorder. Make one with
// New; it is safe for concurrent use by any number of agents and runs.
type Adapter struct {
	rec    *run.Recorder
	specs  []trajectory.ToolSpec
	byName map[string]trajectory.ToolSpec

	storeMade atomic.Bool // CheckPointStore was called
	mu        sync.Mutex
	pauses    map[string]*pause // by checkpoint ID, until eino saves it
}

// Option configures an Adapter.
type Option func(*Adapter)

// WithTools records the agent's tools (name, description, JSON schema of
// the arguments) in every run and in the guards' view of each call. Give
// the same tools the agent has; tools it cannot describe are skipped.
func WithTools(tools ...tool.BaseTool) Option {
	return func(a *Adapter) {
		for _, t := range tools {
			if t == nil {
				continue
			}
			info, err := t.Info(context.Background())
			if err != nil || info == nil {
				continue
			}
			spec := trajectory.ToolSpec{Name: info.Name, Description: info.Desc}
			if sp, ok := t.(trajectory.Specifier); ok {
				spec = sp.ToolSpec() // tags and schema as the tool states them (MCPTools)
			} else if info.ParamsOneOf != nil {
				if js, err := info.ParamsOneOf.ToJSONSchema(); err == nil && js != nil {
					if b, err := json.Marshal(js); err == nil {
						spec.Parameters = b
					}
				}
			}
			a.specs = append(a.specs, spec)
			a.byName[spec.Name] = spec
		}
	}
}

// New returns an adapter that records with rec (its store, judge, hooks
// and guards apply to every eino run).
func New(rec *run.Recorder, opts ...Option) *Adapter {
	a := &Adapter{rec: rec, byName: map[string]trajectory.ToolSpec{}, pauses: map[string]*pause{}}
	for _, o := range opts {
		if o != nil {
			o(a)
		}
	}
	return a
}

// Wrap is New(rec, opts...).Wrap(agent): the agent must also have been
// built with an adapter's Middleware for its model and tool calls to be
// recorded.
func Wrap(agent adk.Agent, rec *run.Recorder, opts ...Option) adk.Agent {
	return New(rec, opts...).Wrap(agent)
}

// Recorder returns the recorder behind the adapter.
func (a *Adapter) Recorder() *run.Recorder { return a.rec }

// state is the adapter's part of one run: the model call between
// BeforeChatModel and AfterChatModel (eino's model hooks get no context
// from each other, and the agent makes one model call at a time).
type state struct {
	r   *run.Run
	ctx context.Context // the run's context

	// A run that durable approvals can pause (CheckPointID).
	checkPointID string
	agent        string
	hold         approval.HoldFunc

	mu       sync.Mutex
	mctx     context.Context
	mc       *run.ModelCall
	injected []*schema.Message
	panicked bool   // a tool panicked and the panic went on (WithToolErrorAbort)
	pause    *pause // the call a durable approval paused
}

type stateKey struct{}

func stateOf(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	if st == nil || st.r != run.FromContext(ctx) {
		return nil
	}
	return st
}

// Start opens a run for task, for callers that drive a ChatModelAgent (or
// its graph) themselves instead of through Wrap. End the returned run
// exactly once; the context carries it to the middleware.
func (a *Adapter) Start(ctx context.Context, task string, opts ...run.StartOption) (context.Context, *run.Run) {
	if len(a.specs) > 0 {
		opts = append([]run.StartOption{run.WithTools(a.specs)}, opts...)
	}
	ctx, r := a.rec.Start(ctx, task, opts...)
	r.SetResumeState(noCheckPoint)
	st := &state{r: r}
	ctx = context.WithValue(ctx, stateKey{}, st)
	st.ctx = ctx
	return ctx, r
}

// noCheckPoint is the resume state of a run that cannot pause.
func noCheckPoint() (json.RawMessage, error) {
	return nil, errors.New("einorun: this eino run cannot pause for a durable approval: build the Runner with CheckPointStore: a.CheckPointStore(…) and run it with einorun.CheckPointID(id)")
}

// pausable lets durable approvals pause the run of st: eino's Runner will
// save its checkpoint under id.
func (a *Adapter) pausable(st *state, id, agent string) {
	if id == "" || !a.storeMade.Load() {
		return
	}
	st.checkPointID, st.agent = id, agent
	st.hold = a.hold(st)
}

// finishModel ends a model call that got no AfterChatModel (the model
// failed, or the run ended first) with reason as its error.
func (st *state) finishModel(reason string) {
	st.mu.Lock()
	mc, mctx := st.mc, st.mctx
	st.mc, st.mctx, st.injected = nil, nil, nil
	st.mu.Unlock()
	if mc != nil {
		if mc.Record.Error == "" {
			mc.Record.Error = reason
		}
		st.r.EndModel(mctx, mc)
	}
}

// Middleware returns the value to add to a ChatModelAgent's Middlewares.
// It records every model call (prompt, completion, tool calls, usage) and
// shows the model the instructions the run's hooks add (Reagent-C
// critiques) as system messages for that call only, and runs every tool
// call through the run's hooks: a guard's block becomes the tool's result
// (or, with an aborting refusal, the run's error), a tool error or panic
// becomes the result "Tool error: …" unless run.WithToolErrorAbort(true).
// Streaming tools' results are gathered before the hooks see them and
// handed on as one chunk, so that a guard sees the whole result before the
// agent does.
func (a *Adapter) Middleware() adk.AgentMiddleware {
	return adk.AgentMiddleware{
		BeforeChatModel: a.beforeModel,
		AfterChatModel:  a.afterModel,
		WrapToolCall: compose.ToolMiddleware{
			Invokable:  a.wrapInvokable,
			Streamable: a.wrapStreamable,
		},
	}
}

func (a *Adapter) beforeModel(ctx context.Context, s *adk.ChatModelAgentState) error {
	st := stateOf(ctx)
	if st == nil {
		return nil
	}
	st.finishModel("model call failed: no result") // a call that errored
	mctx, mc, err := st.r.StartModel(ctx)
	if err != nil {
		return err
	}
	var injected []*schema.Message
	if len(mc.Instructions) > 0 {
		s.Messages, injected = inject(s.Messages, mc.Instructions)
	}
	if st.r.CapturePrompt(mc) {
		mc.Record.Messages = toMessages(s.Messages)
	}
	st.mu.Lock()
	st.mc, st.mctx, st.injected = mc, mctx, injected
	st.mu.Unlock()
	return nil
}

func (a *Adapter) afterModel(ctx context.Context, s *adk.ChatModelAgentState) error {
	st := stateOf(ctx)
	if st == nil || len(s.Messages) == 0 {
		return nil
	}
	st.mu.Lock()
	mc, mctx, injected := st.mc, st.mctx, st.injected
	st.mc, st.mctx, st.injected = nil, nil, nil
	st.mu.Unlock()
	if mc == nil {
		return nil
	}
	out := s.Messages[len(s.Messages)-1]
	if len(injected) > 0 {
		s.Messages = remove(s.Messages, injected)
	}
	rec := &mc.Record
	if out != nil {
		rec.Completion, rec.Reasoning = out.Content, out.ReasoningContent
		if out.ResponseMeta != nil {
			rec.StopReason = out.ResponseMeta.FinishReason
			if u := out.ResponseMeta.Usage; u != nil {
				rec.Usage = trajectory.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
			}
		}
		for _, tc := range out.ToolCalls {
			rec.ToolCalls = append(rec.ToolCalls, trajectory.ToolCallSpec{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
	}
	r := st.r
	r.EndModel(mctx, mc)
	if out == nil || len(out.ToolCalls) == 0 {
		return nil
	}
	r.NoteStep(out.Content, "")
	for _, tc := range out.ToolCalls {
		r.AddCall(trajectory.ToolCall{ID: tc.ID, Tool: tc.Function.Name, Input: tc.Function.Arguments}, true)
	}
	return nil
}

func (a *Adapter) spec(name string) trajectory.ToolSpec {
	if s, ok := a.byName[name]; ok {
		return s
	}
	return trajectory.ToolSpec{Name: name}
}

var errToolPanicked = errors.New("tool panicked")

func (a *Adapter) wrapInvokable(next compose.InvokableToolEndpoint) compose.InvokableToolEndpoint {
	return func(ctx context.Context, in *compose.ToolInput) (*compose.ToolOutput, error) {
		r := run.FromContext(ctx)
		if r == nil {
			return next(ctx, in)
		}
		ctx, err := a.prepare(ctx, in)
		if err != nil {
			return nil, err
		}
		ctx, tc, err := r.StartTool(ctx, a.spec(in.Name), in.CallID, in.Arguments)
		if err != nil {
			return refused(ctx, in, err)
		}
		if r.Recorder().ToolErrorAbort() {
			done := false
			defer func() {
				if !done { // the tool panicked: record it and let the panic go on
					_, _ = r.EndTool(ctx, tc, "", errToolPanicked, true)
					if st := stateOf(ctx); st != nil {
						st.mu.Lock()
						st.panicked = true
						st.mu.Unlock()
					}
				}
			}()
			out, err := next(ctx, in)
			done = true
			res := ""
			if out != nil {
				res = out.Result
			}
			obs, endErr := r.EndTool(ctx, tc, res, err, false)
			if err != nil {
				return out, err // the tool's own error, as without reagent
			}
			if endErr != nil {
				return nil, endErr
			}
			return &compose.ToolOutput{Result: obs}, nil
		}
		res, err, panicked := safeInvoke(ctx, next, in)
		if !panicked && isInterrupt(err) {
			_, _ = r.EndTool(ctx, tc, res, err, false) // recorded; eino reruns the call on resume
			return nil, err
		}
		obs, err := r.EndTool(ctx, tc, res, err, panicked)
		if err != nil {
			return nil, err
		}
		return &compose.ToolOutput{Result: obs}, nil
	}
}

func (a *Adapter) wrapStreamable(next compose.StreamableToolEndpoint) compose.StreamableToolEndpoint {
	return func(ctx context.Context, in *compose.ToolInput) (*compose.StreamToolOutput, error) {
		r := run.FromContext(ctx)
		if r == nil {
			return next(ctx, in)
		}
		ctx, err := a.prepare(ctx, in)
		if err != nil {
			return nil, err
		}
		ctx, tc, err := r.StartTool(ctx, a.spec(in.Name), in.CallID, in.Arguments)
		if err != nil {
			out, err := refused(ctx, in, err)
			if err != nil {
				return nil, err
			}
			return streamOf(out.Result), nil
		}
		res, err, panicked := safeStream(ctx, next, in)
		if !panicked && isInterrupt(err) {
			_, _ = r.EndTool(ctx, tc, res, err, false) // recorded; eino reruns the call on resume
			return nil, err
		}
		if panicked && r.Recorder().ToolErrorAbort() {
			_, _ = r.EndTool(ctx, tc, "", err, true)
			if st := stateOf(ctx); st != nil {
				st.mu.Lock()
				st.panicked = true
				st.mu.Unlock()
			}
			return nil, err
		}
		obs, endErr := r.EndTool(ctx, tc, res, err, panicked)
		if endErr != nil {
			return nil, endErr
		}
		return streamOf(obs), nil
	}
}

// prepare readies a tool call of a run: a call that a durable approval
// paused and that this resume does not target interrupts again (its error);
// in a run that can pause, a durable approver holds its request for the
// checkpoint (approval.ContextWithHold).
func (a *Adapter) prepare(ctx context.Context, in *compose.ToolInput) (context.Context, error) {
	if err := resumedCall(ctx, in.Name, in.Arguments); err != nil {
		return ctx, err
	}
	if st := stateOf(ctx); st != nil && st.hold != nil {
		ctx = approval.ContextWithHold(ctx, st.hold)
	}
	return ctx, nil
}

// isInterrupt reports whether a tool's error is eino's interrupt (the tool
// asked to pause; eino saves a checkpoint and reruns it on resume): it goes
// back to eino as it is, never becoming a "Tool error" result.
func isInterrupt(err error) bool {
	if err == nil {
		return false
	}
	_, ok := compose.IsInterruptRerunError(err)
	return ok
}

// refused turns a hook's refusal into what the agent sees: the refusal's
// message as the tool's result, eino's interrupt when a durable approval
// paused the call, or the error that ends the run.
func refused(ctx context.Context, in *compose.ToolInput, err error) (*compose.ToolOutput, error) {
	var ref *run.Refusal
	if errors.As(err, &ref) && !ref.Abort {
		return &compose.ToolOutput{Result: ref.Message()}, nil
	}
	var pe *run.PauseError
	if errors.As(err, &pe) {
		return nil, pauseCall(ctx, pe, in.Name, in.Arguments)
	}
	return nil, err
}

func streamOf(s string) *compose.StreamToolOutput {
	return &compose.StreamToolOutput{Result: schema.StreamReaderFromArray([]string{s})}
}

// safeInvoke runs a tool, turning a panic into an error.
func safeInvoke(ctx context.Context, next compose.InvokableToolEndpoint, in *compose.ToolInput) (res string, err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			logPanic(ctx, in.Name, p)
			res, err, panicked = "", fmt.Errorf("tool %s panicked: %v", in.Name, p), true
		}
	}()
	out, err := next(ctx, in)
	if out != nil {
		res = out.Result
	}
	return res, err, false
}

// safeStream runs a streaming tool and gathers its whole result, turning a
// panic (while starting or while reading) into an error.
func safeStream(ctx context.Context, next compose.StreamableToolEndpoint, in *compose.ToolInput) (res string, err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			logPanic(ctx, in.Name, p)
			res, err, panicked = "", fmt.Errorf("tool %s panicked: %v", in.Name, p), true
		}
	}()
	out, err := next(ctx, in)
	if err != nil || out == nil || out.Result == nil {
		return "", err, false
	}
	defer out.Result.Close()
	var b []byte
	for {
		chunk, rerr := out.Result.Recv()
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return string(b), nil, false
			}
			return string(b), fmt.Errorf("reading the result of tool %s: %w", in.Name, rerr), false
		}
		b = append(b, chunk...)
	}
}

func logPanic(ctx context.Context, tool string, p any) {
	if r := run.FromContext(ctx); r != nil {
		r.Recorder().Logger().Error("reagent: tool panicked", "tool", tool, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	}
}

// inject puts the notes, as system messages, right before the last user
// message (the task): the place langchaingo's adapter uses too. It returns
// a new slice (the agent's history is not changed) and the notes.
func inject(msgs []*schema.Message, notes []string) ([]*schema.Message, []*schema.Message) {
	at := 0
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i] != nil && msgs[i].Role == schema.User {
			at = i
			break
		}
	}
	added := make([]*schema.Message, len(notes))
	for i, n := range notes {
		added[i] = schema.SystemMessage(n)
	}
	out := make([]*schema.Message, 0, len(msgs)+len(notes))
	out = append(out, msgs[:at]...)
	out = append(out, added...)
	return append(out, msgs[at:]...), added
}

// remove returns msgs without the given messages (by identity): the notes
// were for one model call and do not stay in the agent's history.
func remove(msgs, drop []*schema.Message) []*schema.Message {
	out := make([]*schema.Message, 0, len(msgs))
	for _, m := range msgs {
		keep := true
		for _, d := range drop {
			if m == d {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, m)
		}
	}
	return out
}

func toMessages(in []*schema.Message) []trajectory.Message {
	out := make([]trajectory.Message, 0, len(in))
	for _, m := range in {
		if m == nil {
			continue
		}
		tm := trajectory.Message{Role: string(m.Role), Content: m.Content, Name: m.ToolName, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			tm.ToolCalls = append(tm.ToolCalls, trajectory.ToolCallSpec{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		out = append(out, tm)
	}
	return out
}

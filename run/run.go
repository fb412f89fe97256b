// Package run is reagent's host-agnostic recorder: a host adapter (or a
// hand-built agent loop) opens a run where the host starts one and ends it
// exactly once, in the shape of an OpenTelemetry span:
//
//	rec := run.New(run.WithStore(store), run.WithJudge(judge))
//	ctx, r := rec.Start(ctx, task)
//	defer func() { r.End(err) }()
//
// Model calls, tool calls and nested runs find their run in ctx. Every
// point of a run (start, model call, tool call, tool result, final answer,
// end) calls the recorder's Hooks: guards, critique injection, tracing and
// the audit store are built on them, and users add their own. Nothing here
// guesses which run a call belongs to: it is the run in the call's context.
package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

// Recorder opens runs and owns what outlives them: asynchronous judgments.
// Make one with New, share it between the hosts of a process, and call
// Shutdown before exit. Its methods are safe for concurrent use.
type Recorder struct {
	cfg     config
	hooks   hookList
	tracer  *tracer
	judging sync.WaitGroup
	slots   chan struct{}
}

// New returns a Recorder configured by opts.
func New(opts ...Option) *Recorder {
	rec := &Recorder{cfg: newConfig(opts)}
	rec.slots = make(chan struct{}, rec.cfg.judgeLimit)
	rec.tracer = newTracer(&rec.cfg)
	if rec.tracer != nil {
		rec.hooks.add(rec.tracer.hooks())
	}
	for _, h := range rec.cfg.hooks {
		rec.hooks.add(h)
	}
	return rec
}

// ToolErrorAbort reports whether tool errors and panics reach the caller as
// they would without reagent (WithToolErrorAbort).
func (rec *Recorder) ToolErrorAbort() bool { return rec.cfg.toolErrorAbort }

// Logger returns the logger set by WithLogger (slog.Default otherwise).
func (rec *Recorder) Logger() *slog.Logger { return rec.cfg.logger }

// AgentName is the name set by WithAgentName, or "".
func (rec *Recorder) AgentName() string { return rec.cfg.agentName }

// CanPause reports whether the recorder's runs can pause (Pause): only a
// BeforeTool hook pauses a run, so a recorder without one never does, and
// a host need not keep resume state for its runs (SetResumeState).
func (rec *Recorder) CanPause() bool { return len(rec.hooks.beforeTool) > 0 }

// Shutdown waits until every asynchronous judgment has been stored, then
// flushes the store; it returns early with an error when ctx ends. The
// recorder stays usable.
func (rec *Recorder) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		rec.judging.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("run: waiting for judgments: %w", ctx.Err())
	}
	if rec.cfg.store != nil {
		if err := rec.cfg.store.Flush(ctx); err != nil {
			return fmt.Errorf("run: flushing the store: %w", err)
		}
	}
	return nil
}

type runKey struct{}

// runCtx is the context Start returns: its parent with the run as a value.
// Hosts pass it on unchanged to the model and tool calls of most agents,
// so FromContext finds the run with one type check instead of a walk up
// the chain of contexts (a context a hook or the host derives from it
// still answers through Value).
type runCtx struct {
	context.Context
	r *Run
}

func (c *runCtx) Value(key any) any {
	if _, ok := key.(runKey); ok {
		return c.r
	}
	return c.Context.Value(key)
}

func (c *runCtx) String() string { return "run.Context(" + c.r.t.ID + ")" }

// FromContext returns the run that ctx belongs to, or nil.
func FromContext(ctx context.Context) *Run {
	if c, ok := ctx.(*runCtx); ok {
		return c.r
	}
	return lookUp(ctx)
}

// lookUp is FromContext for a context derived from the run's.
//
//go:noinline
func lookUp(ctx context.Context) *Run {
	r, _ := ctx.Value(runKey{}).(*Run)
	return r
}

// Run is one run being recorded. Its methods are for host adapters; hooks
// read it through View. Safe for concurrent use.
type Run struct {
	rec    *Recorder
	handle *Handle
	ctx    context.Context // the run's own context, as Start returned it

	mu               sync.Mutex
	t                *trajectory.Trajectory
	critique         string
	critiqueRecorded bool
	managed          bool // the host begins steps itself
	pending          []pendingCall
	ended            bool
	pause            *PauseError                     // set by Pause while a hook decides
	resumeState      func() (json.RawMessage, error) // SetResumeState
	base             time.Time                       // the run's start, with its monotonic reading; see tick
	wall             time.Time                       // base in UTC without the monotonic reading; see at
	wallNs           int64                           // wall as Unix nanoseconds
	// last is the latest clock reading taken (an offset from base), where
	// the next step begins; stepStart is the current step's.
	last, stepStart time.Duration
	// Per-run backing arrays: each step takes its calls from them, so that
	// recording a step does not allocate.
	llmBuf  []trajectory.LLMCall
	callBuf []trajectory.ToolCall
	host    any // WithHostState
	pendBuf [1]pendingCall
	// toolsOwned is set once t.Tools is the run's own copy (AddToolTags
	// copies the host's slice before changing it).
	toolsOwned bool
	// ownMC and ownTC are the run's own model call and tool call (in its
	// runBlock), which a step takes while they are free (freeMC, freeTC);
	// calls made while they are taken (in parallel) come from pools.
	ownMC, freeMC *ModelCall
	ownTC, freeTC *ToolCall
}

// runBlock holds a run, its trajectory, and the model call and tool call
// that its steps reuse (Run.ownMC, Run.ownTC) in one allocation.
type runBlock struct {
	r  Run
	t  trajectory.Trajectory
	mc ModelCall
	tc ToolCall
}

// maxStepCapacity bounds the room WithStepCapacity reserves.
const maxStepCapacity = 64

type pendingCall struct {
	step, call int
	tool, id   string
}

// Start opens a run for task and returns a context that carries it. The
// run must be ended with End (or EndStatus) exactly once; later calls do
// nothing. Options from a Handle in ctx (ContextWithHandle) apply after
// opts.
func (rec *Recorder) Start(ctx context.Context, task string, opts ...StartOption) (context.Context, *Run) {
	var sc startConfig
	for _, o := range opts {
		if o != nil {
			o(&sc)
		}
	}
	h := take(ctx)
	if h != nil {
		for _, o := range h.opts {
			if o != nil {
				o(&sc)
			}
		}
	}
	// The run and its trajectory share one allocation, and the steps get
	// the room the host expects up front (WithStepCapacity): recording a
	// step then allocates nothing.
	blk := &runBlock{}
	r, t := &blk.r, &blk.t
	*t = trajectory.Trajectory{
		SchemaVersion: trajectory.SchemaVersion,
		ID:            sc.id,
		Task:          task,
		Inputs:        sc.inputs,
		Agent:         sc.agent,
		Tools:         sc.tools,
		Status:        trajectory.StatusRunning,
		ParentID:      sc.parentID,
		Round:         sc.round,
		GroupID:       sc.groupID,
	}
	steps := 8
	if sc.steps > 0 {
		steps = min(sc.steps, maxStepCapacity)
		r.llmBuf = make([]trajectory.LLMCall, 0, steps)
		r.callBuf = make([]trajectory.ToolCall, 0, steps)
	}
	t.Steps = make([]trajectory.Step, 0, steps)
	if rec.cfg.agentName != "" {
		t.Agent = rec.cfg.agentName
	}
	if t.ID == "" {
		t.ID = newID()
	}
	if n := len(rec.cfg.metadata) + len(sc.metadata); n > 0 {
		t.Metadata = make(map[string]string, n)
		for k, v := range rec.cfg.metadata {
			t.Metadata[k] = v
		}
		for k, v := range sc.metadata {
			t.Metadata[k] = v
		}
	}
	r.rec, r.handle, r.t, r.critique, r.base = rec, h, t, sc.critique, time.Now()
	r.wall = r.base.Round(0).UTC()
	r.wallNs = r.wall.UnixNano()
	r.pending = r.pendBuf[:0]
	r.host = sc.host
	r.ownMC, r.freeMC, r.ownTC, r.freeTC = &blk.mc, &blk.mc, &blk.tc, &blk.tc
	t.StartedAt = r.wall
	ctx = &runCtx{Context: trajectory.ContextWithRunID(ctx, t.ID), r: r}
	for _, fn := range rec.hooks.onStart {
		if c := fn(ctx, r); c != nil {
			ctx = c
		}
	}
	r.ctx = ctx
	return ctx, r
}

// HostState returns the value the host adapter keeps with the run
// (WithHostState), or nil.
func (r *Run) HostState() any { return r.host }

// ID returns the run's ID.
func (r *Run) ID() string { return r.t.ID }

// Recorder returns the recorder that opened the run.
func (r *Run) Recorder() *Recorder { return r.rec }

// View returns the trajectory being recorded, for hooks to read while they
// run. It must not be modified or kept: use Snapshot for a copy.
func (r *Run) View() *trajectory.Trajectory { return r.t }

// Snapshot returns a deep copy of the trajectory so far.
func (r *Run) Snapshot() *trajectory.Trajectory {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.t.Clone()
}

// NoteStep records what the host learned about the current step: the
// agent's thought, and the text it could not parse (empty when it parsed).
func (r *Run) NoteStep(thought, parseError string) {
	r.mu.Lock()
	if len(r.t.Steps) == 0 {
		r.beginStepLocked()
	}
	s := r.stepLocked()
	s.Thought = thought
	if parseError != "" {
		s.ParseError = parseError
	}
	r.mu.Unlock()
}

// NoteThought is NoteStep with the thought that thought extracts from the
// current step's last model completion, or from fallback when the step has
// no model call (LastCompletion and NoteStep in one).
func (r *Run) NoteThought(thought func(text string) string, fallback, parseError string) {
	r.mu.Lock()
	s := r.noteThoughtLocked(thought, fallback)
	if parseError != "" {
		s.ParseError = parseError
	}
	r.mu.Unlock()
}

// NoteCall is NoteThought (without a parse error) and AddCall in one: the
// common step of a ReAct agent, one thought and one tool call, recorded
// under one lock.
func (r *Run) NoteCall(thought func(text string) string, fallback string, call trajectory.ToolCall, willRun bool) {
	r.mu.Lock()
	r.noteThoughtLocked(thought, fallback)
	r.addCallLocked(call, willRun)
	r.mu.Unlock()
}

// noteThoughtLocked sets the current step's thought (see NoteThought) and
// returns the step. thought runs under the run's lock: it must not call
// the run.
func (r *Run) noteThoughtLocked(thought func(text string) string, fallback string) *trajectory.Step {
	if len(r.t.Steps) == 0 {
		r.beginStepLocked()
	}
	s := r.stepLocked()
	if n := len(s.LLMCalls); n > 0 {
		fallback = s.LLMCalls[n-1].Completion
	}
	s.Thought = thought(fallback)
	return s
}

// LastCompletion returns the completion of the current step's last model
// call, and whether the step has a model call.
func (r *Run) LastCompletion() (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.t.Steps) == 0 {
		return "", false
	}
	s := r.stepLocked()
	if n := len(s.LLMCalls); n > 0 {
		return s.LLMCalls[n-1].Completion, true
	}
	return "", false
}

// BeginStep starts the next step (one iteration of the agent loop). A host
// that calls it says where steps begin; otherwise each model call after a
// step with calls in it begins a new one.
func (r *Run) BeginStep() {
	r.mu.Lock()
	r.managed = true
	r.beginStepLocked()
	r.mu.Unlock()
}

// beginStepLocked ends the current step and begins the next. Steps tile
// the run: a step begins where the previous one's last recorded event
// (its last model call or tool call) ended, with that clock reading, so
// a step that recorded something costs no reading of its own; the first
// step, and one after a step with nothing recorded since it began, read
// the clock.
func (r *Run) beginStepLocked() {
	i := len(r.t.Steps)
	at := r.last
	if i == 0 || at <= r.stepStart {
		at = r.tick()
		r.last = at
	}
	if i > 0 {
		if prev := &r.t.Steps[i-1]; prev.Duration == 0 {
			prev.Duration = max(at-r.stepStart, 1)
		}
	}
	r.stepStart = at
	r.t.Steps = append(r.t.Steps, trajectory.Step{Index: i, StartedAt: r.at(at)})
	s := &r.t.Steps[i]
	if len(r.llmBuf) == cap(r.llmBuf) || len(r.callBuf) == cap(r.callBuf) {
		r.growBufsLocked()
	}
	// Each step gets room for one model call and one tool call without
	// allocating; a second one of either grows that step's slice alone.
	n := len(r.llmBuf)
	s.LLMCalls = r.llmBuf[n:n:min(n+1, cap(r.llmBuf))]
	r.llmBuf = r.llmBuf[:min(n+1, cap(r.llmBuf))]
	n = len(r.callBuf)
	s.Calls = r.callBuf[n:n:min(n+1, cap(r.callBuf))]
	r.callBuf = r.callBuf[:min(n+1, cap(r.callBuf))]
}

// growBufsLocked gives the per-run backing arrays of the steps' calls new
// room once they are used up.
//
//go:noinline
func (r *Run) growBufsLocked() {
	if len(r.llmBuf) == cap(r.llmBuf) {
		r.llmBuf = make([]trajectory.LLMCall, 0, 16)
	}
	if len(r.callBuf) == cap(r.callBuf) {
		r.callBuf = make([]trajectory.ToolCall, 0, 16)
	}
}

func (r *Run) stepLocked() *trajectory.Step { return &r.t.Steps[len(r.t.Steps)-1] }

// finishStepLocked sets the current step's duration, to the clock
// reading end.
func (r *Run) finishStepLocked(end time.Duration) {
	if n := len(r.t.Steps); n > 0 {
		s := &r.t.Steps[n-1]
		if s.Duration == 0 {
			s.Duration = max(end-r.stepStart, 1)
		}
	}
}

// AddCall records a tool call the agent asked for in the current step.
// With willRun the host is about to make it, and the matching StartTool
// fills it in; otherwise it is recorded as it is (an unknown tool the host
// answered itself, say).
func (r *Run) AddCall(call trajectory.ToolCall, willRun bool) {
	r.mu.Lock()
	r.addCallLocked(call, willRun)
	r.mu.Unlock()
}

func (r *Run) addCallLocked(call trajectory.ToolCall, willRun bool) {
	if len(r.t.Steps) == 0 {
		r.beginStepLocked()
	}
	s := r.stepLocked()
	if willRun {
		r.pending = append(r.pending, pendingCall{step: len(r.t.Steps) - 1, call: len(s.Calls), tool: call.Tool, id: call.ID})
	}
	s.Calls = append(s.Calls, call)
}

// Pending reports how many calls added with willRun have not started yet.
func (r *Run) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

var (
	modelCalls = sync.Pool{New: func() any { return new(ModelCall) }}
	toolCalls  = sync.Pool{New: func() any { return new(ToolCall) }}
)

// StartModel records the start of a model call and runs the BeforeModel
// hooks. The host shows the model call.Instructions (system notes before
// the task), makes the call with the returned context, and then calls
// EndModel. An error from a hook means the call must not be made: return
// it to the agent.
func (r *Run) StartModel(ctx context.Context) (context.Context, *ModelCall, error) {
	r.mu.Lock()
	mc := r.freeMC
	r.freeMC = nil
	if mc == nil {
		mc = modelCalls.Get().(*ModelCall)
	}
	s := r.startModelLocked()
	mc.Step = s.Index
	mc.First = s.Index == 0 && len(s.LLMCalls) == 0
	mc.StepStart = len(s.LLMCalls) == 0
	mc.start = r.tick()
	r.last = max(r.last, mc.start)
	if r.critique != "" {
		r.addCritiqueLocked(s, mc)
	}
	r.mu.Unlock()
	mc.Record.StartedAt = r.at(mc.start)
	mc.Record.Model = r.rec.cfg.modelName
	for _, fn := range r.rec.hooks.beforeModel {
		c, err := fn(ctx, r, mc)
		if c != nil {
			ctx = c
		}
		if err != nil {
			mc.Record.Error = err.Error()
			r.EndModel(ctx, mc)
			return ctx, nil, err
		}
	}
	return ctx, mc, nil
}

// startModelLocked returns the step a model call starting now belongs to,
// beginning a new one when the host does not (BeginStep) and the current
// one has calls in it.
func (r *Run) startModelLocked() *trajectory.Step {
	if len(r.t.Steps) == 0 || (!r.managed && (len(r.stepLocked().LLMCalls) > 0 || len(r.stepLocked().Calls) > 0)) {
		r.beginStepLocked()
	}
	return r.stepLocked()
}

// ModelSlot is a model call being recorded on the short path
// (BeginModel).
type ModelSlot struct {
	step  int
	first bool
	start time.Duration
}

// First reports whether the call is the run's first model call (whose
// messages the host records when CaptureFirstPrompt says so).
func (s ModelSlot) First() bool { return s.first }

// BeginModel starts recording a model call on the short path for a run
// whose recorder has no BeforeModel and no AfterModel hooks and that shows
// the model no start critique (nothing adds instructions or sees the
// call): it records what StartModel records, and ok is true. The host
// then makes the call, fills in a trajectory.LLMCall and ends it with
// EndModelSlot. Otherwise it records nothing and ok is false: use
// StartModel and EndModel.
func (r *Run) BeginModel() (slot ModelSlot, ok bool) {
	if len(r.rec.hooks.beforeModel)+len(r.rec.hooks.afterModel) > 0 || r.critique != "" {
		return ModelSlot{}, false
	}
	r.mu.Lock()
	s := r.startModelLocked()
	slot = ModelSlot{step: s.Index, first: s.Index == 0 && len(s.LLMCalls) == 0, start: r.tick()}
	r.last = max(r.last, slot.start)
	r.mu.Unlock()
	return slot, true
}

// CaptureFirstPrompt reports whether the host should record the messages
// of a call begun with BeginModel (CapturePrompt for the short path).
func (r *Run) CaptureFirstPrompt(slot ModelSlot) bool { return slot.first && r.rec.cfg.capturePrompt }

// EndModelSlot records a finished model call begun with BeginModel; call
// is the call as the host filled it in (its start and duration are set
// here). The run keeps a copy.
func (r *Run) EndModelSlot(slot ModelSlot, call *trajectory.LLMCall) {
	end := r.tick()
	call.StartedAt = r.at(slot.start)
	call.Duration = max(end-slot.start, 1)
	if call.Model == "" {
		call.Model = r.rec.cfg.modelName
	}
	r.mu.Lock()
	r.last = max(r.last, end)
	if slot.step < len(r.t.Steps) {
		s := &r.t.Steps[slot.step]
		s.LLMCalls = append(s.LLMCalls, *call)
	}
	if r.t.Model == "" && call.Model != "" {
		r.t.Model = call.Model
	}
	r.mu.Unlock()
}

// addCritiqueLocked shows the model the run's start critique
// (WithCritique), and records it with the first step that saw it.
//
//go:noinline
func (r *Run) addCritiqueLocked(s *trajectory.Step, mc *ModelCall) {
	mc.Instructions = append(mc.Instructions, CritiquePrefix+r.critique)
	if !r.critiqueRecorded {
		s.Critique = r.critique
		r.critiqueRecorded = true
	}
}

// CapturePrompt reports whether the host should record the messages of
// call (the run's first model call, unless WithPromptCapture(false)).
func (r *Run) CapturePrompt(call *ModelCall) bool { return call.First && r.rec.cfg.capturePrompt }

// EndModel records a finished model call (the host fills call.Record:
// completion, tool calls, usage, error) and runs the AfterModel hooks.
// call must not be used afterwards.
func (r *Run) EndModel(ctx context.Context, call *ModelCall) {
	end := r.tick()
	call.Record.Duration = max(end-call.start, 1)
	hs := r.rec.hooks.afterModel
	for i := len(hs) - 1; i >= 0; i-- {
		hs[i](ctx, r, call)
	}
	r.mu.Lock()
	r.last = max(r.last, end)
	if call.Step < len(r.t.Steps) {
		s := &r.t.Steps[call.Step]
		s.LLMCalls = append(s.LLMCalls, call.Record)
	}
	if r.t.Model == "" && call.Record.Model != "" {
		r.t.Model = call.Record.Model
	}
	*call = ModelCall{Instructions: call.Instructions[:0]}
	own := call == r.ownMC
	if own {
		r.freeMC = call
	}
	r.mu.Unlock()
	if !own {
		modelCalls.Put(call)
	}
}

// StartTool records the start of a tool call and runs the BeforeTool
// hooks. It returns the context to call the tool with. When it returns an
// error the tool must not run: a *Refusal without Abort carries the
// observation to show the agent (Message); anything else goes back to the
// host as the call's error. In both cases the call is already finished and
// recorded.
func (r *Run) StartTool(ctx context.Context, spec trajectory.ToolSpec, callID, input string) (context.Context, *ToolCall, error) {
	r.mu.Lock()
	tc := r.freeTC
	r.freeTC = nil
	if tc == nil {
		tc = toolCalls.Get().(*ToolCall)
	}
	step, idx, start := r.startToolLocked(spec.Name, callID, input)
	*tc = ToolCall{Spec: spec, Step: step, Record: r.t.Steps[step].Calls[idx], index: idx, start: start}
	r.mu.Unlock()
	for _, fn := range r.rec.hooks.beforeTool {
		c, err := fn(ctx, r, tc)
		if c != nil {
			ctx = c
		}
		if err != nil {
			return ctx, nil, r.refuseBeforeTool(ctx, tc, err)
		}
	}
	return ctx, tc, nil
}

// startToolLocked claims the recorded call the host is making now and
// stamps its start.
func (r *Run) startToolLocked(tool, callID, input string) (step, idx int, start time.Duration) {
	step, idx = r.claimLocked(tool, callID, input)
	rec := &r.t.Steps[step].Calls[idx]
	if rec.ID == "" {
		rec.ID = callID
	}
	start = r.tick()
	r.last = max(r.last, start)
	rec.StartedAt = r.at(start)
	return step, idx, start
}

// ToolSlot is a tool call being recorded on the short path (BeginTool).
type ToolSlot struct {
	step, index int
	start       time.Duration
}

// BeginTool starts recording a tool call on the short path for a run
// whose recorder has no BeforeTool and no AfterTool hooks (nothing can
// refuse, rewrite or pause the call): it records what StartTool records,
// without handing the call to hooks, and ok is true. The host then makes
// the call and ends it with EndToolSlot. With tool hooks it records
// nothing and ok is false: use StartTool and EndTool.
func (r *Run) BeginTool(spec trajectory.ToolSpec, callID, input string) (slot ToolSlot, ok bool) {
	if len(r.rec.hooks.beforeTool)+len(r.rec.hooks.afterTool) > 0 {
		return ToolSlot{}, false
	}
	r.mu.Lock()
	slot.step, slot.index, slot.start = r.startToolLocked(spec.Name, callID, input)
	r.mu.Unlock()
	return slot, true
}

// EndToolSlot is EndTool for a call begun with BeginTool: it records the
// outcome and returns what the host should hand the agent, as EndTool
// does.
func (r *Run) EndToolSlot(slot ToolSlot, observation string, err error, panicked bool) (string, error) {
	if err != nil {
		observation = "Tool error: " + err.Error()
	}
	end := r.tick()
	r.mu.Lock()
	r.last = max(r.last, end)
	if slot.step < len(r.t.Steps) && slot.index < len(r.t.Steps[slot.step].Calls) {
		rec := &r.t.Steps[slot.step].Calls[slot.index]
		rec.Observation, rec.Panicked = observation, panicked
		if err != nil {
			rec.Error = err.Error()
		}
		if rec.Duration == 0 {
			rec.Duration = max(end-slot.start, 1)
		}
	}
	r.mu.Unlock()
	if err != nil && r.rec.cfg.toolErrorAbort {
		return "", err
	}
	return observation, nil
}

// claimLocked returns the recorded call the host is making now: the
// pending call with this ID (hosts that run calls in parallel give one),
// else the first pending call to this tool, or a new call in the current
// step.
func (r *Run) claimLocked(tool, callID, input string) (step, idx int) {
	// The common case, kept small: the one pending call, to this tool.
	if len(r.pending) == 1 && r.pending[0].tool == tool && (callID == "" || r.pending[0].id == callID) {
		p := r.pending[0]
		r.pending[0] = pendingCall{}
		r.pending = r.pending[:0]
		return p.step, p.call
	}
	return r.claimSlowLocked(tool, callID, input)
}

// claimSlowLocked is claimLocked for every other case.
//
//go:noinline
func (r *Run) claimSlowLocked(tool, callID, input string) (step, idx int) {
	if callID != "" {
		for i, p := range r.pending {
			if p.id == callID {
				r.dropPendingLocked(i)
				return p.step, p.call
			}
		}
	}
	for i, p := range r.pending {
		if p.tool == tool || strings.EqualFold(p.tool, tool) {
			r.dropPendingLocked(i)
			return p.step, p.call
		}
	}
	if len(r.t.Steps) == 0 {
		r.beginStepLocked()
	}
	s := r.stepLocked()
	s.Calls = append(s.Calls, trajectory.ToolCall{Tool: tool, Input: input})
	return len(r.t.Steps) - 1, len(s.Calls) - 1
}

// refuseBeforeTool finishes a call a BeforeTool hook refused with err: a
// pause the hook asked for (Pause) replaces err.
//
//go:noinline
func (r *Run) refuseBeforeTool(ctx context.Context, tc *ToolCall, err error) error {
	if p := r.takePause(); p != nil {
		err = p
		r.markPending(tc.Step, p.RequestID)
	}
	return r.refuseTool(ctx, tc, err)
}

// dropPendingLocked removes r.pending[i], keeping the order.
func (r *Run) dropPendingLocked(i int) {
	n := len(r.pending) - 1
	copy(r.pending[i:], r.pending[i+1:])
	r.pending[n] = pendingCall{}
	r.pending = r.pending[:n]
}

// refuseTool finishes a call that a hook refused (before or after it ran)
// and returns the error for the host.
func (r *Run) refuseTool(ctx context.Context, tc *ToolCall, err error) error {
	var ref *Refusal
	if errors.As(err, &ref) {
		tc.Record.Blocked, tc.Record.BlockedBy, tc.Record.Observation = true, ref.By, ref.Message()
	} else {
		tc.Record.Error = err.Error()
	}
	r.finishTool(ctx, tc, false)
	return err
}

// EndTool records what the tool returned and runs the AfterTool hooks. It
// returns what the host should hand the agent: the observation (a tool
// error becomes "Tool error: …" unless WithToolErrorAbort, in which case
// the error itself comes back), or a hook's refusal. call must not be used
// afterwards.
func (r *Run) EndTool(ctx context.Context, call *ToolCall, observation string, err error, panicked bool) (string, error) {
	call.Record.Panicked = panicked
	if err != nil {
		call.Record.Error = err.Error()
		observation = "Tool error: " + err.Error()
		if r.rec.cfg.toolErrorAbort {
			call.Record.Observation = observation
			r.finishTool(ctx, call, true)
			return "", err
		}
	}
	call.Record.Observation = observation
	hs := r.rec.hooks.afterTool
	for i := len(hs) - 1; i >= 0; i-- {
		if herr := hs[i](ctx, r, call); herr != nil {
			var ref *Refusal
			if errors.As(herr, &ref) && !ref.Abort {
				msg := ref.Message()
				_ = r.refuseTool(ctx, call, herr)
				return msg, nil
			}
			return "", r.refuseTool(ctx, call, herr)
		}
	}
	obs := call.Record.Observation
	r.finishTool(ctx, call, true)
	return obs, nil
}

// finishTool writes the call back into the trajectory and releases it.
// after says whether the AfterTool hooks have had their turn.
func (r *Run) finishTool(ctx context.Context, call *ToolCall, after bool) {
	end := r.tick()
	if call.Record.Duration == 0 {
		call.Record.Duration = max(end-call.start, 1)
	}
	if !after {
		// A call refused before it ran still ends the spans and hooks that
		// its BeforeTool hooks began.
		hs := r.rec.hooks.afterTool
		for i := len(hs) - 1; i >= 0; i-- {
			_ = hs[i](ctx, r, call)
		}
	}
	r.mu.Lock()
	r.last = max(r.last, end)
	if call.Step < len(r.t.Steps) && call.index < len(r.t.Steps[call.Step].Calls) {
		r.t.Steps[call.Step].Calls[call.index] = call.Record
	}
	*call = ToolCall{}
	own := call == r.ownTC
	if own {
		r.freeTC = call
	}
	r.mu.Unlock()
	if !own {
		toolCalls.Put(call)
	}
}

// Answer runs the BeforeAnswer hooks on the final answer and records it. It
// returns the answer to hand back (a hook may have replaced or withheld
// it); an error means the run must end with it (a refusal with Abort).
func (r *Run) Answer(ctx context.Context, text string) (string, error) {
	r.mu.Lock()
	if len(r.t.Steps) == 0 {
		r.beginStepLocked()
	}
	s := r.stepLocked()
	s.Final, s.Answer = true, text
	step := s.Index
	r.mu.Unlock()
	if len(r.rec.hooks.beforeAnswer) == 0 {
		r.mu.Lock()
		r.t.FinalAnswer = text
		r.mu.Unlock()
		return text, nil
	}
	ans := Answer{Text: text, Step: step}
	for _, fn := range r.rec.hooks.beforeAnswer {
		if err := fn(ctx, r, &ans); err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) || ref.Abort {
				return "", err
			}
			ans.Text = ref.Message()
			break
		}
	}
	r.mu.Lock()
	r.t.FinalAnswer = ans.Text
	r.mu.Unlock()
	return ans.Text, nil
}

// AddDecisions keeps guard decisions in the trajectory (every guard's own
// decision, not only the combined one) and on the current span.
func (r *Run) AddDecisions(ctx context.Context, ds ...trajectory.Decision) {
	if len(ds) == 0 {
		return
	}
	r.mu.Lock()
	r.t.Decisions = append(r.t.Decisions, ds...)
	r.mu.Unlock()
	r.rec.tracer.decisions(ctx, ds)
}

// AddToolTags adds the tags tags(name) gives each of the run's tools to its
// recorded spec (a policy's tags, so that judges and the UI see them).
func (r *Run) AddToolTags(tags func(tool string) []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.t.Tools {
		extra := tags(r.t.Tools[i].Name)
		if len(extra) == 0 {
			continue
		}
		if !r.toolsOwned {
			// The slice is the host's (WithTools), shared by its runs.
			r.t.Tools, r.toolsOwned = slices.Clone(r.t.Tools), true
		}
		spec := &r.t.Tools[i]
		merged := append([]string(nil), spec.Tags...)
		for _, tag := range extra {
			if !slices.Contains(merged, tag) {
				merged = append(merged, tag)
			}
		}
		spec.Tags = merged
	}
}

// AddAssessment keeps an assessment made during the run (a per-step
// critique, a gate's judgment).
func (r *Run) AddAssessment(ctx context.Context, a trajectory.Assessment) {
	r.mu.Lock()
	r.t.Assessments = append(r.t.Assessments, a)
	r.mu.Unlock()
	r.rec.tracer.evaluation(ctx, a, false)
}

// PanicError is what End is given for a run whose agent panicked: the host
// recovers the panic, ends the run with it, and panics again.
type PanicError struct{ Value any }

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// End ends the run with the status err implies: nil is finished; a
// cancelled or expired context is cancelled; a *PanicError is panic;
// a *PauseError is paused; anything else is error. Only the first End (or EndStatus) counts.
func (r *Run) End(err error) {
	r.EndStatus(statusOf(err), err)
}

// statusOf is the status a run ending with err has.
func statusOf(err error) trajectory.Status {
	if err == nil {
		return trajectory.StatusFinished
	}
	var p *PanicError
	var pe *PauseError
	switch {
	case errors.As(err, &p):
		return trajectory.StatusPanic
	case errors.As(err, &pe):
		return trajectory.StatusPaused
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return trajectory.StatusCancelled
	}
	return trajectory.StatusError
}

// EndStatus ends the run with the given status (for hosts that know more
// than the error says: an iteration limit, a parse error). A run whose
// context is done when it fails is recorded as cancelled.
func (r *Run) EndStatus(status trajectory.Status, err error) {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	r.ended = true
	t := r.t
	ctx := r.ctx
	r.ctx = nil // a trajectory kept after the run does not keep the caller's context
	if status != trajectory.StatusFinished && status != trajectory.StatusPanic && ctx.Err() != nil {
		status = trajectory.StatusCancelled
	}
	end := r.tick()
	t.Status, t.EndedAt = status, r.at(end)
	if err != nil {
		t.Error = err.Error()
	}
	r.finishStepLocked(end)
	var usage trajectory.Usage
	for _, s := range t.Steps {
		for _, c := range s.LLMCalls {
			usage = usage.Add(c.Usage)
		}
	}
	t.Usage = usage
	r.pending = nil
	r.mu.Unlock()
	r.rec.end(ctx, r, t)
}

// end judges (when synchronous), stores and reports a finished run, then
// starts its asynchronous judgment.
func (rec *Recorder) end(ctx context.Context, r *Run, t *trajectory.Trajectory) {
	// A paused run is half an episode: the resumed run is judged instead.
	judge := rec.cfg.judge != nil && t.Status != trajectory.StatusPaused
	if judge && rec.cfg.syncJudge {
		a := rec.judge(ctx, rec.cfg.judge, t)
		t.Assessments = append(t.Assessments, a)
		rec.tracer.evaluation(ctx, a, false)
	}
	var storeErr error
	if rec.cfg.store != nil {
		if storeErr = rec.cfg.store.Append(ctx, t); storeErr != nil {
			rec.cfg.logger.Error("reagent: run not stored", "run", t.ID, "err", storeErr)
		}
	}
	if r.handle != nil {
		r.handle.finish(t, storeErr)
	}
	hs := rec.hooks.onEnd
	for i := len(hs) - 1; i >= 0; i-- {
		hs[i](ctx, r, t)
	}
	if judge && !rec.cfg.syncJudge {
		rec.judgeAsync(ctx, t)
	}
}

// judge runs j on t, turning a panicking judge into an error assessment.
func (rec *Recorder) judge(ctx context.Context, j Judge, t *trajectory.Trajectory) (a trajectory.Assessment) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			a = trajectory.Assessment{
				Judge:     fmt.Sprintf("%T", j),
				Status:    trajectory.AssessmentError,
				Error:     fmt.Sprintf("judge panicked: %v", p),
				Steps:     len(t.Steps),
				Latency:   time.Since(start),
				CreatedAt: now(),
			}
		}
	}()
	return j.Judge(ctx, t)
}

// judgeAsync judges t in the background, at most judgeLimit at a time, and
// appends the assessment to the store. It waits for a free slot only while
// ctx lasts; a run that gets none is recorded as not judged. t is not
// modified: its readers may hold it already.
func (rec *Recorder) judgeAsync(ctx context.Context, t *trajectory.Trajectory) {
	select {
	case rec.slots <- struct{}{}:
	default:
		select {
		case rec.slots <- struct{}{}:
		case <-ctx.Done():
			a := trajectory.Assessment{
				Judge:     fmt.Sprintf("%T", rec.cfg.judge),
				Status:    trajectory.AssessmentError,
				Error:     "not judged: every judge slot was busy until the caller's context ended (" + ctx.Err().Error() + ")",
				Steps:     len(t.Steps),
				CreatedAt: now(),
			}
			rec.storeAssessment(context.WithoutCancel(ctx), t.ID, a)
			return
		}
	}
	rec.judging.Add(1)
	jctx := context.WithoutCancel(ctx)
	go func() {
		defer func() {
			<-rec.slots
			rec.judging.Done()
		}()
		a := rec.judge(jctx, rec.cfg.judge, t)
		rec.tracer.evaluation(jctx, a, true)
		rec.storeAssessment(jctx, t.ID, a)
	}()
}

func (rec *Recorder) storeAssessment(ctx context.Context, runID string, a trajectory.Assessment) {
	if rec.cfg.store == nil {
		return
	}
	if err := rec.cfg.store.AppendAssessment(ctx, runID, a); err != nil {
		rec.cfg.logger.Error("reagent: assessment not stored", "run", runID, "err", err)
	}
}

// Judge judges the run so far with j (a partial trajectory, status
// running), for hooks that gate or critique. A panicking judge gives an
// error assessment.
func (r *Run) Judge(ctx context.Context, j Judge) trajectory.Assessment {
	snap := r.Snapshot()
	snap.Status = trajectory.StatusRunning
	a := r.rec.judge(ctx, j, snap)
	a.Partial, a.Steps = true, len(snap.Steps)
	return a
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func now() time.Time { return time.Now().UTC() }

// tick reads the clock for the run's timestamps: the monotonic time since
// the run's start. One monotonic reading is cheaper than a wall-clock one
// (on the VMs measured, a time.Now costs as much as the rest of a step's
// recording), durations are exact differences of two readings, and a
// stamp (at) is the run's wall-clock start plus the reading.
func (r *Run) tick() time.Duration { return time.Since(r.base) }

// at is the wall-clock time d after the run's start, in UTC.
// It equals r.wall.Add(d) (TestStampsAreWallPlusOffset), without Add's
// general carry and overflow handling: a stamp is small inlined
// arithmetic, not a call.
func (r *Run) at(d time.Duration) time.Time { return time.Unix(0, r.wallNs+int64(d)).UTC() }

// CritiquePrefix introduces a critique shown to the agent.
const CritiquePrefix = "Feedback from a reviewer on your reasoning so far (use it to do better): "

// Package middleware is reagent's langchaingo adapter. Wrap is the one line:
//
//	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithStore(store), run.WithJudge(judge))
//	answer, err := chains.Run(ctx, exec, question)
//	defer exec.Shutdown(ctx)
//
// The returned *Executor embeds the *agents.Executor it wraps and opens a
// run (package run) in every Call, so chains.Run, chains.Call, chains.Apply
// and exec.Call work unchanged. The agent, its model and its tools are
// wrapped by delegation: the agent sees every Plan, and its settings and
// the executor's fields are the user's own.
//
// For a hand-built agent loop, open the run yourself with run.Recorder's
// Start and End, and wrap the model and tools with WrapModel and WrapTools:
// they record into whatever run their context carries.
package middleware

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// Executor is a langchaingo agent executor whose every Call is recorded as
// a run. Its embedded *agents.Executor is the one given to Wrap: its fields
// (MaxIterations, Memory, CallbacksHandler, ErrorHandler,
// ReturnIntermediateSteps, Agent) are read at every Call, so changing them
// after wrapping takes effect.
type Executor struct {
	*agents.Executor

	rec *run.Recorder

	mu    sync.Mutex
	agent *agentWrapper // for the current Agent; rebuilt when it changes
}

var _ chains.Chain = (*Executor)(nil)

// Wrap returns an executor that records, guards and judges every run of
// exec as opts say (see package run for the options). exec itself is not
// changed, except that the agent's model, when langchaingo keeps it in an
// exported field (an LLM field, or the LLM of an LLMChain in a Chain field,
// as in langchaingo's three agents), gets a recording wrapper in place,
// here, before the executor is shared. A model assigned to that field
// later is used as it is (not recorded) unless it comes from WrapModel; an
// agent assigned to the executor later is wrapped at its first run.
func Wrap(exec *agents.Executor, opts ...run.Option) *Executor {
	if exec == nil {
		return nil
	}
	e := &Executor{Executor: exec, rec: run.New(opts...)}
	if exec.Agent != nil {
		e.agent = newAgentWrapper(exec.Agent, e.rec.AgentName())
		e.agent.installModel()
	}
	return e
}

// Recorder returns the recorder behind the executor.
func (e *Executor) Recorder() *run.Recorder { return e.rec }

// Shutdown waits for the asynchronous judgments of every run so far and
// flushes the store. Call it before closing the store.
func (e *Executor) Shutdown(ctx context.Context) error { return e.rec.Shutdown(ctx) }

// Call runs the agent like (*agents.Executor).Call, as one recorded run. It
// ends the run exactly once with the status the executor's outcome
// implies: finished, max-iterations (agents.ErrNotFinished), parse-error,
// cancelled, error, or panic (the panic then goes on to the caller).
func (e *Executor) Call(ctx context.Context, inputs map[string]any, options ...chains.ChainCallOption) (out map[string]any, err error) {
	if e.Executor.Agent == nil {
		return nil, errors.New("middleware: the executor has no agent")
	}
	aw := e.wrapper(e.Executor.Agent)
	in := stringInputs(inputs)
	rs := &runState{replay: replayFrom(ctx)}
	if rs.replay != nil {
		// The replay is this run's alone, not that of runs nested in it.
		ctx = context.WithValue(ctx, replayKey{}, (*replay)(nil))
	}
	ctx, r := e.rec.Start(ctx, taskOf(in, aw.inner.GetInputKeys()),
		run.WithInputs(in), run.WithAgent(aw.name), run.WithTools(aw.table().specs),
		run.WithStepCapacity(e.Executor.MaxIterations), run.WithHostState(rs))
	defer func() {
		if p := recover(); p != nil {
			r.End(&run.PanicError{Value: p})
			panic(p)
		}
	}()
	exec := *e.Executor
	exec.Agent = aw
	out, err = exec.Call(ctx, inputs, options...)
	switch {
	case err == nil:
		r.End(nil)
	case errors.Is(err, agents.ErrNotFinished):
		r.EndStatus(trajectory.StatusMaxIterations, err)
	case errors.Is(err, agents.ErrUnableToParseOutput):
		r.EndStatus(trajectory.StatusParseError, err)
	default:
		r.End(err)
	}
	return out, err
}

// wrapper returns the agent wrapper for agent, reusing the last one while
// the executor's agent stays the same.
func (e *Executor) wrapper(agent agents.Agent) *agentWrapper {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.agent == nil || !same(e.agent.inner, agent) {
		// A new agent assigned to the executor: its model is wrapped now,
		// before its first run.
		e.agent = newAgentWrapper(agent, e.rec.AgentName())
		e.agent.installModel()
	}
	return e.agent
}

// same reports whether a and b are the same value, without comparing values
// whose type is not comparable (that would panic).
func same(a, b any) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb || ta == nil || !ta.Comparable() {
		return false
	}
	return a == b
}

func stringInputs(inputs map[string]any) map[string]string {
	out := make(map[string]string, len(inputs))
	for k, v := range inputs {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// WrapModel returns a model that records each call into the run its
// context carries (and shows the model the instructions the run's hooks
// add). Calls outside a run pass through unrecorded. Wrap does this itself
// for models it can reach; use WrapModel for a hand-built loop or an agent
// that keeps its model out of reach.
func WrapModel(model llms.Model) llms.Model {
	if model == nil {
		return nil
	}
	if _, ok := model.(*modelWrapper); ok {
		return model
	}
	return &modelWrapper{inner: model}
}

// WrapTools returns tools that run every call through the hooks of the run
// their context carries (guards included) and record it. Calls outside a
// run pass through unrecorded and unguarded.
func WrapTools(ts []tools.Tool) []tools.Tool {
	out := make([]tools.Tool, len(ts))
	for i, t := range ts {
		out[i] = wrapTool(t)
	}
	return out
}

func wrapTool(t tools.Tool) *toolWrapper {
	if w, ok := t.(*toolWrapper); ok {
		return w
	}
	return &toolWrapper{inner: t, spec: specOf(t)}
}

// specOf describes a tool: its own spec when it has one.
func specOf(t tools.Tool) trajectory.ToolSpec {
	var spec trajectory.ToolSpec
	if s, ok := t.(trajectory.Specifier); ok {
		spec = s.ToolSpec()
	}
	if spec.Name == "" {
		spec.Name = t.Name()
	}
	if spec.Description == "" {
		spec.Description = t.Description()
	}
	return spec
}

func typeName(v any) string {
	n := fmt.Sprintf("%T", v)
	n = strings.TrimPrefix(n, "*")
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		n = n[i+1:]
	}
	return n
}

func taskOf(inputs map[string]string, keys []string) string {
	if v, ok := inputs["input"]; ok {
		return v
	}
	for _, k := range keys {
		if v, ok := inputs[k]; ok {
			return v
		}
	}
	ks := make([]string, 0, len(inputs))
	for k := range inputs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) > 0 {
		return inputs[ks[0]]
	}
	return ""
}

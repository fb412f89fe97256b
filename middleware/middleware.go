package middleware

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/trajectory"
)

// ErrBlocked is wrapped by the error that aborts a run when a guard blocks a
// call and WithAbortOnBlock is set.
var ErrBlocked = errors.New("blocked by guardrail")

// Middleware records, guards and judges runs. One Middleware shares its
// state between the wrappers it makes, so a hand-built agent, its model and
// its tools record into the same runs.
type Middleware struct {
	cfg     *config
	chain   *guardrails.Chain
	reg     registry
	exec    *agents.Executor // set by Wrap; read for MaxIterations and ErrorHandler
	judging sync.WaitGroup
	slots   chan struct{}
	tracer  *tracer
}

// New returns a Middleware configured by opts.
func New(opts ...Option) *Middleware {
	cfg := newConfig(opts)
	m := &Middleware{cfg: cfg, slots: make(chan struct{}, cfg.judgeLimit), tracer: newTracer(cfg)}
	for _, g := range cfg.guards {
		// A policy file may ask for mode: abort.
		if a, ok := g.(interface{ AbortOnBlock() bool }); ok && a.AbortOnBlock() {
			cfg.abortOnBlock = true
		}
	}
	if len(cfg.guards) > 0 {
		var chainOpts []guardrails.ChainOption
		if cfg.approver != nil {
			chainOpts = append(chainOpts, guardrails.WithApprover(cfg.approver))
		}
		m.chain = guardrails.NewChain(cfg.guards, chainOpts...)
	}
	return m
}

// Wrap is the one line: it returns a copy of exec whose agent, model and
// tools record every run as a trajectory, checked by the guards, judged and
// stored as the options say. exec itself is left unchanged.
func Wrap(exec *agents.Executor, opts ...Option) *agents.Executor {
	return New(opts...).Wrap(exec)
}

// Wrap returns a copy of exec wrapped by m. See the package-level Wrap.
func (m *Middleware) Wrap(exec *agents.Executor) *agents.Executor {
	if exec == nil {
		return nil
	}
	cp := *exec
	m.exec = &cp
	cp.Agent = m.WrapAgent(exec.Agent)
	return &cp
}

// WrapAgent wraps an agent for use in a hand-built executor: its Plan, its
// model (when it is reachable: an exported LLM field, or an LLM chain) and
// its tools are recorded. Use WithMaxIterations so that a run stopped by the
// executor's limit is recorded as such.
func WrapAgent(agent agents.Agent, opts ...Option) agents.Agent {
	return New(opts...).WrapAgent(agent)
}

// WrapAgent wraps agent with m. See the package-level WrapAgent.
func (m *Middleware) WrapAgent(agent agents.Agent) agents.Agent {
	if agent == nil {
		return nil
	}
	if w, ok := agent.(*agentWrapper); ok {
		// Wrapping twice would record every run twice.
		agent = w.inner
	}
	inner := withModel(agent, func(l llms.Model) llms.Model { return m.WrapModel(l) })
	ts := m.WrapTools(inner.GetTools())
	w := &agentWrapper{m: m, inner: inner, tools: ts, known: make(map[string]bool, len(ts))}
	for _, t := range ts {
		w.known[t.Name()] = true
		w.known[strings.ToUpper(t.Name())] = true
	}
	w.name = m.cfg.agentName
	if w.name == "" {
		w.name = typeName(agent)
	}
	for _, t := range ts {
		w.specs = append(w.specs, t.(*toolWrapper).spec)
	}
	return w
}

// WrapModel returns a model that records each call into the run it belongs
// to (found through the context the agent passes down).
func WrapModel(model llms.Model, opts ...Option) llms.Model {
	return New(opts...).WrapModel(model)
}

// WrapModel wraps model with m. See the package-level WrapModel.
func (m *Middleware) WrapModel(model llms.Model) llms.Model {
	if model == nil {
		return nil
	}
	if w, ok := model.(*modelWrapper); ok {
		model = w.inner
	}
	return &modelWrapper{m: m, inner: model}
}

// WrapTools returns tools that pass every call through the guards, turn
// errors and panics into observations (unless WithToolErrorAbort), and record
// the call into its run.
func WrapTools(ts []tools.Tool, opts ...Option) []tools.Tool {
	return New(opts...).WrapTools(ts)
}

// WrapTools wraps ts with m. See the package-level WrapTools.
func (m *Middleware) WrapTools(ts []tools.Tool) []tools.Tool {
	out := make([]tools.Tool, len(ts))
	for i, t := range ts {
		if w, ok := t.(*toolWrapper); ok {
			t = w.inner
		}
		out[i] = &toolWrapper{m: m, inner: t, spec: m.specFor(t)}
	}
	return out
}

// Flush waits until every asynchronous judgment has been stored, or ctx is
// done. Call it before closing the store.
func (m *Middleware) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		m.judging.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("middleware: waiting for judgments: %w", ctx.Err())
	}
}

// Flush waits for the asynchronous judgments of an executor returned by Wrap.
// It returns an error if exec was not wrapped by this package.
func Flush(ctx context.Context, exec *agents.Executor) error {
	if exec == nil {
		return errors.New("middleware: flush: nil executor")
	}
	w, ok := exec.Agent.(*agentWrapper)
	if !ok {
		return errors.New("middleware: flush: executor was not wrapped by middleware.Wrap")
	}
	return w.m.Flush(ctx)
}

// Of returns the Middleware behind an executor returned by Wrap, or nil.
func Of(exec *agents.Executor) *Middleware {
	if exec == nil {
		return nil
	}
	if w, ok := exec.Agent.(*agentWrapper); ok {
		return w.m
	}
	return nil
}

func (m *Middleware) maxIterations() int {
	if m.exec != nil {
		return m.exec.MaxIterations
	}
	return m.cfg.maxIterations
}

func (m *Middleware) parseErrorsHandled() bool {
	return m.exec != nil && m.exec.ErrorHandler != nil
}

// specFor describes a tool: its own spec when it has one, plus tags a policy
// assigns to it by name.
func (m *Middleware) specFor(t tools.Tool) trajectory.ToolSpec {
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
	for _, g := range m.cfg.guards {
		tagger, ok := g.(interface{ ToolTags(string) []string })
		if !ok {
			continue
		}
		for _, tag := range tagger.ToolTags(spec.Name) {
			if !spec.HasTag(tag) {
				spec.Tags = append(spec.Tags, tag)
			}
		}
	}
	return spec
}

// withModel returns a copy of agent whose model is replaced by wrap(model).
// It knows the two places langchaingo keeps a model: an exported LLM field
// (OpenAIFunctionsAgent, reagent's own agents) and an LLM chain in a Chain
// field (OneShotZeroAgent, ConversationalAgent). Other agents are returned
// as they are and recorded through Plan alone.
func withModel(agent agents.Agent, wrap func(llms.Model) llms.Model) agents.Agent {
	v := reflect.ValueOf(agent)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return agent
	}
	modelType := reflect.TypeFor[llms.Model]()
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	changed := false
	if f := cp.Elem().FieldByName("LLM"); f.IsValid() && f.CanSet() && f.Type() == modelType && !f.IsNil() {
		f.Set(reflect.ValueOf(wrap(f.Interface().(llms.Model))))
		changed = true
	}
	if f := cp.Elem().FieldByName("Chain"); f.IsValid() && f.CanSet() && !f.IsNil() {
		if c, ok := f.Interface().(*chains.LLMChain); ok && c.LLM != nil {
			chain := *c
			chain.LLM = wrap(c.LLM)
			f.Set(reflect.ValueOf(&chain))
			changed = true
		}
	}
	if !changed {
		return agent
	}
	a, ok := cp.Interface().(agents.Agent)
	if !ok {
		return agent
	}
	return a
}

func typeName(v any) string {
	n := fmt.Sprintf("%T", v)
	n = strings.TrimPrefix(n, "*")
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		n = n[i+1:]
	}
	return n
}

package middleware

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// agentWrapper delegates to the user's agent and records each Plan as one
// step of the run in its context.
type agentWrapper struct {
	inner agents.Agent
	name  string

	mu  sync.Mutex // serialises rebuilding tab
	tab atomic.Pointer[toolTable]
}

// toolTable is the wrapped form of one list of the agent's tools. It is
// never changed once published: a step reads it without a lock.
type toolTable struct {
	src   []tools.Tool // the agent's tools the wrapped ones were made from
	tools []tools.Tool
	specs []trajectory.ToolSpec
	known map[string]bool // tool names as given and upper-cased, as the executor looks them up
	names []string        // the tool names as given
}

var _ agents.Agent = (*agentWrapper)(nil)

func newAgentWrapper(agent agents.Agent, name string) *agentWrapper {
	if name == "" {
		name = typeName(agent)
	}
	a := &agentWrapper{inner: agent, name: name}
	a.GetTools()
	return a
}

func (a *agentWrapper) GetInputKeys() []string  { return a.inner.GetInputKeys() }
func (a *agentWrapper) GetOutputKeys() []string { return a.inner.GetOutputKeys() }

// GetTools returns the agent's tools, wrapped; they are wrapped again only
// when the agent's tools change.
func (a *agentWrapper) GetTools() []tools.Tool { return a.table().tools }

// table returns the wrapped form of the agent's current tools.
func (a *agentWrapper) table() *toolTable {
	src := a.inner.GetTools()
	if tab := a.tab.Load(); tab != nil && sameTools(tab.src, src) {
		return tab
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if tab := a.tab.Load(); tab != nil && sameTools(tab.src, src) {
		return tab
	}
	tab := &toolTable{
		src:   src,
		tools: make([]tools.Tool, len(src)),
		specs: make([]trajectory.ToolSpec, len(src)),
		known: make(map[string]bool, 2*len(src)),
	}
	for i, t := range src {
		w := wrapTool(t)
		tab.tools[i], tab.specs[i] = w, w.spec
		tab.known[t.Name()] = true
		tab.names = append(tab.names, t.Name())
		tab.known[strings.ToUpper(t.Name())] = true
	}
	a.tab.Store(tab)
	return tab
}

func sameTools(a, b []tools.Tool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !same(a[i], b[i]) {
			return false
		}
	}
	return true
}

// knows reports whether the executor will find the tool: it matches names
// case-insensitively.
func (a *agentWrapper) knows(tool string) bool {
	tab := a.tab.Load()
	if tab == nil {
		tab = a.table()
	}
	for _, n := range tab.names { // an agent has few tools: no hashing
		if n == tool {
			return true
		}
	}
	return tab.knowsFolded(tool)
}

// knowsFolded reports whether tool names one of tab's tools in another case.
//
//go:noinline
func (tab *toolTable) knowsFolded(tool string) bool {
	return tab.known[tool] || tab.known[strings.ToUpper(tool)]
}

// installModel puts a recording wrapper around the agent's model where
// langchaingo keeps it: an exported LLM field (OpenAIFunctionsAgent,
// reagent's agents) or the LLM of an LLMChain in a Chain field
// (OneShotZeroAgent, ConversationalAgent). It changes the agent in place,
// so a model assigned there after wrapping is wrapped at the next run; an
// agent that keeps its model elsewhere is recorded through Plan alone
// unless its model comes from WrapModel.
func (a *agentWrapper) installModel() {
	v := reflect.ValueOf(a.inner)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	modelType := reflect.TypeFor[llms.Model]()
	if f := v.Elem().FieldByName("LLM"); f.IsValid() && f.CanSet() && f.Type() == modelType && !f.IsNil() {
		if _, ok := f.Interface().(*modelWrapper); !ok {
			f.Set(reflect.ValueOf(WrapModel(f.Interface().(llms.Model))))
		}
	}
	if f := v.Elem().FieldByName("Chain"); f.IsValid() && f.CanInterface() && !f.IsNil() {
		if c, ok := f.Interface().(*chains.LLMChain); ok && c.LLM != nil {
			if _, ok := c.LLM.(*modelWrapper); !ok {
				c.LLM = WrapModel(c.LLM)
			}
		}
	}
}

// Plan records one iteration of the agent loop.
func (a *agentWrapper) Plan(ctx context.Context, steps []schema.AgentStep, inputs map[string]string, options ...chains.ChainCallOption) ([]schema.AgentAction, *schema.AgentFinish, error) {
	r := run.FromContext(ctx)
	if r == nil {
		return a.inner.Plan(ctx, steps, inputs, options...)
	}
	if rp := replayOf(r); rp != nil { // a resumed run: see resume.go
		if acts, ok := rp.plan(r, a); ok {
			keepResumeState(r, inputs, steps, acts)
			return acts, nil, nil
		}
	}
	r.BeginStep()
	actions, finish, err := a.inner.Plan(ctx, steps, inputs, options...)
	switch {
	case err != nil:
		if errors.Is(err, agents.ErrUnableToParseOutput) {
			r.NoteThought(thoughtOf, "", err.Error())
		}
		return actions, finish, err

	case finish != nil:
		keys := a.inner.GetOutputKeys()
		r.NoteThought(thoughtOf, finish.Log, "")
		answer := answerOf(finish, keys)
		text, err := r.Answer(ctx, answer)
		if err != nil {
			return nil, nil, err
		}
		if text != answer {
			finish = withAnswer(finish, keys, text)
		}
		return actions, finish, nil

	case len(actions) == 0:
		return actions, finish, err
	}

	if len(actions) == 1 {
		// The common step: one thought and one call, under one lock.
		call, known := a.callOf(actions[0])
		r.NoteCall(thoughtOf, actions[0].Log, call, known)
	} else {
		a.noteActions(r, actions)
	}
	if r.Recorder().CanPause() {
		keepResumeState(r, inputs, steps, actions)
	}
	return actions, nil, nil
}

// callOf is the recorded form of act, and whether the executor will run
// it (it answers unknown tools itself).
func (a *agentWrapper) callOf(act schema.AgentAction) (trajectory.ToolCall, bool) {
	call := trajectory.ToolCall{
		ID:    act.ToolID,
		Tool:  act.Tool,
		Input: strings.TrimSuffix(act.ToolInput, "\nObservation:"),
	}
	if !a.knows(act.Tool) {
		unknownTool(&call)
		return call, false
	}
	return call, true
}

// unknownTool marks call as one the executor answers itself, without a call.
//
//go:noinline
func unknownTool(call *trajectory.ToolCall) {
	call.UnknownTool = true
	call.Observation = fmt.Sprintf("%s is not a valid tool, try another one", call.Tool)
}

// noteActions records a step that asks for several calls.
//
//go:noinline
func (a *agentWrapper) noteActions(r *run.Run, actions []schema.AgentAction) {
	r.NoteThought(thoughtOf, actions[0].Log, "")
	for _, act := range actions {
		call, known := a.callOf(act)
		r.AddCall(call, known)
	}
}

// withAnswer returns a copy of finish whose answer is text.
func withAnswer(finish *schema.AgentFinish, keys []string, text string) *schema.AgentFinish {
	cp := *finish
	cp.ReturnValues = make(map[string]any, len(finish.ReturnValues))
	for k, v := range finish.ReturnValues {
		cp.ReturnValues[k] = v
	}
	for _, k := range outputKeys(finish, keys) {
		cp.ReturnValues[k] = text
	}
	return &cp
}

func outputKeys(f *schema.AgentFinish, keys []string) []string {
	var out []string
	for _, k := range keys {
		if _, ok := f.ReturnValues[k]; ok {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		if _, ok := f.ReturnValues["output"]; ok {
			out = append(out, "output")
		}
	}
	return out
}

func answerOf(f *schema.AgentFinish, keys []string) string {
	for _, k := range outputKeys(f, keys) {
		if s, ok := f.ReturnValues[k].(string); ok {
			return s
		}
		return fmt.Sprint(f.ReturnValues[k])
	}
	return ""
}

// thoughtOf extracts the reasoning that precedes an action or a final answer
// in a ReAct-style completion; text without those markers is all thought.
// The thought of a step is taken from the model's own completion where the
// step has one (the log of some agents is their own paraphrase of it), and
// from the agent's log otherwise (Run.NoteThought).
func thoughtOf(log string) string {
	th := strings.TrimSpace(log[:markerAt(log)])
	th = strings.TrimPrefix(th, "Thought:")
	return strings.TrimSpace(th)
}

// markerAt returns where the first "Action:", "Final Answer:" or "AI:" in
// log begins, or len(log). Each marker has its only colon at its end, so
// the first colon that ends one ends the earliest: one pass over the
// colons finds it.
func markerAt(log string) int {
	for from := 0; ; {
		i := strings.IndexByte(log[from:], ':')
		if i < 0 {
			return len(log)
		}
		i += from
		for _, m := range [...]string{"Action", "Final Answer", "AI"} {
			if strings.HasSuffix(log[:i], m) {
				return i - len(m)
			}
		}
		from = i + 1
	}
}

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

	mu    sync.Mutex
	src   []tools.Tool // the agent's tools the wrapped ones were made from
	tools []tools.Tool
	specs []trajectory.ToolSpec
	known map[string]bool // tool names as given and upper-cased, as the executor looks them up
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
func (a *agentWrapper) GetTools() []tools.Tool {
	src := a.inner.GetTools()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tools != nil && sameTools(a.src, src) {
		return a.tools
	}
	a.src = src
	a.tools = make([]tools.Tool, len(src))
	a.specs = make([]trajectory.ToolSpec, len(src))
	a.known = make(map[string]bool, 2*len(src))
	for i, t := range src {
		w := wrapTool(t)
		a.tools[i], a.specs[i] = w, w.spec
		a.known[t.Name()] = true
		a.known[strings.ToUpper(t.Name())] = true
	}
	return a.tools
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
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.known[tool] || a.known[strings.ToUpper(tool)]
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
			completion, _ := r.LastCompletion()
			r.NoteStep(thoughtOf(completion), err.Error())
		}
		return actions, finish, err

	case finish != nil:
		keys := a.inner.GetOutputKeys()
		r.NoteStep(thoughtFrom(r, finish.Log), "")
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

	r.NoteStep(thoughtFrom(r, actions[0].Log), "")
	for _, act := range actions {
		call := trajectory.ToolCall{
			ID:    act.ToolID,
			Tool:  act.Tool,
			Input: strings.TrimSuffix(act.ToolInput, "\nObservation:"),
		}
		known := a.knows(act.Tool)
		if !known {
			// The executor answers unknown tools itself, without a call.
			call.UnknownTool = true
			call.Observation = fmt.Sprintf("%s is not a valid tool, try another one", act.Tool)
		}
		r.AddCall(call, known)
	}
	keepResumeState(r, inputs, steps, actions)
	return actions, nil, nil
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

// thoughtFrom prefers the model's own completion (the log of some agents is
// their own paraphrase of it) and falls back to the agent's log.
func thoughtFrom(r *run.Run, log string) string {
	if completion, ok := r.LastCompletion(); ok {
		return thoughtOf(completion)
	}
	return thoughtOf(log)
}

// thoughtOf extracts the reasoning that precedes an action or a final answer
// in a ReAct-style completion; text without those markers is all thought.
func thoughtOf(log string) string {
	cut := len(log)
	for _, marker := range []string{"Action:", "Final Answer:", "AI:"} {
		if i := strings.Index(log, marker); i >= 0 && i < cut {
			cut = i
		}
	}
	th := strings.TrimSpace(log[:cut])
	th = strings.TrimPrefix(th, "Thought:")
	return strings.TrimSpace(th)
}

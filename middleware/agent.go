package middleware

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/trajectory"
)

// agentWrapper records each Plan call as a step and decides, from what Plan
// returns, how the executor will go on.
type agentWrapper struct {
	m     *Middleware
	inner agents.Agent
	tools []tools.Tool
	specs []trajectory.ToolSpec
	known map[string]bool // tool names as given and upper-cased, as the executor looks them up
	name  string
}

var _ agents.Agent = (*agentWrapper)(nil)

func (a *agentWrapper) GetInputKeys() []string  { return a.inner.GetInputKeys() }
func (a *agentWrapper) GetOutputKeys() []string { return a.inner.GetOutputKeys() }
func (a *agentWrapper) GetTools() []tools.Tool  { return a.tools }

// Plan records one iteration of the agent loop.
func (a *agentWrapper) Plan(ctx context.Context, steps []schema.AgentStep, inputs map[string]string, options ...chains.ChainCallOption) ([]schema.AgentAction, *schema.AgentFinish, error) {
	r := a.m.reg.forPlan(inputs)
	if r != nil && len(steps) == 0 {
		// A hand-built loop reuses its inputs map for a new run: the
		// previous one ended without telling us.
		a.m.finish(r, trajectory.StatusError, "run ended without a final answer or error (abandoned)")
		r = nil
	}
	if r == nil {
		r = a.start(ctx, inputs)
	} else if r.goroutine() == 0 && a.m.reg.sharedContext(r) {
		// Another run now shares this context: learn our goroutine before
		// this step's tool calls, so they are not taken for the other's.
		r.setGoroutine(goid())
	}

	r.mu.Lock()
	r.iter++
	max := a.m.maxIterations()
	r.last = max > 0 && r.iter >= max
	r.t.Steps = append(r.t.Steps, trajectory.Step{Index: len(r.t.Steps), StartedAt: now()})
	r.mu.Unlock()

	actions, finish, err := a.inner.Plan(withRunState(ctx, r), steps, inputs, options...)

	r.mu.Lock()
	s := r.step()
	s.Duration = time.Since(s.StartedAt)
	switch {
	case err != nil:
		if errors.Is(err, agents.ErrUnableToParseOutput) {
			s.ParseError = err.Error()
			s.Thought = thoughtOf(lastCompletion(s))
			if a.m.parseErrorsHandled() {
				// The executor shows the error to the agent and goes on.
				if r.last {
					r.mu.Unlock()
					a.m.finish(r, trajectory.StatusMaxIterations, agents.ErrNotFinished.Error())
					return actions, finish, err
				}
				r.mu.Unlock()
				return actions, finish, err
			}
			r.mu.Unlock()
			a.m.finish(r, trajectory.StatusParseError, err.Error())
			return actions, finish, err
		}
		r.mu.Unlock()
		status := trajectory.StatusError
		if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			status = trajectory.StatusCancelled
		}
		a.m.finish(r, status, err.Error())
		return actions, finish, err

	case finish != nil:
		s.Final = true
		s.Thought = thoughtFrom(s, finish.Log)
		s.Answer = answerOf(finish, a.inner.GetOutputKeys())
		r.mu.Unlock()
		finish = a.checkAnswer(ctx, r, finish, s.Answer)
		r.mu.Lock()
		r.t.FinalAnswer = answerOf(finish, a.inner.GetOutputKeys())
		r.mu.Unlock()
		a.m.finish(r, trajectory.StatusFinished, "")
		return actions, finish, nil

	case len(actions) == 0:
		r.mu.Unlock()
		a.m.finish(r, trajectory.StatusError, agents.ErrAgentNoReturn.Error())
		return actions, finish, err
	}

	s.Thought = thoughtFrom(s, actions[0].Log)
	for _, act := range actions {
		call := trajectory.ToolCall{
			ID:    act.ToolID,
			Tool:  act.Tool,
			Input: strings.TrimSuffix(act.ToolInput, "\nObservation:"),
		}
		if !a.knows(act.Tool) {
			// The executor answers unknown tools itself, without a call.
			call.UnknownTool = true
			call.Observation = fmt.Sprintf("%s is not a valid tool, try another one", act.Tool)
		} else {
			r.pending = append(r.pending, pendingCall{step: s.Index, call: len(s.Calls), tool: act.Tool})
		}
		s.Calls = append(s.Calls, call)
	}
	done := r.last && len(r.pending) == 0
	r.mu.Unlock()
	if done {
		a.m.finish(r, trajectory.StatusMaxIterations, agents.ErrNotFinished.Error())
	}
	return actions, nil, nil
}

// knows reports whether the executor will find the tool: it matches names
// case-insensitively. The exact name, the usual case, needs no upper-cased
// copy.
func (a *agentWrapper) knows(tool string) bool {
	return a.known[tool] || a.known[strings.ToUpper(tool)]
}

// start opens a new run for the calling goroutine.
func (a *agentWrapper) start(ctx context.Context, inputs map[string]string) *runState {
	t := &trajectory.Trajectory{
		SchemaVersion: trajectory.SchemaVersion,
		Task:          taskOf(inputs, a.inner.GetInputKeys()),
		Inputs:        inputs,
		Agent:         a.name,
		Tools:         a.specs,
		Status:        trajectory.StatusRunning,
		StartedAt:     now(),
		Steps:         make([]trajectory.Step, 0, 8),
	}
	if len(a.m.cfg.metadata) > 0 {
		t.Metadata = make(map[string]string, len(a.m.cfg.metadata))
		for k, v := range a.m.cfg.metadata {
			t.Metadata[k] = v
		}
	}
	r := &runState{t: t, ctx: ctx, inputs: inputs}
	if h := runHandle(ctx); h != nil {
		r.handle = h
		t.ID, t.GroupID, t.ParentID, t.Round = h.ID, h.GroupID, h.ParentID, h.Round
		r.critique = h.Critique
		for k, v := range h.Metadata {
			if t.Metadata == nil {
				t.Metadata = map[string]string{}
			}
			t.Metadata[k] = v
		}
	}
	if t.ID == "" {
		t.ID = newRunID()
	}
	_, r.span = a.m.tracer.startRun(ctx, t)
	a.m.reg.put(r)
	return r
}

// checkAnswer runs the final-answer guards. A blocked answer is withheld:
// the caller gets the block message instead.
func (a *agentWrapper) checkAnswer(ctx context.Context, r *runState, finish *schema.AgentFinish, answer string) *schema.AgentFinish {
	if a.m.chain == nil {
		return finish
	}
	out := a.m.check(ctx, r, trajectory.EventFinalAnswer, trajectory.ToolSpec{}, nil, answer)
	if out.Verdict == trajectory.Allow {
		return finish
	}
	msg := guardrails.BlockMessage(out.By, out.Reason)
	cp := *finish
	cp.ReturnValues = make(map[string]any, len(finish.ReturnValues))
	for k, v := range finish.ReturnValues {
		cp.ReturnValues[k] = v
	}
	for _, k := range outputKeys(finish, a.inner.GetOutputKeys()) {
		cp.ReturnValues[k] = msg
	}
	return &cp
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

func lastCompletion(s *trajectory.Step) string {
	if n := len(s.LLMCalls); n > 0 {
		return s.LLMCalls[n-1].Completion
	}
	return ""
}

// thoughtFrom prefers the model's own completion (the log of some agents is
// their own paraphrase of it) and falls back to the agent's log.
func thoughtFrom(s *trajectory.Step, log string) string {
	if len(s.LLMCalls) > 0 {
		return thoughtOf(lastCompletion(s))
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

package middleware

import (
	"context"
	"sync"
	"time"

	"github.com/tmc/langchaingo/llms"

	"github.com/reagent-go/reagent/trajectory"
)

// modelWrapper records the model calls of a run and injects pending
// critiques into the prompt.
type modelWrapper struct {
	m     *Middleware
	inner llms.Model
}

var _ llms.Model = (*modelWrapper)(nil)

// GenerateContent calls the wrapped model and records the call into the run
// found in ctx. Calls outside a run pass through unrecorded.
func (w *modelWrapper) GenerateContent(ctx context.Context, messages []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	r := runFromContext(ctx)
	if r == nil {
		return w.inner.GenerateContent(ctx, messages, options...)
	}
	r.mu.Lock()
	if r.critique != "" {
		// The feedback stays in every call of the run: agents rebuild their
		// prompt each turn. The step records it once, where it first went in.
		messages = injectCritique(messages, r.critique)
		if !r.critiqueRecorded {
			r.step().Critique = r.critique
			r.critiqueRecorded = true
		}
	}
	first := len(r.t.Steps) == 1 && len(r.step().LLMCalls) == 0
	stepStart := len(r.step().LLMCalls) == 0
	r.mu.Unlock()
	if stepStart && !first && w.m.cfg.critiqueJudge != nil {
		messages = w.m.stepCritique(ctx, r, messages)
	}

	call := trajectory.LLMCall{StartedAt: now(), Model: requestedModel(w.m.cfg.modelName, options)}
	if first && w.m.cfg.capturePrompt {
		call.Messages = toMessages(messages)
	}
	spanCtx, span := w.m.tracer.startChat(ctx, r.span)
	if span != nil {
		ctx = spanCtx
	}
	resp, err := w.inner.GenerateContent(ctx, messages, options...)
	call.Duration = time.Since(call.StartedAt)
	if err != nil {
		call.Error = err.Error()
	} else if resp != nil && len(resp.Choices) > 0 {
		c := resp.Choices[0]
		call.Completion = c.Content
		call.Reasoning = c.ReasoningContent
		call.StopReason = c.StopReason
		call.Usage = usageOf(c.GenerationInfo)
		if m, ok := c.GenerationInfo["model"].(string); ok && m != "" {
			call.Model = m
		}
		for _, tc := range c.ToolCalls {
			spec := trajectory.ToolCallSpec{ID: tc.ID}
			if tc.FunctionCall != nil {
				spec.Name, spec.Arguments = tc.FunctionCall.Name, tc.FunctionCall.Arguments
			}
			call.ToolCalls = append(call.ToolCalls, spec)
		}
		if len(c.ToolCalls) == 0 && c.FuncCall != nil {
			call.ToolCalls = append(call.ToolCalls, trajectory.ToolCallSpec{Name: c.FuncCall.Name, Arguments: c.FuncCall.Arguments})
		}
	}
	w.m.tracer.endChat(span, &call)
	r.mu.Lock()
	s := r.step()
	s.LLMCalls = append(s.LLMCalls, call)
	if call.Model != "" && r.t.Model == "" {
		r.t.Model = call.Model
	}
	r.mu.Unlock()
	return resp, err
}

// Call implements the deprecated single-prompt method through GenerateContent
// so that it is recorded too.
func (w *modelWrapper) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, w, prompt, options...)
}

// injectCritique adds the critique as a system message right before the
// last user message (the question, for every langchaingo agent kind), a
// place that stays the same from one turn of the run to the next.
func injectCritique(messages []llms.MessageContent, critique string) []llms.MessageContent {
	note := llms.MessageContent{
		Role:  llms.ChatMessageTypeSystem,
		Parts: []llms.ContentPart{llms.TextContent{Text: CritiquePrefix + critique}},
	}
	at := 0
	for i := len(messages) - 1; i >= 0; i-- {
		if messages[i].Role == llms.ChatMessageTypeHuman || messages[i].Role == llms.ChatMessageTypeGeneric {
			at = i
			break
		}
	}
	out := make([]llms.MessageContent, 0, len(messages)+1)
	out = append(out, messages[:at]...)
	out = append(out, note)
	return append(out, messages[at:]...)
}

// CritiquePrefix introduces an injected critique in the prompt.
const CritiquePrefix = "Feedback from a reviewer on your reasoning so far (use it to do better): "

func toMessages(in []llms.MessageContent) []trajectory.Message {
	out := make([]trajectory.Message, 0, len(in))
	for _, mc := range in {
		m := trajectory.Message{Role: roleOf(mc.Role)}
		for _, p := range mc.Parts {
			switch p := p.(type) {
			case llms.TextContent:
				m.Content += p.Text
			case llms.ToolCall:
				spec := trajectory.ToolCallSpec{ID: p.ID}
				if p.FunctionCall != nil {
					spec.Name, spec.Arguments = p.FunctionCall.Name, p.FunctionCall.Arguments
				}
				m.ToolCalls = append(m.ToolCalls, spec)
			case llms.ToolCallResponse:
				m.ToolCallID, m.Name = p.ToolCallID, p.Name
				m.Content += p.Content
			}
		}
		out = append(out, m)
	}
	return out
}

func roleOf(t llms.ChatMessageType) string {
	switch t {
	case llms.ChatMessageTypeSystem:
		return "system"
	case llms.ChatMessageTypeAI:
		return "assistant"
	case llms.ChatMessageTypeTool, llms.ChatMessageTypeFunction:
		return "tool"
	default:
		return "user"
	}
}

func usageOf(info map[string]any) trajectory.Usage {
	return trajectory.Usage{
		PromptTokens:     intOf(info["PromptTokens"]),
		CompletionTokens: intOf(info["CompletionTokens"]),
		TotalTokens:      intOf(info["TotalTokens"]),
	}
}

func intOf(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case int32:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

// requestedModel is the model a call asks for: a per-call option wins over
// the configured name.
func requestedModel(configured string, options []llms.CallOption) string {
	if len(options) == 0 {
		return configured
	}
	// The options are functions that may keep the struct: it cannot live
	// on the stack, and a pool spares an allocation on every model call.
	o := callOptionsPool.Get().(*llms.CallOptions)
	*o = llms.CallOptions{}
	for _, opt := range options {
		opt(o)
	}
	model := o.Model
	*o = llms.CallOptions{} // drop references before pooling
	callOptionsPool.Put(o)
	if model != "" {
		return model
	}
	return configured
}

var callOptionsPool = sync.Pool{New: func() any { return new(llms.CallOptions) }}

// stepCritique judges the run so far and, as the critique mode says, adds
// the critique to the messages of the step's first model call.
func (m *Middleware) stepCritique(ctx context.Context, r *runState, messages []llms.MessageContent) []llms.MessageContent {
	r.mu.Lock()
	snap := r.t.Clone()
	r.mu.Unlock()
	snap.Steps = snap.Steps[:len(snap.Steps)-1] // the step about to start has nothing yet
	snap.Status = trajectory.StatusRunning
	a := m.judgeWith(ctx, m.cfg.critiqueJudge, snap)
	a.Partial, a.Steps = true, len(snap.Steps)
	inject := a.OK() && a.Critique != "" && (m.cfg.critiqueMode == CritiqueEveryStep || a.Score < m.cfg.critiqueBelow)
	r.mu.Lock()
	r.t.Assessments = append(r.t.Assessments, a)
	if inject {
		r.step().Critique = a.Critique
	}
	r.mu.Unlock()
	if !inject {
		return messages
	}
	return injectCritique(messages, a.Critique)
}

package middleware

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/tmc/langchaingo/llms"

	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// modelWrapper records the model calls of the run in their context and
// shows the model the instructions the run's hooks add (critiques).
type modelWrapper struct {
	inner llms.Model

	// opts is the struct requestedModel applies a call's options to, while
	// optsBusy is unset (calls made at the same time use a pooled one).
	optsBusy atomic.Bool
	opts     llms.CallOptions
}

var _ llms.Model = (*modelWrapper)(nil)

// GenerateContent calls the wrapped model and records the call into the run
// found in ctx. Calls outside a run pass through unrecorded.
func (w *modelWrapper) GenerateContent(ctx context.Context, messages []llms.MessageContent, options ...llms.CallOption) (resp *llms.ContentResponse, err error) {
	r := run.FromContext(ctx)
	if r == nil {
		return w.inner.GenerateContent(ctx, messages, options...)
	}
	// Without model hooks or a start critique the run records the call on
	// its short path (BeginModel); otherwise the hooks see it (StartModel).
	slot, short := r.BeginModel()
	if !short {
		return w.generateHooked(ctx, r, messages, options)
	}
	var call trajectory.LLMCall
	if r.CaptureFirstPrompt(slot) {
		call.Messages = toMessages(messages)
	}
	if len(options) > 0 {
		call.Model = w.requestedModel("", options) // "": EndModelSlot gives the configured name
	}
	done := false
	defer func() {
		if !done { // the model panicked: record it, and let the panic go on
			call.Error = "model panicked"
			r.EndModelSlot(slot, &call)
		}
	}()
	resp, err = w.inner.GenerateContent(ctx, messages, options...)
	done = true
	recordResponse(&call, resp, err)
	r.EndModelSlot(slot, &call)
	return resp, err
}

// generateHooked is GenerateContent for a run whose hooks see the call
// (or that shows the model a critique).
//
//go:noinline
func (w *modelWrapper) generateHooked(ctx context.Context, r *run.Run, messages []llms.MessageContent, options []llms.CallOption) (resp *llms.ContentResponse, err error) {
	ctx, mc, err := r.StartModel(ctx)
	if err != nil {
		return nil, err
	}
	if len(mc.Instructions) > 0 {
		messages = injectInstructions(messages, mc.Instructions)
	}
	if r.CapturePrompt(mc) {
		mc.Record.Messages = toMessages(messages)
	}
	if len(options) > 0 {
		mc.Record.Model = w.requestedModel(mc.Record.Model, options)
	}
	done := false
	defer func() {
		if !done { // the model panicked: record it, and let the panic go on
			mc.Record.Error = "model panicked"
			r.EndModel(ctx, mc)
		}
	}()
	resp, err = w.inner.GenerateContent(ctx, messages, options...)
	done = true
	recordResponse(&mc.Record, resp, err)
	r.EndModel(ctx, mc)
	return resp, err
}

// recordResponse records a model call's outcome in call.
func recordResponse(call *trajectory.LLMCall, resp *llms.ContentResponse, err error) {
	if err != nil {
		call.Error = err.Error()
		return
	}
	if resp == nil || len(resp.Choices) == 0 {
		return
	}
	c := resp.Choices[0]
	call.Completion = c.Content
	call.Reasoning = c.ReasoningContent
	call.StopReason = c.StopReason
	call.Usage = usageOf(c.GenerationInfo)
	if len(c.GenerationInfo) > 0 {
		if m, ok := c.GenerationInfo["model"].(string); ok && m != "" {
			call.Model = m
		}
	}
	if len(c.ToolCalls) > 0 || c.FuncCall != nil {
		recordToolCalls(call, c)
	}
}

// recordToolCalls records the tool calls a completion asks for.
//
//go:noinline
func recordToolCalls(call *trajectory.LLMCall, c *llms.ContentChoice) {
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

// Call implements the deprecated single-prompt method through GenerateContent
// so that it is recorded too.
func (w *modelWrapper) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, w, prompt, options...)
}

// injectInstructions adds the notes as system messages right before the
// last user message (the question, for every langchaingo agent kind), a
// place that stays the same from one turn of the run to the next.
func injectInstructions(messages []llms.MessageContent, notes []string) []llms.MessageContent {
	at := 0
	for i := len(messages) - 1; i >= 0; i-- {
		if messages[i].Role == llms.ChatMessageTypeHuman || messages[i].Role == llms.ChatMessageTypeGeneric {
			at = i
			break
		}
	}
	out := make([]llms.MessageContent, 0, len(messages)+len(notes))
	out = append(out, messages[:at]...)
	for _, n := range notes {
		out = append(out, llms.MessageContent{
			Role:  llms.ChatMessageTypeSystem,
			Parts: []llms.ContentPart{llms.TextContent{Text: n}},
		})
	}
	return append(out, messages[at:]...)
}

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
	if len(info) == 0 {
		return trajectory.Usage{}
	}
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
func (w *modelWrapper) requestedModel(configured string, options []llms.CallOption) string {
	// The options are functions that may keep the struct: it cannot live
	// on the stack. The wrapper's own struct serves one call at a time, a
	// pooled one the others.
	o := &w.opts
	own := w.optsBusy.CompareAndSwap(false, true)
	if !own {
		o = callOptionsPool.Get().(*llms.CallOptions)
	}
	for _, opt := range options {
		opt(o)
	}
	model := o.Model
	*o = llms.CallOptions{} // drop references before reuse
	if own {
		w.optsBusy.Store(false)
	} else {
		callOptionsPool.Put(o)
	}
	if model != "" {
		return model
	}
	return configured
}

var callOptionsPool = sync.Pool{New: func() any { return new(llms.CallOptions) }}

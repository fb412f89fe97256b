package tinylm

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/tmc/langchaingo/llms"
)

// Keys of ContentChoice.GenerationInfo, the same as langchaingo's openai
// client uses.
const (
	InfoPromptTokens     = "PromptTokens"
	InfoCompletionTokens = "CompletionTokens"
	InfoTotalTokens      = "TotalTokens"
)

// Call generates a reply to a single user message.
func (m *Model) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// GenerateContent renders messages with the chat template, generates the
// assistant's reply and returns it as one choice. Besides the options
// Generate honours, tools offered with llms.WithTools (or WithFunctions)
// make <tool_call> lines in the reply come back as ContentChoice.ToolCalls,
// unless the tool choice is "none". The tools' descriptions are not shown
// to the model: the template has no place for them.
func (m *Model) GenerateContent(ctx context.Context, messages []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	var opts llms.CallOptions
	for _, o := range options {
		o(&opts)
	}
	if opts.N > 1 || opts.CandidateCount > 1 {
		return nil, invalidf("only one choice per call is supported (n = 1)")
	}
	msgs, err := ChatMessages(messages)
	if err != nil {
		return nil, err
	}
	prompt, err := ApplyChatTemplate(msgs, true)
	if err != nil {
		return nil, err
	}
	tools := toolsOffered(&opts)
	var markers []string
	if tools {
		markers = []string{"\n" + toolCallOpen, toolCallOpen}
	}
	c, err := m.generate(ctx, prompt, &opts, markers)
	if err != nil {
		return nil, err
	}
	choice := &llms.ContentChoice{
		Content:    c.Text,
		StopReason: c.StopReason,
		GenerationInfo: map[string]any{
			InfoPromptTokens:     c.PromptTokens,
			InfoCompletionTokens: len(c.Tokens),
			InfoTotalTokens:      c.PromptTokens + len(c.Tokens),
		},
	}
	if tools {
		content, calls := ParseToolCalls(c.Text)
		if len(calls) > 0 {
			choice.Content = content
			for i, call := range calls {
				choice.ToolCalls = append(choice.ToolCalls, llms.ToolCall{
					ID:           toolCallID(prompt, c.Tokens, i),
					Type:         "function",
					FunctionCall: &llms.FunctionCall{Name: call.Name, Arguments: call.Arguments},
				})
			}
			choice.FuncCall = choice.ToolCalls[0].FunctionCall
			if c.StopReason == StopReasonStop {
				choice.StopReason = StopReasonToolCalls
			}
		}
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{choice}}, nil
}

// toolCallID derives a call's ID from the conversation, the completion and
// the call's index: repeatable for a seeded call, distinct across the turns
// of one conversation.
func toolCallID(prompt, completion []int, i int) string {
	h := fnv.New64a()
	var b [4]byte
	for _, seq := range [][]int{prompt, {-1}, completion, {-2, i}} {
		for _, id := range seq {
			binary.LittleEndian.PutUint32(b[:], uint32(id))
			h.Write(b[:])
		}
	}
	return fmt.Sprintf("call_%016x", h.Sum64())
}

// toolsOffered reports whether the caller offered tools and allows the
// model to call them.
func toolsOffered(opts *llms.CallOptions) bool {
	if len(opts.Tools) == 0 && len(opts.Functions) == 0 {
		return false
	}
	if s, ok := opts.ToolChoice.(string); ok && s == "none" {
		return false
	}
	return opts.FunctionCallBehavior != llms.FunctionCallBehaviorNone
}

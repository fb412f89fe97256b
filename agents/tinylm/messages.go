package tinylm

import (
	"strings"

	"github.com/reagent-go/reagent/trajectory"
	"github.com/tmc/langchaingo/llms"
)

// ChatMessages converts langchaingo messages to the chat messages the
// template renders. System, human (and generic) and AI messages keep their
// text, parts joined without a separator (as the Python policy server
// does); an AI message's ToolCall parts become its tool calls; each
// ToolCallResponse becomes one tool message (the template names an unnamed
// one after the call it answers). Images and other binary parts are
// refused: the model reads text only.
func ChatMessages(msgs []llms.MessageContent) ([]trajectory.Message, error) {
	out := make([]trajectory.Message, 0, len(msgs))
	for i, mc := range msgs {
		var role string
		switch mc.Role {
		case llms.ChatMessageTypeSystem:
			role = "system"
		case llms.ChatMessageTypeHuman, llms.ChatMessageTypeGeneric:
			role = "user"
		case llms.ChatMessageTypeAI:
			role = "assistant"
		case llms.ChatMessageTypeTool, llms.ChatMessageTypeFunction:
			role = "tool"
		default:
			return nil, invalidf("message %d has unsupported role %q", i, mc.Role)
		}
		var texts []string
		var calls []trajectory.ToolCallSpec
		var responses []llms.ToolCallResponse
		for j, part := range mc.Parts {
			switch p := part.(type) {
			case llms.TextContent:
				texts = append(texts, p.Text)
			case llms.ToolCall:
				if role != "assistant" {
					return nil, invalidf("message %d (%s) part %d: only AI messages carry tool calls", i, mc.Role, j)
				}
				if p.FunctionCall == nil {
					return nil, invalidf("message %d part %d: tool call %q has no function", i, j, p.ID)
				}
				args := p.FunctionCall.Arguments
				if strings.TrimSpace(args) == "" {
					args = "{}" // keep the rendered call valid JSON
				}
				calls = append(calls, trajectory.ToolCallSpec{ID: p.ID, Name: p.FunctionCall.Name, Arguments: args})
			case llms.ToolCallResponse:
				if role != "tool" {
					return nil, invalidf("message %d (%s) part %d: tool responses belong in tool messages", i, mc.Role, j)
				}
				responses = append(responses, p)
			default:
				return nil, invalidf("message %d part %d: %T is not supported (the model reads text only)", i, j, part)
			}
		}
		if role == "tool" {
			if len(responses) == 0 {
				// A tool message written as plain text.
				out = append(out, trajectory.Message{Role: role, Content: strings.Join(texts, "")})
				continue
			}
			if len(texts) > 0 {
				return nil, invalidf("message %d mixes text and tool responses", i)
			}
			for _, r := range responses {
				out = append(out, trajectory.Message{Role: role, Name: r.Name, Content: r.Content, ToolCallID: r.ToolCallID})
			}
			continue
		}
		out = append(out, trajectory.Message{Role: role, Content: strings.Join(texts, ""), ToolCalls: calls})
	}
	return out, nil
}

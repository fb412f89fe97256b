package tinylm

import (
	"cmp"
	"unicode/utf8"

	"github.com/reagent-go/reagent/trajectory"
)

// roleToken maps a chat role to its special token.
func roleToken(role string) (int, bool) {
	switch role {
	case "system":
		return TokSystem, true
	case "user":
		return TokUser, true
	case "assistant":
		return TokAssistant, true
	case "tool":
		return TokTool, true
	}
	return 0, false
}

// ApplyChatTemplate renders messages as token ids with the chat template of
// docs/tiny-model.md: <|bos|>, then <|role|> content <|end|> per message,
// then <|assistant|> when generationPrompt is true. Roles must be system,
// user, assistant or tool.
func ApplyChatTemplate(messages []trajectory.Message, generationPrompt bool) ([]int, error) {
	ids, _, err := ApplyChatTemplateMask(messages, generationPrompt)
	return ids, err
}

// ApplyChatTemplateMask is ApplyChatTemplate that also returns which tokens
// are trainable: those of assistant messages (content, tool calls and the
// closing <|end|>), never the role token or the generation prompt. A tool
// message without a name is shown with the name of the call it answers
// (its ToolCallID): OpenAI clients send results with the id only.
func ApplyChatTemplateMask(messages []trajectory.Message, generationPrompt bool) (ids []int, trainable []bool, err error) {
	ids = append(ids, TokBOS)
	trainable = append(trainable, false)
	// mark labels every token added since the last call.
	mark := func(v bool) {
		for len(trainable) < len(ids) {
			trainable = append(trainable, v)
		}
	}
	var callNames map[string]string // tool call id -> tool name
	for i, m := range messages {
		tok, ok := roleToken(m.Role)
		if !ok {
			return nil, nil, invalidf("message %d has role %q; want system, user, assistant or tool", i, m.Role)
		}
		if len(m.ToolCalls) > 0 && m.Role != "assistant" {
			return nil, nil, invalidf("message %d (%s) has tool calls; only assistant messages may", i, m.Role)
		}
		ids = append(ids, tok)
		mark(false)
		for _, c := range m.ToolCalls {
			if c.ID != "" {
				if callNames == nil {
					callNames = map[string]string{}
				}
				callNames[c.ID] = c.Name
			}
		}
		if name := cmp.Or(m.Name, callNames[m.ToolCallID]); m.Role == "tool" && name != "" {
			ids = appendText(ids, "["+name+"] ")
		}
		ids = appendText(ids, m.Content)
		for _, c := range m.ToolCalls {
			ids = appendText(ids, formatToolCall(c.Name, c.Arguments))
		}
		ids = append(ids, TokEnd)
		mark(m.Role == "assistant")
	}
	if generationPrompt {
		ids = append(ids, TokAssistant)
		mark(false)
	}
	return ids, trainable, nil
}

// formatToolCall writes one tool call line of an assistant message; the
// arguments go in verbatim.
func formatToolCall(name, arguments string) string {
	return "\n<tool_call>{\"name\": " + pyJSONString(name) + ", \"arguments\": " + arguments + "}</tool_call>"
}

// pyJSONString encodes s as a JSON string byte for byte as Python's
// json.dumps(s, ensure_ascii=False) does, which the PyTorch side uses:
// quotes, backslashes and control characters are escaped, everything else
// (non-ASCII, <, >, &, U+2028) is written as is.
func pyJSONString(s string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for _, r := range s { // invalid bytes arrive as U+FFFD, as Python would hold them
		switch r {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			if r < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&15])
			} else {
				b = utf8.AppendRune(b, r)
			}
		}
	}
	return string(append(b, '"'))
}

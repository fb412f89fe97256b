package tinylm

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/reagent-go/reagent/trajectory"
)

const (
	toolCallOpen  = "<tool_call>"
	toolCallClose = "</tool_call>"
)

// ParseToolCalls extracts the <tool_call>{"name": …, "arguments": …}</tool_call>
// segments the chat template defines from a completion. It returns the text
// without them (each with the line break before it) and the calls in order; a segment whose JSON does not parse
// or has no name, or one left unclosed, stays in the text. Arguments that
// are a JSON string are unquoted; any other JSON value is kept as written.
// Call IDs are left empty.
func ParseToolCalls(completion string) (content string, calls []trajectory.ToolCallSpec) {
	var kept strings.Builder
	rest := completion
	for {
		i := strings.Index(rest, toolCallOpen)
		if i < 0 {
			break
		}
		j := strings.Index(rest[i+len(toolCallOpen):], toolCallClose)
		if j < 0 {
			break
		}
		body := rest[i+len(toolCallOpen) : i+len(toolCallOpen)+j]
		end := i + len(toolCallOpen) + j + len(toolCallClose)
		call, ok := parseToolCallBody(body)
		if !ok {
			kept.WriteString(rest[:end])
			rest = rest[end:]
			continue
		}
		before := rest[:i]
		before = strings.TrimSuffix(before, "\n") // the template's line break
		kept.WriteString(before)
		calls = append(calls, call)
		rest = rest[end:]
	}
	if len(calls) == 0 {
		return completion, nil
	}
	kept.WriteString(rest)
	return kept.String(), calls
}

func parseToolCallBody(body string) (trajectory.ToolCallSpec, bool) {
	var v struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || strings.TrimSpace(v.Name) == "" {
		return trajectory.ToolCallSpec{}, false
	}
	args := bytes.TrimSpace(v.Arguments)
	switch {
	case len(args) == 0 || string(args) == "null":
		return trajectory.ToolCallSpec{Name: v.Name, Arguments: "{}"}, true
	case args[0] == '"':
		var s string
		if err := json.Unmarshal(args, &s); err != nil {
			return trajectory.ToolCallSpec{}, false
		}
		return trajectory.ToolCallSpec{Name: v.Name, Arguments: s}, true
	}
	return trajectory.ToolCallSpec{Name: v.Name, Arguments: string(args)}, true
}

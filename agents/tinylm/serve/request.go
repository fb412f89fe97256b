package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/tmc/langchaingo/llms"
)

// request is a parsed, checked chat completion request.
type request struct {
	messages     []llms.MessageContent
	options      []llms.CallOption
	stream       bool
	includeUsage bool
}

type wireRequest struct {
	Model               string            `json:"model"`
	Messages            []json.RawMessage `json:"messages"`
	Temperature         *float64          `json:"temperature"`
	TopP                *float64          `json:"top_p"`
	MaxTokens           *int              `json:"max_tokens"`
	MaxCompletionTokens *int              `json:"max_completion_tokens"`
	Stop                json.RawMessage   `json:"stop"`
	Seed                *int64            `json:"seed"`
	N                   *int              `json:"n"`
	Stream              bool              `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools      []json.RawMessage `json:"tools"`
	ToolChoice json.RawMessage   `json:"tool_choice"`
}

type wireInMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name"`
	ToolCalls  []wireInCall    `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

// wireInCall is a tool call in a request: nested OpenAI form or reagent's
// flattened {"id", "name", "arguments"}; arguments a JSON string or value.
type wireInCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function *struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// maxStopWords bounds the stop list (OpenAI allows 4).
const maxStopWords = 16

// parseRequest checks a chat completion body and turns it into langchaingo
// messages and call options. Every error names the offending field.
func parseRequest(body []byte) (*request, error) {
	var wr wireRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&wr); err != nil {
		return nil, fmt.Errorf("request body is not a valid chat completion request: %w", err)
	}
	if dec.More() {
		return nil, errors.New("request body has data after the JSON object")
	}
	if len(wr.Messages) == 0 {
		return nil, errors.New("messages: must be a non-empty list")
	}
	req := &request{stream: wr.Stream, includeUsage: wr.StreamOptions != nil && wr.StreamOptions.IncludeUsage}
	for i, raw := range wr.Messages {
		mc, err := parseMessage(raw)
		if err != nil {
			return nil, fmt.Errorf("messages[%d]%w", i, err)
		}
		req.messages = append(req.messages, mc)
	}

	temp := 1.0 // the OpenAI default when the field is absent
	if wr.Temperature != nil {
		temp = *wr.Temperature
		if math.IsNaN(temp) || temp < 0 || temp > 2 {
			return nil, fmt.Errorf("temperature: must be between 0 and 2, got %v", temp)
		}
	}
	req.options = append(req.options, llms.WithTemperature(temp))
	if wr.TopP != nil {
		if p := *wr.TopP; math.IsNaN(p) || p <= 0 || p > 1 {
			return nil, fmt.Errorf("top_p: must be in (0, 1], got %v", p)
		}
		req.options = append(req.options, llms.WithTopP(*wr.TopP))
	}
	maxTokens := wr.MaxCompletionTokens
	field := "max_completion_tokens"
	if maxTokens == nil {
		maxTokens, field = wr.MaxTokens, "max_tokens"
	}
	if maxTokens != nil {
		if *maxTokens < 1 {
			return nil, fmt.Errorf("%s: must be at least 1, got %d", field, *maxTokens)
		}
		req.options = append(req.options, llms.WithMaxTokens(*maxTokens))
	}
	if wr.N != nil && *wr.N != 1 {
		return nil, fmt.Errorf("n: only 1 choice is supported, got %d", *wr.N)
	}
	if wr.Seed != nil {
		if *wr.Seed == 0 {
			// 0 means "random" to the model; keep a requested 0 repeatable.
			*wr.Seed = math.MinInt64
		}
		req.options = append(req.options, llms.WithSeed(int(*wr.Seed)))
	}
	stops, err := parseStop(wr.Stop)
	if err != nil {
		return nil, err
	}
	if len(stops) > 0 {
		req.options = append(req.options, llms.WithStopWords(stops))
	}
	tools, err := parseTools(wr.Tools)
	if err != nil {
		return nil, err
	}
	if len(tools) > 0 {
		req.options = append(req.options, llms.WithTools(tools))
	}
	if len(wr.ToolChoice) > 0 && string(wr.ToolChoice) != "null" {
		var choice any
		var s string
		if err := json.Unmarshal(wr.ToolChoice, &s); err == nil {
			if s != "none" && s != "auto" && s != "required" {
				return nil, fmt.Errorf(`tool_choice: must be "none", "auto", "required" or an object, got %q`, s)
			}
			choice = s
		} else {
			var tc llms.ToolChoice
			if err := json.Unmarshal(wr.ToolChoice, &tc); err != nil {
				return nil, fmt.Errorf("tool_choice: %w", err)
			}
			choice = tc
		}
		req.options = append(req.options, llms.WithToolChoice(choice))
	}
	return req, nil
}

// parseMessage converts one OpenAI message; errors start with the field
// path after "messages[i]".
func parseMessage(raw json.RawMessage) (llms.MessageContent, error) {
	var m wireInMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return llms.MessageContent{}, fmt.Errorf(": not a message object: %w", err)
	}
	text, err := contentText(m.Content)
	if err != nil {
		return llms.MessageContent{}, fmt.Errorf(".content: %w", err)
	}
	if len(m.ToolCalls) > 0 && m.Role != "assistant" {
		return llms.MessageContent{}, fmt.Errorf(": only assistant messages carry tool_calls, this one is %q", m.Role)
	}
	switch m.Role {
	case "system", "developer":
		return llms.TextParts(llms.ChatMessageTypeSystem, text), nil
	case "user":
		return llms.TextParts(llms.ChatMessageTypeHuman, text), nil
	case "assistant":
		mc := llms.MessageContent{Role: llms.ChatMessageTypeAI}
		if text != "" || len(m.ToolCalls) == 0 {
			mc.Parts = append(mc.Parts, llms.TextPart(text))
		}
		for j, c := range m.ToolCalls {
			name, args := c.Name, c.Arguments
			if c.Function != nil {
				name, args = c.Function.Name, c.Function.Arguments
			}
			if name == "" {
				return llms.MessageContent{}, fmt.Errorf(".tool_calls[%d]: a tool call needs a function name", j)
			}
			a, err := argumentsText(args)
			if err != nil {
				return llms.MessageContent{}, fmt.Errorf(".tool_calls[%d].arguments: %w", j, err)
			}
			mc.Parts = append(mc.Parts, llms.ToolCall{ID: c.ID, Type: "function", FunctionCall: &llms.FunctionCall{Name: name, Arguments: a}})
		}
		return mc, nil
	case "tool", "function":
		return llms.MessageContent{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
			llms.ToolCallResponse{ToolCallID: m.ToolCallID, Name: m.Name, Content: text},
		}}, nil
	case "":
		return llms.MessageContent{}, errors.New(".role: missing")
	}
	return llms.MessageContent{}, fmt.Errorf(".role: must be system, developer, user, assistant or tool, got %q", m.Role)
}

// contentText reads message content: a string, null, or a list of text
// parts (joined without a separator, as the Python server does).
func contentText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("must be a string or a list of text parts")
	}
	var buf bytes.Buffer
	for i, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", fmt.Errorf("part %d is of type %q: only text parts are supported", i, p.Type)
		}
		buf.WriteString(*p.Text)
	}
	return buf.String(), nil
}

// argumentsText reads tool call arguments: a JSON string as is, any other
// JSON value as its compact text.
func argumentsText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "{}", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func parseStop(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("stop: must be a string or a list of strings")
	}
	if len(many) > maxStopWords {
		return nil, fmt.Errorf("stop: at most %d stop sequences, got %d", maxStopWords, len(many))
	}
	return many, nil
}

func parseTools(raws []json.RawMessage) ([]llms.Tool, error) {
	var tools []llms.Tool
	for i, raw := range raws {
		var t llms.Tool
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, fmt.Errorf("tools[%d]: %w", i, err)
		}
		if t.Type != "function" || t.Function == nil || t.Function.Name == "" {
			return nil, fmt.Errorf(`tools[%d]: must be {"type": "function", "function": {"name": …}}`, i)
		}
		tools = append(tools, t)
	}
	return tools, nil
}

package agents

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/reagent-go/reagent/internal/llmtest"
)

// The model in these tests is internal/llmtest's scripted OpenAI server.

// client returns a langchaingo OpenAI client for srv.
func client(t *testing.T, srv *llmtest.Server) *openai.LLM {
	t.Helper()
	llm, err := openai.New(openai.WithBaseURL(srv.URL), openai.WithToken("x"), openai.WithModel("scripted"))
	require.NoError(t, err)
	return llm
}

// call is one scripted tool call.
func call(id, name, args string) llmtest.ToolCall {
	return llmtest.ToolCall{ID: id, Name: name, Arguments: args}
}

// withoutIDs is a reply whose tool calls carry empty ids, as some servers
// send; llmtest fills in ids, so the body is written out raw.
func withoutIDs(t *testing.T, calls ...llmtest.ToolCall) llmtest.Reply {
	t.Helper()
	type fn struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	}
	type wireCall struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function fn     `json:"function"`
	}
	wire := make([]wireCall, len(calls))
	for i, c := range calls {
		wire[i] = wireCall{ID: "", Type: "function", Function: fn{c.Name, c.Arguments}}
	}
	body, err := json.Marshal(map[string]any{
		"id": "chatcmpl-noids", "object": "chat.completion", "model": "scripted",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "tool_calls",
			"message": map[string]any{"role": "assistant", "content": "", "tool_calls": wire}}},
	})
	require.NoError(t, err)
	return llmtest.Reply{Body: string(body)}
}

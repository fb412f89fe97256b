package serve

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/reagent-go/reagent/agents/tinylm"
	"github.com/tmc/langchaingo/llms"
)

// TestFixtureChats renders the chats of the PyTorch fixture the way a
// request to this server is rendered (OpenAI JSON → langchaingo messages →
// chat template) and compares with the token ids PyTorch wrote.
func TestFixtureChats(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "fixture", "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Chat []struct {
			Messages            []json.RawMessage `json:"messages"`
			AddGenerationPrompt bool              `json:"add_generation_prompt"`
			IDs                 []int             `json:"ids"`
		} `json:"chat"`
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Chat) == 0 {
		t.Fatal("the fixture has no chats")
	}
	for i, c := range fx.Chat {
		var msgs []llms.MessageContent
		for j, raw := range c.Messages {
			mc, err := parseMessage(raw)
			if err != nil {
				t.Fatalf("chat %d message %d: %v", i, j, err)
			}
			msgs = append(msgs, mc)
		}
		conv, err := tinylm.ChatMessages(msgs)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := tinylm.ApplyChatTemplate(conv, c.AddGenerationPrompt)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, c.IDs) {
			t.Errorf("chat %d: server rendering differs from PyTorch's\n  go %v\n  py %v", i, ids, c.IDs)
		}
	}
}

// FuzzParseRequest checks the request parser never panics and that what it
// accepts has messages the model's converter can take.
// Run longer with: go test ./agents/tinylm/serve -run '^$' -fuzz FuzzParseRequest -fuzztime 60s
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"messages": [{"role": "user", "content": "hi"}]}`,
		`{"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "a", "content": "x"}], "stream": true, "stop": ["\n"], "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "auto"}`,
		`{"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}], "temperature": 0.5, "top_p": 0.9, "seed": 3, "max_tokens": 9}`,
		`{"messages": null}`, `[]`, `{"messages": [{}]}`, `{"tool_choice": {"type": "function", "function": {"name": "f"}}, "messages": [{"role": "user"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseRequest(body)
		if err != nil {
			return
		}
		if len(req.messages) == 0 {
			t.Fatal("accepted a request without messages")
		}
		var opts llms.CallOptions
		for _, o := range req.options {
			o(&opts)
		}
		if opts.Temperature < 0 || opts.Temperature > 2 || opts.TopP < 0 || opts.TopP > 1 || opts.MaxTokens < 0 {
			t.Fatalf("accepted out-of-range options %+v", opts)
		}
		if _, err := tinylm.ChatMessages(req.messages); err != nil {
			t.Fatalf("accepted messages the model refuses: %v", err)
		}
	})
}

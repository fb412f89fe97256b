package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/reagent-go/reagent/agents/tinylm"
	"github.com/reagent-go/reagent/agents/tinylm/internal/tinytest"
	"github.com/reagent-go/reagent/trajectory"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
)

var shape = tinytest.Shape{VocabSize: tinytest.Vocab, DModel: 32, NLayer: 1, NHead: 2, MaxSeq: 256}

// scripted loads a model whose greedy reply to conv is reply + <|end|>.
func scripted(t *testing.T, conv []trajectory.Message, reply string) *tinylm.Model {
	t.Helper()
	prompt, err := tinylm.ApplyChatTemplate(conv, true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := tinytest.Write(dir, shape, tinytest.Scripted(shape, len(prompt), append(tinylm.Encode(reply), tinylm.TokEnd)), true); err != nil {
		t.Fatal(err)
	}
	m, err := tinylm.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start serves m and returns the server and a langchaingo client for it.
func start(t *testing.T, m llms.Model, opts ...Option) (*httptest.Server, *openai.LLM) {
	t.Helper()
	srv := httptest.NewServer(NewHandler(m, append([]Option{WithLogger(quiet())}, opts...)...))
	t.Cleanup(srv.Close)
	client, err := openai.New(openai.WithBaseURL(srv.URL+"/v1"), openai.WithToken("unused"), openai.WithModel("tiny"))
	if err != nil {
		t.Fatal(err)
	}
	return srv, client
}

func TestLangchaingoClient(t *testing.T) {
	conv := []trajectory.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Capital of France?"}}
	m := scripted(t, conv, "Paris, naturellement.")
	_, client := start(t, m)
	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "Be brief."),
		llms.TextParts(llms.ChatMessageTypeHuman, "Capital of France?"),
	}
	resp, err := client.GenerateContent(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.Content != "Paris, naturellement." || ch.StopReason != "stop" {
		t.Fatalf("got %q (%s)", ch.Content, ch.StopReason)
	}
	direct, err := m.GenerateContent(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"PromptTokens", "CompletionTokens", "TotalTokens"} {
		if ch.GenerationInfo[k] != direct.Choices[0].GenerationInfo[k] || ch.GenerationInfo[k] == 0 {
			t.Errorf("%s over HTTP %v, direct %v", k, ch.GenerationInfo[k], direct.Choices[0].GenerationInfo[k])
		}
	}

	// Streaming through the same client.
	var chunks []string
	resp, err = client.GenerateContent(context.Background(), msgs, llms.WithStreamingFunc(func(_ context.Context, c []byte) error {
		chunks = append(chunks, string(c))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(chunks, ""); got != "Paris, naturellement." || resp.Choices[0].Content != got {
		t.Fatalf("streamed %q, content %q", got, resp.Choices[0].Content)
	}
	if len(chunks) < 3 {
		t.Fatalf("%d chunks: the reply was not streamed", len(chunks))
	}
	if resp.Choices[0].GenerationInfo["TotalTokens"] != direct.Choices[0].GenerationInfo["TotalTokens"] {
		t.Fatalf("streamed usage %v", resp.Choices[0].GenerationInfo)
	}

	// Call, the single-prompt form.
	m2 := scripted(t, []trajectory.Message{{Role: "user", Content: "ping"}}, "pong")
	_, client2 := start(t, m2)
	if got, err := client2.Call(context.Background(), "ping"); err != nil || got != "pong" {
		t.Fatalf("Call: %q, %v", got, err)
	}
}

// TestToolRoundTrip drives a tool-calling turn through the langchaingo
// client: the tool result comes back without a name (the openai client
// drops it) and must still be rendered "[calc] 2", as the model was trained.
func TestToolRoundTrip(t *testing.T) {
	conv := []trajectory.Message{
		{Role: "user", Content: "1+1?"},
		{Role: "assistant", ToolCalls: []trajectory.ToolCallSpec{{Name: "calc", Arguments: `{"expr": "1+1"}`}}},
		{Role: "tool", Name: "calc", Content: "2"},
	}
	reply := "Checking again.\n<tool_call>{\"name\": \"calc\", \"arguments\": {\"expr\": \"2*1\"}}</tool_call>"
	m := scripted(t, conv, reply)
	_, client := start(t, m)
	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeHuman, "1+1?"),
		{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{
			llms.ToolCall{ID: "call_1", Type: "function", FunctionCall: &llms.FunctionCall{Name: "calc", Arguments: `{"expr": "1+1"}`}},
		}},
		{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: "call_1", Name: "calc", Content: "2"}}},
	}
	tools := llms.WithTools([]llms.Tool{{Type: "function", Function: &llms.FunctionDefinition{Name: "calc", Description: "arithmetic",
		Parameters: map[string]any{"type": "object", "properties": map[string]any{"expr": map[string]any{"type": "string"}}}}}})
	for _, stream := range []bool{false, true} {
		opts := []llms.CallOption{tools}
		var streamed strings.Builder
		if stream {
			opts = append(opts, llms.WithStreamingFunc(func(_ context.Context, c []byte) error {
				if !bytes.HasPrefix(c, []byte("[")) { // tool call deltas arrive as JSON arrays
					streamed.Write(c)
				}
				return nil
			}))
		}
		resp, err := client.GenerateContent(context.Background(), msgs, opts...)
		if err != nil {
			t.Fatalf("stream=%v: %v", stream, err)
		}
		ch := resp.Choices[0]
		if ch.Content != "Checking again." || ch.StopReason != "tool_calls" || len(ch.ToolCalls) != 1 {
			t.Fatalf("stream=%v: content %q, stop %q, calls %+v", stream, ch.Content, ch.StopReason, ch.ToolCalls)
		}
		call := ch.ToolCalls[0]
		if call.FunctionCall.Name != "calc" || call.FunctionCall.Arguments != `{"expr": "2*1"}` || !strings.HasPrefix(call.ID, "call_") {
			t.Fatalf("stream=%v: call %+v %+v", stream, call, call.FunctionCall)
		}
		if stream && streamed.String() != "Checking again." {
			t.Fatalf("streamed content %q", streamed.String())
		}
	}
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("response is not JSON: %v", err)
	}
	return resp.StatusCode, v
}

func TestBadRequests(t *testing.T) {
	m := scripted(t, []trajectory.Message{{Role: "user", Content: "x"}}, "y")
	srv, _ := start(t, m, WithMaxBodyBytes(64<<10))
	user := `"messages": [{"role": "user", "content": "x"}]`
	cases := []struct {
		body, want string
		status     int
	}{
		{`{`, "not a valid chat completion request", 400},
		{`{"messages": []}`, "messages: must be a non-empty list", 400},
		{`{"messages": [{"role": "robot", "content": "x"}]}`, "messages[0].role", 400},
		{`{"messages": [{"content": "x"}]}`, "messages[0].role: missing", 400},
		{`{"messages": [null]}`, "messages[0].role: missing", 400},
		{`{"messages": [{"role": "user", "content": 5}]}`, "messages[0].content", 400},
		{`{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}]}`, "only text parts", 400},
		{`{"messages": [{"role": "user", "content": "x", "tool_calls": [{"function": {"name": "f"}}]}]}`, "only assistant messages carry tool_calls", 400},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}]}`, "needs a function name", 400},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"name": "f", "arguments": {bad}}]}]}`, "not a valid", 400},
		{`{` + user + `, "temperature": 3}`, "temperature", 400},
		{`{` + user + `, "top_p": 0}`, "top_p", 400},
		{`{` + user + `, "max_tokens": 0}`, "max_tokens", 400},
		{`{` + user + `, "max_completion_tokens": -5}`, "max_completion_tokens", 400},
		{`{` + user + `, "n": 2}`, "n: only 1", 400},
		{`{` + user + `, "stop": 7}`, "stop: must be", 400},
		{`{` + user + `, "tools": [{"type": "function"}]}`, "tools[0]", 400},
		{`{` + user + `, "tool_choice": "sometimes"}`, "tool_choice", 400},
		{`{` + user + `} {}`, "after the JSON object", 400},
		{`{"messages": [{"role": "user", "content": "` + strings.Repeat("a", 300) + `"}]}`, "exceeds the model's context", 400},
		{`{"messages": [{"role": "user", "content": "` + strings.Repeat("a", 70<<10) + `"}]}`, "larger than", 413},
	}
	for _, c := range cases {
		status, v := post(t, srv.URL, c.body)
		msg := fmt.Sprint(v["error"])
		if status != c.status || !strings.Contains(msg, c.want) {
			t.Errorf("%.60s: status %d, error %s; want %d containing %q", c.body, status, msg, c.status, c.want)
		}
	}

	// Accepted variants: flattened tool calls with object arguments,
	// content parts, a developer message, stop as a string, seed 0.
	status, v := post(t, srv.URL, `{"model": "whatever", "messages": [
		{"role": "developer", "content": [{"type": "text", "text": "be "}, {"type": "text", "text": "nice"}]},
		{"role": "assistant", "content": null, "tool_calls": [{"id": "a", "name": "f", "arguments": {"k": [1, 2]}}]},
		{"role": "tool", "tool_call_id": "a", "content": "ok"},
		{"role": "user", "content": "x"}], "stop": "zz", "seed": 0, "temperature": 0, "max_tokens": 3}`)
	if status != 200 {
		t.Fatalf("valid variants refused: %d %v", status, v)
	}
	if v["object"] != "chat.completion" || v["model"] != "tiny" {
		t.Fatalf("response %v", v)
	}
}

func TestRoutes(t *testing.T) {
	m := scripted(t, []trajectory.Message{{Role: "user", Content: "x"}}, "y")
	srv, _ := start(t, m, WithModelName("tiny-test"))
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	if status, v := get("/health"); status != 200 || v["status"] != "ok" || v["model"] != "tiny-test" {
		t.Fatalf("/health: %d %v", status, v)
	}
	status, v := get("/v1/models")
	data, _ := v["data"].([]any)
	if status != 200 || len(data) != 1 || data[0].(map[string]any)["id"] != "tiny-test" {
		t.Fatalf("/v1/models: %d %v", status, v)
	}
	if status, _ := get("/v1/chat/completions"); status != http.StatusMethodNotAllowed && status != http.StatusNotFound {
		t.Fatalf("GET on the chat endpoint: %d", status)
	}
	if status, v := get("/nope"); status != 404 || v["error"] == nil {
		t.Fatalf("/nope: %d %v", status, v)
	}
}

// TestConcurrentRequests sends seeded sampling requests at once and checks
// each answer equals the same call made directly on the model.
func TestConcurrentRequests(t *testing.T) {
	dir := t.TempDir()
	if err := tinytest.Write(dir, shape, tinytest.Random(shape, 5), true); err != nil {
		t.Fatal(err)
	}
	m, err := tinylm.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, client := start(t, m, WithMaxConcurrent(3))
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, fmt.Sprintf("request %d", i))}
			opts := []llms.CallOption{llms.WithTemperature(0.9), llms.WithSeed(100 + i), llms.WithMaxTokens(24)}
			over, err := client.GenerateContent(context.Background(), msgs, opts...)
			if err != nil {
				errs <- err
				return
			}
			direct, err := m.GenerateContent(context.Background(), msgs, opts...)
			if err != nil {
				errs <- err
				return
			}
			if a, b := over.Choices[0].Content, direct.Choices[0].Content; a != b {
				errs <- fmt.Errorf("request %d: over HTTP %q, direct %q", i, a, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// cancelOnWrite is a ResponseWriter whose client goes away after the first
// streamed content chunk.
type cancelOnWrite struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (c *cancelOnWrite) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte(`"content":"w`)) {
		c.cancel()
	}
	return c.ResponseRecorder.Write(b)
}

// TestClientGoesAway cancels a streamed request after its first chunk: the
// server must stop generating (no further chunks, no [DONE]) and free its
// slot for the next request.
func TestClientGoesAway(t *testing.T) {
	conv := []trajectory.Message{{Role: "user", Content: "long"}}
	reply := strings.Repeat("word ", 40)
	m := scripted(t, conv, reply)
	h := NewHandler(m, WithLogger(quiet()), WithMaxConcurrent(1))
	body := `{"stream": true, "temperature": 0, "messages": [{"role": "user", "content": "long"}]}`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &cancelOnWrite{ResponseRecorder: httptest.NewRecorder(), cancel: cancel}
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/chat/completions", strings.NewReader(body)))
	out := rec.Body.String()
	if n := strings.Count(out, `"content":"w`); n != 1 || strings.Contains(out, "[DONE]") || strings.Contains(out, "finish_reason\":\"") {
		t.Fatalf("generation went on after the client left (%d content chunks):\n%s", n, out)
	}
	// With one slot, this only succeeds once the abandoned generation let go.
	srv := httptest.NewServer(h)
	defer srv.Close()
	status, v := post(t, srv.URL, `{"temperature": 0, "messages": [{"role": "user", "content": "long"}]}`)
	choices, _ := v["choices"].([]any)
	if status != 200 || len(choices) != 1 || choices[0].(map[string]any)["message"].(map[string]any)["content"] != reply {
		t.Fatalf("after a cancelled request: %d %v", status, v)
	}
}

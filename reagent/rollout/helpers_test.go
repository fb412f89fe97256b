package rollout_test

import (
	"context"
	"hash/fnv"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reagent-go/reagent/run"

	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/reagent/suite"
	"github.com/reagent-go/reagent/rrm"
)

// policy is the scripted agent model behind an OpenAI-compatible endpoint
// (the one allowed test double). It knows each task's solution: on a first
// attempt at a "sloppy" task it makes the task's typical mistake; once it
// has seen a reviewer's feedback, or for other tasks, it follows the
// solution's tool calls and answers with the reference.
type policy struct {
	*llmtest.Server
	byQuestion map[string]suite.Task
	sloppy     func(suite.Task) bool
	site       func() string // the web suite's base URL, once known

	mu      sync.Mutex
	failFor map[string]int // question -> remaining HTTP 500 answers
	calls   atomic.Int64
	delay   time.Duration // added to every answer, like a real model's latency
}

func newPolicy(t testing.TB, tasks []suite.Task, sloppy func(suite.Task) bool) *policy {
	p := &policy{byQuestion: map[string]suite.Task{}, sloppy: sloppy, failFor: map[string]int{}}
	for _, tk := range tasks {
		p.byQuestion[tk.Question] = tk
	}
	p.Server = llmtest.NewFunc(t, p.reply)
	return p
}

// sloppyHalf marks about half of the tasks, by a hash of the id.
func sloppyHalf(t suite.Task) bool {
	h := fnv.New32a()
	h.Write([]byte(t.ID))
	return h.Sum32()%2 == 0
}

func (p *policy) failNext(question string, n int) {
	p.mu.Lock()
	p.failFor[question] = n
	p.mu.Unlock()
}

func (p *policy) reply(req llmtest.Request) llmtest.Reply {
	p.calls.Add(1)
	var question string
	critiqued := false
	tools := 0
	for _, m := range req.Messages {
		switch m.Role {
		case "user":
			if question == "" {
				question = m.Content
			}
		case "system":
			if strings.HasPrefix(m.Content, run.CritiquePrefix) {
				critiqued = true
			}
		case "tool":
			tools++
			// The model keeps its plan in the ids of its own tool calls:
			// the middleware shows the critique on a run's first call only.
			if strings.HasPrefix(m.ToolCallID, "fixed_") {
				critiqued = true
			}
		}
	}
	p.mu.Lock()
	if n := p.failFor[question]; n > 0 {
		p.failFor[question] = n - 1
		p.mu.Unlock()
		return llmtest.Reply{Status: http.StatusInternalServerError, Body: `{"error":{"message":"policy server overloaded"}}`}
	}
	p.mu.Unlock()
	tk, ok := p.byQuestion[question]
	if !ok {
		return llmtest.Reply{Content: "I do not know."}
	}
	sol := tk.Solution
	calls, answer, prefix := sol.Calls, tk.Answer, "call_"
	if critiqued {
		prefix = "fixed_"
	} else if p.sloppy(tk) {
		calls, answer = sol.Calls[:sol.Flawed.Calls], sol.Flawed.Answer
	}
	if tools < len(calls) {
		c := calls[tools]
		args := string(c.Arguments)
		if p.site != nil {
			args = strings.ReplaceAll(args, suite.SiteVar, p.site())
		}
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: prefix + string(rune('a'+tools)), Name: c.Tool, Arguments: args}},
			PromptTokens: 50, CompletionTokens: 10, Delay: p.delay}
	}
	return llmtest.Reply{Content: answer, PromptTokens: 60, CompletionTokens: 3, Delay: p.delay}
}

func (p *policy) model(t testing.TB) llms.Model {
	m, err := openai.New(openai.WithBaseURL(p.URL), openai.WithToken("test"), openai.WithModel("scripted"))
	require.NoError(t, err)
	return m
}

// rrmServer is an Agent-RRM behind the OpenAI API that fails while down.
func rrmServer(t *testing.T, down *atomic.Bool) rrm.Judge {
	srv := llmtest.NewFunc(t, func(req llmtest.Request) llmtest.Reply {
		if down.Load() {
			return llmtest.Reply{Status: http.StatusServiceUnavailable, Body: `{"error":{"message":"judge overloaded"}}`}
		}
		return llmtest.Reply{Content: "<think>fine</think><critique>Check each step against the tool output.</critique><score>0.5</score>"}
	})
	return rrm.NewOpenAI(rrm.WithBaseURL(srv.URL), rrm.WithAPIKey("k"), rrm.WithRetries(0), rrm.WithCache(nil))
}

func openStore(t *testing.T) (audit.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rollouts.db")
	s, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func tasksOf(t *testing.T) []suite.Task {
	t.Helper()
	a, err := suite.Generate(suite.Arith, suite.Train, suite.WithCount(4), suite.WithSeed(5))
	require.NoError(t, err)
	l, err := suite.Generate(suite.Lookup, suite.Train, suite.WithCount(4), suite.WithSeed(5))
	require.NoError(t, err)
	return append(a, l...)
}

func startEnv(t *testing.T, tasks []suite.Task) *suite.Env {
	t.Helper()
	env, err := suite.StartEnv(context.Background(), tasks)
	require.NoError(t, err)
	t.Cleanup(func() { _ = env.Close() })
	return env
}

// policyDelay is the benchmark's model latency: a small, fast local model.
const policyDelay = 5 * time.Millisecond

func newPolicyB(b *testing.B, tasks []suite.Task) *policy {
	p := newPolicy(b, tasks, func(suite.Task) bool { return false })
	p.delay = policyDelay
	return p
}

// directRollout makes the model calls of one arith rollout without the
// collector: the question, then the question with the calculator's answer.
func directRollout(tb testing.TB, ctx context.Context, m llms.Model, tk suite.Task) {
	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, suite.ArithPrompt),
		llms.TextParts(llms.ChatMessageTypeHuman, tk.Question),
	}
	resp, err := m.GenerateContent(ctx, msgs)
	require.NoError(tb, err)
	require.NotEmpty(tb, resp.Choices[0].ToolCalls)
	tc := resp.Choices[0].ToolCalls[0]
	msgs = append(msgs,
		llms.MessageContent{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{tc}},
		llms.MessageContent{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: tc.ID, Name: tc.FunctionCall.Name, Content: tk.Answer}}},
	)
	resp, err = m.GenerateContent(ctx, msgs)
	require.NoError(tb, err)
	require.Equal(tb, tk.Answer, resp.Choices[0].Content)
}

package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reagent-go/reagent/run"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/memory"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/trajectory"
)

// echoTool is a real tool (no double): it answers with its input, fails on
// "fail" and panics on "panic".
type echoTool struct {
	name  string
	mu    sync.Mutex
	calls []string
}

func (e *echoTool) Name() string        { return e.name }
func (e *echoTool) Description() string { return "echoes its input" }
func (e *echoTool) Call(_ context.Context, in string) (string, error) {
	e.mu.Lock()
	e.calls = append(e.calls, in)
	e.mu.Unlock()
	switch in {
	case "fail":
		return "", errors.New("backend unavailable")
	case "panic":
		panic("tool exploded")
	}
	return "echo:" + in, nil
}

func (e *echoTool) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.calls)
}

// quietLogger drops the logs of expected failures (a panicking tool).
var quietLogger = slog.New(slog.DiscardHandler)

func newLLM(t *testing.T, srv *llmtest.Server) *openai.LLM {
	t.Helper()
	llm, err := openai.New(openai.WithBaseURL(srv.URL), openai.WithToken("test"), openai.WithModel("policy-test"))
	require.NoError(t, err)
	return llm
}

func react(action, input string) llmtest.Reply {
	return llmtest.Reply{Content: fmt.Sprintf("Thought: I should use %s.\nAction: %s\nAction Input: %s", action, action, input), PromptTokens: 50, CompletionTokens: 10}
}

func final(answer string) llmtest.Reply {
	return llmtest.Reply{Content: "Thought: I know the answer now.\nFinal Answer: " + answer, PromptTokens: 60, CompletionTokens: 8}
}

// runMRKL wraps a MRKL executor and runs input, returning the output, the
// error and the recorded trajectory.
func runMRKL(t *testing.T, srv *llmtest.Server, tool tools.Tool, input string, execOpts []agents.Option, opts ...run.Option) (string, error, *trajectory.Trajectory) {
	t.Helper()
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{tool})
	opts = append([]run.Option{run.WithLogger(quietLogger)}, opts...)
	exec := middleware.Wrap(agents.NewExecutor(agent, execOpts...), opts...)
	h := run.NewHandle()
	out, err := chains.Run(run.ContextWithHandle(context.Background(), h), exec, input)
	tr := h.Trajectory()
	require.NotNil(t, tr, "the run was not recorded")
	return out, err, tr
}

func TestMRKLRunIsRecorded(t *testing.T) {
	srv := llmtest.New(t, react("echo", "17*23"), final("391"))
	tool := &echoTool{name: "echo"}
	out, err, tr := runMRKL(t, srv, tool, "What is 17*23?", nil)
	require.NoError(t, err)
	assert.Equal(t, "391", out)

	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	assert.Equal(t, "What is 17*23?", tr.Task)
	assert.Equal(t, "OneShotZeroAgent", tr.Agent)
	assert.Equal(t, "391", tr.FinalAnswer)
	require.Len(t, tr.Steps, 2)
	s0 := tr.Steps[0]
	assert.Equal(t, "I should use echo.", s0.Thought)
	require.Len(t, s0.Calls, 1)
	assert.Equal(t, "echo", s0.Calls[0].Tool)
	assert.Equal(t, "17*23", s0.Calls[0].Input)
	assert.Equal(t, "echo:17*23", s0.Calls[0].Observation)
	require.Len(t, s0.LLMCalls, 1)
	assert.NotEmpty(t, s0.LLMCalls[0].Messages, "the first prompt is captured")
	assert.Contains(t, s0.LLMCalls[0].Messages[0].Content, "What is 17*23?")
	assert.Equal(t, 50, s0.LLMCalls[0].Usage.PromptTokens)
	assert.True(t, tr.Steps[1].Final)
	assert.Equal(t, "I know the answer now.", tr.Steps[1].Thought)
	assert.Equal(t, 110, tr.Usage.PromptTokens)
	assert.Equal(t, 18, tr.Usage.CompletionTokens)
	assert.Equal(t, []string{"17*23"}, tool.calls)

	chat := tr.Chat()
	require.Equal(t, len(chat.Messages), len(chat.Trainable))
	roles := []string{}
	for _, m := range chat.Messages {
		roles = append(roles, m.Role)
	}
	assert.Equal(t, []string{"user", "assistant", "tool", "assistant"}, roles)
	assert.Equal(t, []bool{false, true, false, true}, chat.Trainable)
}

func TestWrapLeavesOriginalExecutorAlone(t *testing.T) {
	srv := llmtest.New(t)
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{&echoTool{name: "echo"}})
	exec := agents.NewExecutor(agent, agents.WithMaxIterations(3))
	wrapped := middleware.Wrap(exec)
	assert.Same(t, agent, exec.Agent)
	assert.NotSame(t, exec, wrapped)
	assert.Equal(t, 3, wrapped.MaxIterations)
	// The user's agent keeps its own model.
	assert.Same(t, agent.Chain, exec.Agent.(*agents.OneShotZeroAgent).Chain)
}

func TestToolErrorBecomesObservation(t *testing.T) {
	srv := llmtest.New(t, react("echo", "fail"), final("the backend is down"))
	out, err, tr := runMRKL(t, srv, &echoTool{name: "echo"}, "try it", nil)
	require.NoError(t, err)
	assert.Equal(t, "the backend is down", out)
	call := tr.Steps[0].Calls[0]
	assert.Equal(t, "Tool error: backend unavailable", call.Observation)
	assert.Equal(t, "backend unavailable", call.Error)
	// The agent saw the error in its next prompt.
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Contains(t, reqs[1].Messages[0].Content, "Observation: Tool error: backend unavailable")
}

func TestToolErrorAbortOption(t *testing.T) {
	srv := llmtest.New(t, react("echo", "fail"), final("unused"))
	_, err, tr := runMRKL(t, srv, &echoTool{name: "echo"}, "try it", nil, run.WithToolErrorAbort(true))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "backend unavailable")
	assert.Equal(t, trajectory.StatusError, tr.Status)
	assert.Len(t, srv.Requests(), 1)
}

func TestToolPanicBecomesObservation(t *testing.T) {
	srv := llmtest.New(t, react("echo", "panic"), final("recovered"))
	out, err, tr := runMRKL(t, srv, &echoTool{name: "echo"}, "try it", nil)
	require.NoError(t, err)
	assert.Equal(t, "recovered", out)
	call := tr.Steps[0].Calls[0]
	assert.True(t, call.Panicked)
	assert.Contains(t, call.Observation, "Tool error: tool echo panicked: tool exploded")
}

func TestUnknownToolIsRecorded(t *testing.T) {
	srv := llmtest.New(t, react("search", "cats"), final("done"))
	tool := &echoTool{name: "echo"}
	_, err, tr := runMRKL(t, srv, tool, "find cats", nil)
	require.NoError(t, err)
	call := tr.Steps[0].Calls[0]
	assert.True(t, call.UnknownTool)
	assert.Equal(t, "search is not a valid tool, try another one", call.Observation)
	assert.Equal(t, 0, tool.count())
}

// A tool name in another case is the tool (the executor looks names up
// case-insensitively), not an unknown one.
func TestToolNameInAnotherCaseIsKnown(t *testing.T) {
	srv := llmtest.New(t, react("ECHO", "hi"), final("done"))
	tool := &echoTool{name: "echo"}
	_, err, tr := runMRKL(t, srv, tool, "say hi", nil)
	require.NoError(t, err)
	call := tr.Steps[0].Calls[0]
	assert.False(t, call.UnknownTool)
	assert.Equal(t, "echo:hi", call.Observation)
	assert.Equal(t, 1, tool.count())
}

// runIDTool records the run ID its context carries.
type runIDTool struct{ seen []string }

func (*runIDTool) Name() string        { return "whoami" }
func (*runIDTool) Description() string { return "reports the run" }
func (w *runIDTool) Call(ctx context.Context, _ string) (string, error) {
	id, _ := trajectory.RunIDFromContext(ctx)
	w.seen = append(w.seen, id)
	return id, nil
}

// mapContext is a context value that cannot be compared with ==.
type mapContext struct {
	context.Context
	tags map[string]string
}

// A caller's context that is a non-comparable value works like any other.
func TestNonComparableCallerContext(t *testing.T) {
	srv := llmtest.New(t, react("whoami", "a"), final("done"))
	tool := &runIDTool{}
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{tool})
	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithLogger(quietLogger))
	h := run.NewHandle()
	ctx := mapContext{Context: run.ContextWithHandle(context.Background(), h), tags: map[string]string{"a": "b"}}
	_, err := chains.Run(ctx, exec, "who am I")
	require.NoError(t, err)
	require.NotNil(t, h.Trajectory())
	assert.Equal(t, []string{h.Trajectory().ID}, tool.seen)
}

// The run's context is derived once and reused: two runs on the same
// caller context still each hand their own ID to their tool calls.
func TestToolSeesItsOwnRunID(t *testing.T) {
	srv := llmtest.New(t, react("whoami", "a"), react("whoami", "b"), final("one"), react("whoami", "c"), final("two"))
	tool := &runIDTool{}
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{tool})
	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithLogger(quietLogger))
	ctx := context.Background()
	var ids []string
	for range 2 {
		h := run.NewHandle()
		_, err := chains.Run(run.ContextWithHandle(ctx, h), exec, "who am I")
		require.NoError(t, err)
		ids = append(ids, h.Trajectory().ID)
	}
	require.NotEqual(t, ids[0], ids[1])
	assert.Equal(t, []string{ids[0], ids[0], ids[1]}, tool.seen)
}

func TestParseErrorWithoutHandlerEndsRun(t *testing.T) {
	srv := llmtest.New(t, llmtest.Reply{Content: "I am not following the format"})
	_, err, tr := runMRKL(t, srv, &echoTool{name: "echo"}, "q", nil)
	require.ErrorIs(t, err, agents.ErrUnableToParseOutput)
	assert.Equal(t, trajectory.StatusParseError, tr.Status)
	assert.Contains(t, tr.Steps[0].ParseError, "I am not following the format")
}

func TestParseErrorWithHandlerContinues(t *testing.T) {
	srv := llmtest.New(t, llmtest.Reply{Content: "rambling"}, final("42"))
	handler := agents.NewParserErrorHandler(func(s string) string { return "Format error, use Action/Action Input." })
	out, err, tr := runMRKL(t, srv, &echoTool{name: "echo"}, "q", []agents.Option{agents.WithParserErrorHandler(handler)})
	require.NoError(t, err)
	assert.Equal(t, "42", out)
	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	require.Len(t, tr.Steps, 2)
	assert.NotEmpty(t, tr.Steps[0].ParseError)
}

func TestMaxIterationsIsRecorded(t *testing.T) {
	srv := llmtest.New(t, react("echo", "a"), react("echo", "b"))
	_, err, tr := runMRKL(t, srv, &echoTool{name: "echo"}, "loop", []agents.Option{agents.WithMaxIterations(2)})
	require.ErrorIs(t, err, agents.ErrNotFinished)
	assert.Equal(t, trajectory.StatusMaxIterations, tr.Status)
	assert.Len(t, tr.Steps, 2)
}

func TestCancelledRunIsStored(t *testing.T) {
	srv := llmtest.New(t, react("echo", "a"), llmtest.Reply{Content: "never", Delay: 5 * time.Second})
	store := openStore(t)
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{&echoTool{name: "echo"}})
	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithStore(store))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	h := run.NewHandle(run.WithRunID("cancelled-run"))
	_, err := chains.Run(run.ContextWithHandle(ctx, h), exec, "slow question")
	require.Error(t, err)
	tr := h.Trajectory()
	require.NotNil(t, tr)
	assert.Equal(t, trajectory.StatusCancelled, tr.Status)
	require.NoError(t, store.Flush(context.Background()))
	got, err := store.Get(context.Background(), "cancelled-run")
	require.NoError(t, err)
	assert.Equal(t, trajectory.StatusCancelled, got.Status)
	assert.Equal(t, "echo:a", got.Steps[0].Calls[0].Observation, "what the run had is kept")
}

func TestConversationalAgent(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{Content: "Do I need to use a tool? Yes\nAction: echo\nAction Input: hi"},
		llmtest.Reply{Content: "Do I need to use a tool? No\nAI: it said hi"},
	)
	agent := agents.NewConversationalAgent(newLLM(t, srv), []tools.Tool{&echoTool{name: "echo"}})
	exec := middleware.Wrap(agents.NewExecutor(agent,
		agents.WithMemory(memory.NewConversationBuffer(memory.WithOutputKey("output"))),
		agents.WithReturnIntermediateSteps()))
	h := run.NewHandle()
	out, err := chains.Call(run.ContextWithHandle(context.Background(), h), exec, map[string]any{"input": "say hi"})
	require.NoError(t, err)
	assert.Equal(t, " it said hi", out["output"])
	assert.Len(t, out["intermediateSteps"], 1, "intermediate steps still work")
	tr := h.Trajectory()
	require.NotNil(t, tr)
	assert.Equal(t, "ConversationalAgent", tr.Agent)
	assert.Equal(t, "echo:hi", tr.Steps[0].Calls[0].Observation)
	assert.Len(t, tr.Steps[0].LLMCalls, 1)

	// Memory carries the first exchange into the second run's prompt.
	srv2 := srv
	_ = srv2
	mem, err := exec.Memory.LoadMemoryVariables(context.Background(), map[string]any{})
	require.NoError(t, err)
	assert.Contains(t, fmt.Sprint(mem), "say hi")
}

func TestOpenAIFunctionsAgent(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "call_a", Name: "echo", Arguments: `{"__arg1":"x"}`}, {ID: "call_b", Name: "echo", Arguments: `{"__arg1":"y"}`}}},
		llmtest.Reply{Content: "both echoed"},
	)
	tool := &echoTool{name: "echo"}
	agent := agents.NewOpenAIFunctionsAgent(newLLM(t, srv), []tools.Tool{tool})
	exec := middleware.Wrap(agents.NewExecutor(agent))
	h := run.NewHandle()
	out, err := chains.Run(run.ContextWithHandle(context.Background(), h), exec, "echo x and y")
	require.NoError(t, err)
	assert.Equal(t, "both echoed", out)
	tr := h.Trajectory()
	require.Len(t, tr.Steps, 2)
	calls := tr.Steps[0].Calls
	require.Len(t, calls, 2)
	assert.Equal(t, "call_a", calls[0].ID)
	assert.Equal(t, "echo:x", calls[0].Observation)
	assert.Equal(t, "call_b", calls[1].ID)
	assert.Equal(t, "echo:y", calls[1].Observation)
	require.Len(t, tr.Steps[0].LLMCalls, 1)
	assert.Len(t, tr.Steps[0].LLMCalls[0].ToolCalls, 2)
	assert.Equal(t, []string{"x", "y"}, tool.calls)
}

func TestConcurrentRunsDoNotMix(t *testing.T) {
	// The model echoes the question's token through the tool, then answers
	// with what the tool returned, so a mixed-up run is visible.
	srv := llmtest.NewFunc(t, func(req llmtest.Request) llmtest.Reply {
		prompt := req.Messages[len(req.Messages)-1].Content
		q := prompt[strings.LastIndex(prompt, "Question: ")+len("Question: "):]
		q = strings.Fields(q)[0]
		if i := strings.LastIndex(prompt, "Observation: echo:"); i >= 0 {
			obs := strings.Fields(prompt[i+len("Observation: "):])[0]
			return final(obs)
		}
		return react("echo", q)
	})
	store := openStore(t)
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{&echoTool{name: "echo"}})
	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithStore(store))

	const n = 16
	var wg sync.WaitGroup
	runs := make([]*run.Handle, n)
	outs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = run.NewHandle()
			// One shared context for all: runs must still not mix.
			outs[i], errs[i] = chains.Run(run.ContextWithHandle(context.Background(), runs[i]), exec, fmt.Sprintf("q%02d please", i))
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		want := fmt.Sprintf("echo:q%02d", i)
		assert.Equal(t, want, outs[i])
		tr := runs[i].Trajectory()
		require.NotNil(t, tr)
		require.Len(t, tr.Steps, 2)
		assert.Equal(t, fmt.Sprintf("q%02d", i), tr.Steps[0].Calls[0].Input)
		assert.Equal(t, want, tr.Steps[0].Calls[0].Observation)
		assert.Equal(t, want, tr.FinalAnswer)
	}
	require.NoError(t, store.Flush(context.Background()))
	stored, err := store.List(context.Background(), audit.Query{})
	require.NoError(t, err)
	assert.Len(t, stored, n)
}

func TestStoredRunVerifies(t *testing.T) {
	srv := llmtest.New(t, react("echo", "sk-abcdefghijklmnopqrstuvwx"), final("ok"))
	store := openStore(t)
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{&echoTool{name: "echo"}})
	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithStore(store))
	h := run.NewHandle(run.WithRunID("with-secret"))
	_, err := chains.Run(run.ContextWithHandle(context.Background(), h), exec, "use my key")
	require.NoError(t, err)
	require.NoError(t, store.Flush(context.Background()))
	got, err := store.Get(context.Background(), "with-secret")
	require.NoError(t, err)
	assert.NotContains(t, got.Steps[0].Calls[0].Input, "sk-abcdefghijklmnopqrstuvwx", "secrets are redacted before storage")
	rep, err := store.Verify(context.Background())
	require.NoError(t, err)
	assert.True(t, rep.OK, "chain verifies: %+v", rep)
}

func openStore(t *testing.T) *audit.SQLite {
	t.Helper()
	s, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

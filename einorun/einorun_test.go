package einorun_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/einorun"
	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

func TestRunIsRecorded(t *testing.T) {
	var adds counter
	add := addTool(t, &adds)
	m := newScripted(callTool("call-1", "add", `{"a":2,"b":3}`), final("2 + 3 = 5"))
	a := einorun.New(run.New(), einorun.WithTools(add))
	res, h := runOnce(t, newAgent(t, a, m, add), false, "What is 2 + 3?", run.WithRunID("eino-1"))
	require.NoError(t, res.err)
	assert.Equal(t, "2 + 3 = 5", res.answer)
	assert.Equal(t, "5", res.toolResults["add"])
	assert.Equal(t, 1, adds.count())

	tr := h.Trajectory()
	assert.Equal(t, "eino-1", tr.ID)
	assert.Equal(t, "What is 2 + 3?", tr.Task)
	assert.Equal(t, "calculator", tr.Agent)
	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	assert.Equal(t, "2 + 3 = 5", tr.FinalAnswer)
	require.Len(t, tr.Tools, 1)
	assert.Equal(t, "add", tr.Tools[0].Name)
	assert.Contains(t, string(tr.Tools[0].Parameters), `"a"`)
	require.Len(t, tr.Steps, 2)
	s0 := tr.Steps[0]
	require.Len(t, s0.LLMCalls, 1)
	assert.Equal(t, "I will use add.", s0.LLMCalls[0].Completion)
	assert.Equal(t, "tool_calls", s0.LLMCalls[0].StopReason)
	require.Len(t, s0.LLMCalls[0].ToolCalls, 1)
	assert.Equal(t, "add", s0.LLMCalls[0].ToolCalls[0].Name)
	require.NotEmpty(t, s0.LLMCalls[0].Messages, "the first call's prompt is captured")
	assert.Equal(t, "system", s0.LLMCalls[0].Messages[0].Role)
	assert.Equal(t, "I will use add.", s0.Thought)
	require.Len(t, s0.Calls, 1)
	c := s0.Calls[0]
	assert.Equal(t, "call-1", c.ID)
	assert.Equal(t, "add", c.Tool)
	assert.JSONEq(t, `{"a":2,"b":3}`, c.Input)
	assert.Equal(t, "5", c.Observation)
	assert.False(t, c.Blocked)
	require.Len(t, tr.Steps[1].LLMCalls, 1)
	assert.Equal(t, "2 + 3 = 5", tr.Steps[1].LLMCalls[0].Completion)
	assert.Equal(t, 57, tr.Usage.TotalTokens)
}

func TestCallsOutsideARunPassThrough(t *testing.T) {
	// The agent built with the middleware but run without Wrap: nothing is
	// recorded and nothing changes.
	add := addTool(t, nil)
	m := newScripted(callTool("c", "add", `{"a":1,"b":1}`), final("2"))
	var ended int
	a := einorun.New(run.New(run.WithOnEnd(func(*trajectory.Trajectory) { ended++ })))
	agent, err := adk.NewChatModelAgent(context.Background(), &adk.ChatModelAgentConfig{
		Name: "plain", Description: "d", Model: m,
		ToolsConfig: adk.ToolsConfig{ToolsNodeConfig: toolsNode(add)},
		Middlewares: []adk.AgentMiddleware{a.Middleware()},
	})
	require.NoError(t, err)
	res := drain(t, adk.NewRunner(context.Background(), adk.RunnerConfig{Agent: agent}).Query(context.Background(), "1+1?"))
	require.NoError(t, res.err)
	assert.Equal(t, "2", res.answer)
	assert.Equal(t, 0, ended)
}

func TestGuardBlockIsTheToolResult(t *testing.T) {
	var shells counter
	shell := namedTool(t, "shell", func(context.Context, textArgs) (string, error) { shells.inc(); return "ran", nil })
	m := newScripted(callTool("s1", "shell", `{"text":"rm -rf /"}`), final("I may not run shell commands."))
	deny := &guardrails.ToolFilter{Deny: guardrails.ToolMatch{Names: []string{"shell"}}}
	rec := run.New(run.WithHooks(guardrails.NewChain(guardrails.Policy{Guards: []guardrails.Guard{deny}}).Hooks()))
	a := einorun.New(rec, einorun.WithTools(shell))
	res, h := runOnce(t, newAgent(t, a, m, shell), false, "clean the disk")
	require.NoError(t, res.err)
	assert.Equal(t, 0, shells.count(), "a blocked call never reaches the tool")
	assert.True(t, strings.HasPrefix(res.toolResults["shell"], "Blocked by guardrail tools"), res.toolResults["shell"])
	// The model's next call sees the block as the tool's result.
	p := m.prompt(1)
	last := p[len(p)-1]
	assert.Equal(t, schema.Tool, last.Role)
	assert.Equal(t, res.toolResults["shell"], last.Content)

	tr := h.Trajectory()
	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	c := tr.Steps[0].Calls[0]
	assert.True(t, c.Blocked)
	assert.Equal(t, "tools", c.BlockedBy)
	assert.NotEmpty(t, tr.Decisions)
}

func TestGuardAbortEndsTheRun(t *testing.T) {
	var shells counter
	shell := namedTool(t, "shell", func(context.Context, textArgs) (string, error) { shells.inc(); return "ran", nil })
	m := newScripted(callTool("s1", "shell", `{"text":"ls"}`), final("never"))
	deny := &guardrails.ToolFilter{Deny: guardrails.ToolMatch{Names: []string{"shell"}}}
	rec := run.New(run.WithHooks(guardrails.NewChain(guardrails.Policy{Guards: []guardrails.Guard{deny}, Mode: guardrails.ModeAbort}).Hooks()))
	a := einorun.New(rec)
	res, h := runOnce(t, newAgent(t, a, m, shell), false, "list files")
	require.Error(t, res.err)
	assert.ErrorIs(t, res.err, run.ErrRefused)
	assert.Equal(t, 0, shells.count())
	assert.Equal(t, 1, m.calls(), "the run ends at the refused call")
	tr := h.Trajectory()
	assert.Equal(t, trajectory.StatusError, tr.Status)
	assert.Contains(t, tr.Error, "Blocked by guardrail tools")
	assert.True(t, tr.Steps[0].Calls[0].Blocked)
}

func TestCritiqueReachesTheNextModelCall(t *testing.T) {
	add := addTool(t, nil)
	m := newScripted(callTool("c1", "add", `{"a":2,"b":3}`), callTool("c2", "add", `{"a":5,"b":1}`), final("6"))
	rec := run.New(run.WithHooks(run.CritiqueHooks(rrm.NewHeuristic(), run.CritiqueEveryStep, 0)))
	a := einorun.New(rec)
	res, h := runOnce(t, newAgent(t, a, m, add), false, "What is 2+3+1?")
	require.NoError(t, res.err)
	require.Equal(t, 3, m.calls())

	notes := func(i int) (n int, at int) {
		at = -1
		for j, msg := range m.prompt(i) {
			if msg.Role == schema.System && strings.HasPrefix(msg.Content, run.CritiquePrefix) {
				n++
				at = j
			}
		}
		return n, at
	}
	n, _ := notes(0)
	assert.Equal(t, 0, n, "the first call has nothing to critique")
	for i := 1; i < 3; i++ {
		n, at := notes(i)
		require.Equal(t, 1, n, "call %d gets this step's critique, and only it: notes do not stay in the history", i)
		p := m.prompt(i)
		assert.Equal(t, schema.User, p[at+1].Role, "the note comes right before the task")
	}
	tr := h.Trajectory()
	assert.NotEmpty(t, tr.Steps[1].Critique)
	assert.Contains(t, m.prompt(1)[1].Content, tr.Steps[1].Critique)
	partial := 0
	for _, as := range tr.Assessments {
		if as.Partial {
			partial++
		}
	}
	assert.Equal(t, 2, partial)
}

func TestRunIsStoredAndVerifies(t *testing.T) {
	store, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	defer store.Close()
	add := addTool(t, nil)
	m := newScripted(callTool("c1", "add", `{"a":40,"b":2}`), final("42"))
	rec := run.New(run.WithStore(store), run.WithJudge(rrm.NewHeuristic()), run.WithSyncJudge(true))
	a := einorun.New(rec, einorun.WithTools(add))
	res, h := runOnce(t, newAgent(t, a, m, add), false, "What is 40+2?", run.WithRunID("stored"))
	require.NoError(t, res.err)
	ctx := context.Background()
	require.NoError(t, rec.Shutdown(ctx))
	got, err := store.Get(ctx, "stored")
	require.NoError(t, err)
	assert.Equal(t, h.Trajectory().FinalAnswer, got.FinalAnswer)
	assert.Equal(t, "42", got.Steps[0].Calls[0].Observation)
	require.Len(t, got.Assessments, 1)
	assert.Equal(t, trajectory.AssessmentOK, got.Assessments[0].Status)
	rep, err := store.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, "%+v", rep)
	assert.GreaterOrEqual(t, rep.Runs, int64(1))
}

func TestStreamingToolAndModel(t *testing.T) {
	spell := spellTool(t)
	m := newScripted(callTool("sp", "spell", `{"text":"eino"}`), final("It is spelled e-i-n-o."))
	a := einorun.New(run.New(), einorun.WithTools(spell))
	res, h := runOnce(t, newAgent(t, a, m, spell), true, "Spell eino")
	require.NoError(t, res.err)
	assert.Equal(t, "eino", res.toolResults["spell"])
	assert.Equal(t, "It is spelled e-i-n-o.", res.answer)
	tr := h.Trajectory()
	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	c := tr.Steps[0].Calls[0]
	assert.Equal(t, "spell", c.Tool)
	assert.Equal(t, "eino", c.Observation, "the streamed chunks are recorded as one observation")
	assert.Equal(t, "It is spelled e-i-n-o.", tr.FinalAnswer)
	assert.Equal(t, "It is spelled e-i-n-o.", tr.Steps[1].LLMCalls[0].Completion)
}

func TestPanickingToolBecomesAnObservation(t *testing.T) {
	boom := namedTool(t, "boom", func(context.Context, textArgs) (string, error) { panic("kaboom") })
	m := newScripted(callTool("b", "boom", `{"text":"x"}`), final("the tool failed"))
	a := einorun.New(run.New())
	res, h := runOnce(t, newAgent(t, a, m, boom), false, "try boom")
	require.NoError(t, res.err)
	assert.Contains(t, res.toolResults["boom"], "Tool error: tool boom panicked: kaboom")
	tr := h.Trajectory()
	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	c := tr.Steps[0].Calls[0]
	assert.True(t, c.Panicked)
	assert.Contains(t, c.Error, "kaboom")
}

func TestPanickingToolWithToolErrorAbort(t *testing.T) {
	boom := namedTool(t, "boom", func(context.Context, textArgs) (string, error) { panic("kaboom") })
	m := newScripted(callTool("b", "boom", `{"text":"x"}`), final("never"))
	a := einorun.New(run.New(run.WithToolErrorAbort(true)))
	res, h := runOnce(t, newAgent(t, a, m, boom), false, "try boom")
	require.Error(t, res.err, "eino's own behaviour: the panic ends the run as an error event")
	assert.Contains(t, res.err.Error(), "kaboom")
	tr := h.Trajectory()
	assert.Equal(t, trajectory.StatusPanic, tr.Status)
	assert.True(t, tr.Steps[0].Calls[0].Panicked)
}

func TestStreamingToolPanics(t *testing.T) {
	var st tool.StreamableTool = panicStream{}
	m := newScripted(callTool("p", "pstream", `{}`), final("ok"))
	a := einorun.New(run.New())
	res, h := runOnce(t, newAgent(t, a, m, st), true, "go")
	require.NoError(t, res.err)
	assert.Contains(t, res.toolResults["pstream"], "panicked")
	assert.True(t, h.Trajectory().Steps[0].Calls[0].Panicked)
}

type panicStream struct{}

func (panicStream) Info(context.Context) (*schema.ToolInfo, error) {
	return &schema.ToolInfo{Name: "pstream", Desc: "panics"}, nil
}

func (panicStream) StreamableRun(context.Context, string, ...tool.Option) (*schema.StreamReader[string], error) {
	panic("stream kaboom")
}

func TestCancellationEndsTheRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The tool cancels the caller's context; the next model call sees it.
	stop := namedTool(t, "stop", func(context.Context, textArgs) (string, error) { cancel(); return "stopping", nil })
	m := newScripted(callTool("s", "stop", `{"text":"x"}`), final("never"))
	a := einorun.New(run.New())
	agent := newAgent(t, a, m, stop)
	h := run.NewHandle()
	ctx = run.ContextWithHandle(ctx, h)
	res := drain(t, adk.NewRunner(ctx, adk.RunnerConfig{Agent: agent}).Query(ctx, "stop"))
	require.Error(t, res.err)
	tr := h.Trajectory()
	require.NotNil(t, tr)
	assert.Equal(t, trajectory.StatusCancelled, tr.Status)
	assert.Equal(t, "stopping", tr.Steps[0].Calls[0].Observation)
}

func TestParallelToolCallsKeepTheirOwnResults(t *testing.T) {
	add := addTool(t, nil)
	two := &schema.Message{Role: schema.Assistant, ToolCalls: []schema.ToolCall{
		{Index: new(0), ID: "x", Type: "function", Function: schema.FunctionCall{Name: "add", Arguments: `{"a":1,"b":1}`}},
		{Index: new(1), ID: "y", Type: "function", Function: schema.FunctionCall{Name: "add", Arguments: `{"a":10,"b":10}`}},
	}}
	m := newScripted(two, final("2 and 20"))
	a := einorun.New(run.New())
	res, h := runOnce(t, newAgent(t, a, m, add), false, "both")
	require.NoError(t, res.err)
	calls := h.Trajectory().Steps[0].Calls
	require.Len(t, calls, 2)
	assert.Equal(t, "x", calls[0].ID)
	assert.Equal(t, "2", calls[0].Observation)
	assert.Equal(t, "y", calls[1].ID)
	assert.Equal(t, "20", calls[1].Observation)
}

func TestAnswerHooksReachTheCaller(t *testing.T) {
	for _, streaming := range []bool{false, true} {
		m := newScripted(final("the secret is hunter2"))
		redact := run.Hooks{BeforeAnswer: func(_ context.Context, _ *run.Run, ans *run.Answer) error {
			ans.Text = strings.ReplaceAll(ans.Text, "hunter2", "[redacted]")
			return nil
		}}
		a := einorun.New(run.New(run.WithHooks(redact)))
		res, h := runOnce(t, newAgent(t, a, m, addTool(t, nil)), streaming, "what is the secret?")
		require.NoError(t, res.err)
		assert.Equal(t, "the secret is [redacted]", res.answer, "streaming=%v", streaming)
		assert.Equal(t, "the secret is [redacted]", h.Trajectory().FinalAnswer)
	}
}

func TestAnswerWithheldByAnAbortingRefusal(t *testing.T) {
	m := newScripted(final("leak"))
	refuse := run.Hooks{BeforeAnswer: func(context.Context, *run.Run, *run.Answer) error {
		return &run.Refusal{By: "leak-check", Reason: "the answer leaks", Abort: true}
	}}
	a := einorun.New(run.New(run.WithHooks(refuse)))
	res, h := runOnce(t, newAgent(t, a, m, addTool(t, nil)), true, "q")
	assert.ErrorIs(t, res.err, run.ErrRefused)
	assert.Empty(t, res.answer, "the caller never sees the withheld answer")
	assert.Equal(t, trajectory.StatusError, h.Trajectory().Status)
}

func TestMaxIterations(t *testing.T) {
	add := addTool(t, nil)
	m := newScripted(callTool("1", "add", `{"a":1,"b":1}`), callTool("2", "add", `{"a":1,"b":1}`), callTool("3", "add", `{"a":1,"b":1}`))
	a := einorun.New(run.New())
	agent, err := adk.NewChatModelAgent(context.Background(), &adk.ChatModelAgentConfig{
		Name: "looper", Description: "d", Model: m, MaxIterations: 2,
		ToolsConfig: adk.ToolsConfig{ToolsNodeConfig: toolsNode(add)},
		Middlewares: []adk.AgentMiddleware{a.Middleware()},
	})
	require.NoError(t, err)
	res, h := runOnce(t, a.Wrap(agent), false, "loop")
	require.Error(t, res.err)
	assert.Equal(t, trajectory.StatusMaxIterations, h.Trajectory().Status)
	assert.Len(t, h.Trajectory().Steps, 2)
}

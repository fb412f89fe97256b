package middleware_test

import (
	"context"
	"strings"
	"testing"

	"github.com/reagent-go/reagent/run"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/tools"

	ragents "github.com/reagent-go/reagent/agents"
	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/policyfile"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

func TestBlockedCallNeverRuns(t *testing.T) {
	srv := llmtest.New(t, react("wire", "send $100"), final("I may not wire money"))
	wire := &echoTool{name: "wire"}
	store := openStore(t)
	deny := &guardrails.ToolFilter{Deny: guardrails.ToolMatch{Names: []string{"wire"}}}
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{wire})
	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithStore(store), withGuards(deny))
	h := run.NewHandle(run.WithRunID("blocked-run"))
	out, err := chains.Run(run.ContextWithHandle(context.Background(), h), exec, "pay the bill")
	require.NoError(t, err)
	assert.Equal(t, "I may not wire money", out)
	assert.Equal(t, 0, wire.count(), "a blocked call never reaches the tool")

	// The agent saw the block as its observation.
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Contains(t, reqs[1].Messages[0].Content, "Observation: Blocked by guardrail tools:")

	require.NoError(t, store.Flush(context.Background()))
	got, err := store.Get(context.Background(), "blocked-run")
	require.NoError(t, err)
	call := got.Steps[0].Calls[0]
	assert.True(t, call.Blocked)
	assert.Equal(t, "tools", call.BlockedBy)
	require.NotEmpty(t, got.Decisions)
	assert.Equal(t, trajectory.Block, got.Decisions[0].Verdict)
	assert.Equal(t, "wire", got.Decisions[0].Tool)
}

func TestAbortOnBlock(t *testing.T) {
	srv := llmtest.New(t, react("wire", "send $100"), final("unused"))
	deny := &guardrails.ToolFilter{Deny: guardrails.ToolMatch{Names: []string{"wire"}}}
	_, err, tr := runMRKL(t, srv, &echoTool{name: "wire"}, "pay", nil, withPolicy(guardrails.Policy{Guards: []guardrails.Guard{deny}, Mode: guardrails.ModeAbort}))
	require.ErrorIs(t, err, run.ErrRefused)
	assert.Equal(t, trajectory.StatusError, tr.Status)
	assert.Len(t, srv.Requests(), 1)
}

func TestEscalationWithoutApproverBlocks(t *testing.T) {
	srv := llmtest.New(t, react("wire", "send $100"), final("needs a human"))
	approve := &guardrails.ToolFilter{Approve: guardrails.ToolMatch{Names: []string{"wire"}}}
	wire := &echoTool{name: "wire"}
	_, err, tr := runMRKL(t, srv, wire, "pay", nil, withGuards(approve))
	require.NoError(t, err)
	assert.Equal(t, 0, wire.count(), "an escalation nobody approves fails closed")
	assert.True(t, tr.Steps[0].Calls[0].Blocked)
}

func TestSyncJudgeStoresAssessment(t *testing.T) {
	srv := llmtest.New(t, react("echo", "17*23"), final("391"))
	store := openStore(t)
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{&echoTool{name: "echo"}})
	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithStore(store),
		run.WithJudge(rrm.NewHeuristic()), run.WithSyncJudge(true))
	h := run.NewHandle(run.WithRunID("judged"))
	_, err := chains.Run(run.ContextWithHandle(context.Background(), h), exec, "What is 17*23?")
	require.NoError(t, err)
	tr := h.Trajectory()
	require.Len(t, tr.Assessments, 1)
	a := tr.Assessments[0]
	assert.Equal(t, trajectory.AssessmentOK, a.Status)
	assert.NotEmpty(t, a.Critique)
	require.NoError(t, store.Flush(context.Background()))
	got, err := store.Get(context.Background(), "judged")
	require.NoError(t, err)
	require.Len(t, got.Assessments, 1)
	assert.InDelta(t, a.Score, got.Assessments[0].Score, 1e-9)
}

func TestAsyncJudgeFailureIsStoredAndRunKept(t *testing.T) {
	// The policy model answers; the judge endpoint is down (HTTP 500).
	policy := llmtest.New(t, react("echo", "x"), final("done"))
	judgeSrv := llmtest.NewFunc(t, func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Status: 500, Body: `{"error":{"message":"judge is down"}}`}
	})
	judge := rrm.NewOpenAI(rrm.WithBaseURL(judgeSrv.URL), rrm.WithModel("agent-rrm"), rrm.WithRetries(1))
	store := openStore(t)
	agent := agents.NewOneShotAgent(newLLM(t, policy), []tools.Tool{&echoTool{name: "echo"}})
	exec := middleware.Wrap(agents.NewExecutor(agent), run.WithStore(store), run.WithJudge(judge))
	h := run.NewHandle(run.WithRunID("judge-down"))
	t.Setenv("OPENAI_API_KEY", "test")
	_, err := chains.Run(run.ContextWithHandle(context.Background(), h), exec, "q")
	require.NoError(t, err)
	require.NoError(t, exec.Shutdown(context.Background()))
	require.NoError(t, store.Flush(context.Background()))
	got, err := store.Get(context.Background(), "judge-down")
	require.NoError(t, err)
	assert.Equal(t, trajectory.StatusFinished, got.Status, "the run is never lost")
	require.Len(t, got.Assessments, 1)
	assert.Equal(t, trajectory.AssessmentError, got.Assessments[0].Status)
	assert.NotEmpty(t, got.Assessments[0].Error)
}

func TestCritiqueIsInjectedAndRecorded(t *testing.T) {
	srv := llmtest.New(t, react("echo", "17*23"), final("391"))
	const critique = "You never used the calculator; check 17*23 with it."
	h := run.NewHandle(run.WithCritique(critique), run.WithParent("first", 1))
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{&echoTool{name: "echo"}})
	exec := middleware.Wrap(agents.NewExecutor(agent))
	_, err := chains.Run(run.ContextWithHandle(context.Background(), h), exec, "What is 17*23?")
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	for i, req := range reqs {
		require.Len(t, req.Messages, 2, "call %d: the note, then the prompt", i)
		assert.Equal(t, "system", req.Messages[0].Role)
		assert.Equal(t, run.CritiquePrefix+critique, req.Messages[0].Content, "call %d keeps the feedback", i)
	}
	tr := h.Trajectory()
	assert.Equal(t, critique, tr.Steps[0].Critique)
	assert.Empty(t, tr.Steps[1].Critique, "recorded once")
	chat := tr.Chat()
	n := 0
	for _, m := range chat.Messages {
		if strings.Contains(m.Content, critique) {
			n++
		}
	}
	assert.Equal(t, 1, n, "the chat view shows the critique once")
	assert.Equal(t, "first", tr.ParentID)
	assert.Equal(t, 1, tr.Round)
}

func TestPolicyFileAbortMode(t *testing.T) {
	policy, err := policyfile.Parse([]byte("version: 1\nmode: abort\ntools:\n  wire: [risky]\ndeny:\n  tags: [risky]\n"))
	require.NoError(t, err)
	srv := llmtest.New(t, react("wire", "send $100"), final("unused"))
	_, err, tr := runMRKL(t, srv, &echoTool{name: "wire"}, "pay", nil, withPolicy(policy))
	require.ErrorIs(t, err, run.ErrRefused)
	assert.Equal(t, trajectory.StatusError, tr.Status)
}

func TestCritiqueInjectionEveryStep(t *testing.T) {
	srv := llmtest.New(t, react("echo", "fail"), react("echo", "fail"), final("done"))
	_, err, tr := runMRKL(t, srv, &echoTool{name: "echo"}, "try", nil,
		run.WithHooks(run.CritiqueHooks(rrm.NewHeuristic(), run.CritiqueEveryStep, 0.5)))
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	assert.Len(t, reqs[0].Messages, 1, "no critique before anything happened")
	for i := 1; i < 3; i++ {
		require.Len(t, reqs[i].Messages, 2, "call %d carries a critique", i)
		assert.Contains(t, reqs[i].Messages[0].Content, run.CritiquePrefix)
		assert.Equal(t, run.CritiquePrefix+tr.Steps[i].Critique, reqs[i].Messages[0].Content, "the injected text is recorded")
	}
	partial := 0
	for _, a := range tr.Assessments {
		if a.Partial {
			partial++
			assert.Equal(t, trajectory.AssessmentOK, a.Status)
		}
	}
	assert.Equal(t, 2, partial, "each step's judgment is kept")
}

func TestCritiqueInjectionOnFlagOnly(t *testing.T) {
	srv := llmtest.New(t, react("echo", "fine"), final("done"))
	_, err, tr := runMRKL(t, srv, &echoTool{name: "echo"}, "try", nil,
		run.WithHooks(run.CritiqueHooks(rrm.NewHeuristic(), run.CritiqueOnFlag, 0)))
	require.NoError(t, err)
	for _, req := range srv.Requests() {
		assert.Len(t, req.Messages, 1, "a score is never under 0: nothing injected")
	}
	assert.Empty(t, tr.Steps[1].Critique)
	require.NotEmpty(t, tr.Assessments, "the judgment is still kept")
}

func TestCritiqueInjectionJudgeDownInjectsNothing(t *testing.T) {
	policy := llmtest.New(t, react("echo", "x"), final("done"))
	judgeSrv := llmtest.NewFunc(t, func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Status: 400, Body: `{"error":{"message":"bad request"}}`}
	})
	judge := rrm.NewOpenAI(rrm.WithBaseURL(judgeSrv.URL), rrm.WithAPIKey("k"), rrm.WithRetries(0))
	_, err, tr := runMRKL(t, policy, &echoTool{name: "echo"}, "q", nil, run.WithHooks(run.CritiqueHooks(judge, run.CritiqueEveryStep, 0.5)))
	require.NoError(t, err)
	assert.Len(t, policy.Requests()[1].Messages, 1)
	require.Len(t, tr.Assessments, 1)
	assert.Equal(t, trajectory.AssessmentError, tr.Assessments[0].Status)
}

// TestCritiqueReachesEveryAgentKind checks that an injected critique is in
// every model call of a run, for langchaingo's three agent kinds and
// reagent's tool-calling agent.
func TestCritiqueReachesEveryAgentKind(t *testing.T) {
	const critique = "Check the tool's answer before you reply."
	toolCall := llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "c1", Name: "echo", Arguments: `{"__arg1":"x","input":"x"}`}}}
	kinds := []struct {
		name    string
		replies []llmtest.Reply
		agent   func(llms.Model, []tools.Tool) agents.Agent
	}{
		{"mrkl", []llmtest.Reply{react("echo", "x"), final("done")},
			func(m llms.Model, ts []tools.Tool) agents.Agent { return agents.NewOneShotAgent(m, ts) }},
		{"conversational", []llmtest.Reply{{Content: "Do I need to use a tool? Yes\nAction: echo\nAction Input: x"}, {Content: "Do I need to use a tool? No\nAI: done"}},
			func(m llms.Model, ts []tools.Tool) agents.Agent { return agents.NewConversationalAgent(m, ts) }},
		{"openai-functions", []llmtest.Reply{toolCall, {Content: "done"}},
			func(m llms.Model, ts []tools.Tool) agents.Agent { return agents.NewOpenAIFunctionsAgent(m, ts) }},
		{"reagent-tool-calling", []llmtest.Reply{toolCall, {Content: "done"}},
			func(m llms.Model, ts []tools.Tool) agents.Agent { return ragents.NewToolCalling(m, ts) }},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			srv := llmtest.New(t, k.replies...)
			exec := middleware.Wrap(agents.NewExecutor(k.agent(newLLM(t, srv), []tools.Tool{&echoTool{name: "echo"}})))
			h := run.NewHandle(run.WithCritique(critique))
			_, err := chains.Run(run.ContextWithHandle(context.Background(), h), exec, "say x")
			require.NoError(t, err)
			reqs := srv.Requests()
			require.Len(t, reqs, 2)
			for i, req := range reqs {
				at := -1
				for j, m := range req.Messages {
					if m.Content == run.CritiquePrefix+critique {
						at = j
					}
				}
				require.GreaterOrEqual(t, at, 0, "call %d has the critique", i)
				assert.Equal(t, "system", req.Messages[at].Role)
				require.Less(t, at+1, len(req.Messages))
				assert.Equal(t, "user", req.Messages[at+1].Role, "call %d: the critique comes right before the question", i)
			}
			assert.Equal(t, critique, h.Trajectory().Steps[0].Critique)
		})
	}
}

// withGuards checks every event with gs (block mode, no approver).
func withGuards(gs ...guardrails.Guard) run.Option {
	return withPolicy(guardrails.Policy{Guards: gs})
}

// withPolicy enforces p in every run.
func withPolicy(p guardrails.Policy) run.Option {
	return run.WithHooks(guardrails.NewChain(p).Hooks())
}

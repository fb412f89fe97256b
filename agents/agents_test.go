package agents

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lcagents "github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/tools/calculator"
)

// upper is a plain langchaingo tool without a schema.
type upper struct{ got []string }

func (*upper) Name() string        { return "upper case" }
func (*upper) Description() string { return "Upper-cases its input." }
func (u *upper) Call(_ context.Context, in string) (string, error) {
	u.got = append(u.got, in)
	return strings.ToUpper(in), nil
}

// broken returns a Go error, as some third-party tools do.
type broken struct{}

func (broken) Name() string        { return "broken" }
func (broken) Description() string { return "Always fails." }
func (broken) Call(context.Context, string) (string, error) {
	return "", errors.New("backend unavailable")
}

func steps(t *testing.T, out map[string]any) []schema.AgentStep {
	t.Helper()
	s, ok := out["intermediateSteps"].([]schema.AgentStep)
	require.True(t, ok, "intermediate steps missing")
	return s
}

func TestToolCallingSeveralCallsInOneTurn(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{Content: "Let me compute and shout.", ToolCalls: []llmtest.ToolCall{
			call("call_a", "calculator", `{"expression":"6*7"}`),
			call("call_b", "upper_case", `{"input":"hello"}`),
		}},
		llmtest.Reply{Content: "42 and HELLO"},
	)
	up := &upper{}
	agent := NewToolCalling(client(t, srv), []tools.Tool{calculator.New(), up}, WithSystemPrompt("Be brief."))
	exec := lcagents.NewExecutor(agent, lcagents.WithReturnIntermediateSteps())
	out, err := chains.Call(context.Background(), exec, map[string]any{"input": "What is 6*7, and shout hello"})
	require.NoError(t, err)
	assert.Equal(t, "42 and HELLO", out["output"])

	st := steps(t, out)
	require.Len(t, st, 2)
	assert.Equal(t, "calculator", st[0].Action.Tool)
	assert.Equal(t, "call_a", st[0].Action.ToolID)
	assert.Equal(t, `{"expression":"6*7"}`, st[0].Action.ToolInput, "schema tools get the JSON arguments")
	assert.Equal(t, "42", st[0].Observation)
	assert.Equal(t, "upper case", st[1].Action.Tool, "the wire name maps back to the tool's own name")
	assert.Equal(t, "call_b", st[1].Action.ToolID)
	assert.Equal(t, []string{"hello"}, up.got, "plain tools get the unwrapped string")
	assert.True(t, strings.HasPrefix(st[0].Action.Log, "Let me compute and shout."))

	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	// The first request offers both tools with real schemas.
	require.Len(t, reqs[0].ToolDefs(), 2)
	assert.Equal(t, "calculator", reqs[0].ToolDefs()[0].Name)
	assert.Contains(t, string(reqs[0].ToolDefs()[0].Parameters), `"expression"`)
	assert.Equal(t, "upper_case", reqs[0].ToolDefs()[1].Name)
	assert.JSONEq(t, string(plainSchema), string(reqs[0].ToolDefs()[1].Parameters))
	require.Len(t, reqs[0].Messages, 2)
	assert.Equal(t, "system", reqs[0].Messages[0].Role)
	assert.Equal(t, "Be brief.", reqs[0].Messages[0].Content)
	assert.Equal(t, "user", reqs[0].Messages[1].Role)

	// The second request carries the assistant turn and both tool results.
	m := reqs[1].Messages
	require.Len(t, m, 5)
	assert.Equal(t, "assistant", m[2].Role)
	assert.Equal(t, "Let me compute and shout.", m[2].Content)
	require.Len(t, m[2].Calls(), 2)
	assert.Equal(t, "call_a", m[2].Calls()[0].ID)
	assert.Equal(t, "calculator", m[2].Calls()[0].Name)
	assert.JSONEq(t, `{"expression":"6*7"}`, m[2].Calls()[0].Arguments)
	assert.Equal(t, "upper_case", m[2].Calls()[1].Name)
	assert.JSONEq(t, `{"input":"hello"}`, m[2].Calls()[1].Arguments)
	assert.Equal(t, "tool", m[3].Role)
	assert.Equal(t, "call_a", m[3].ToolCallID)
	assert.Equal(t, "42", m[3].Content)
	assert.Equal(t, "tool", m[4].Role)
	assert.Equal(t, "call_b", m[4].ToolCallID)
	assert.Equal(t, "HELLO", m[4].Content)
}

func TestToolCallingMalformedArguments(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{call("c1", "calculator", `{"expression": "2+`)}},
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{call("c2", "calculator", `{"expression": "2+2"}`)}},
		llmtest.Reply{Content: "4"},
	)
	agent := NewToolCalling(client(t, srv), []tools.Tool{calculator.New()})
	exec := lcagents.NewExecutor(agent, lcagents.WithReturnIntermediateSteps())
	out, err := chains.Call(context.Background(), exec, map[string]any{"input": "2+2?"})
	require.NoError(t, err)
	assert.Equal(t, "4", out["output"])
	st := steps(t, out)
	require.Len(t, st, 2)
	assert.Contains(t, st[0].Observation, "invalid JSON arguments", "the tool reports the broken JSON to the model")
	assert.Equal(t, "4", st[1].Observation)

	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	// Every tool-call argument sent back to the server is valid JSON, and
	// the model sees what went wrong.
	for _, r := range reqs {
		for _, m := range r.Messages {
			for _, c := range m.Calls() {
				assert.True(t, json.Valid([]byte(c.Arguments)), "arguments %q", c.Arguments)
			}
		}
	}
	m := reqs[1].Messages
	require.Len(t, m, 4)
	assert.Equal(t, "c1", m[3].ToolCallID)
	assert.Contains(t, m[3].Content, "invalid JSON arguments")
	// Two turns with the same (empty) text stay two assistant messages.
	m = reqs[2].Messages
	require.Len(t, m, 6)
	assert.Equal(t, "assistant", m[2].Role)
	assert.Equal(t, "assistant", m[4].Role)
	assert.Equal(t, "c2", m[4].Calls()[0].ID)
}

func TestToolCallingToolErrors(t *testing.T) {
	t.Run("error as observation", func(t *testing.T) {
		srv := llmtest.New(t,
			llmtest.Reply{ToolCalls: []llmtest.ToolCall{call("c1", "calculator", `{"expression":"1/0"}`)}},
			llmtest.Reply{Content: "It is undefined."},
		)
		exec := lcagents.NewExecutor(NewToolCalling(client(t, srv), []tools.Tool{calculator.New()}))
		out, err := chains.Call(context.Background(), exec, map[string]any{"input": "1/0?"})
		require.NoError(t, err)
		assert.Equal(t, "It is undefined.", out["output"])
		m := srv.Requests()[1].Messages
		assert.Equal(t, "calculator error: math error: division by zero", m[len(m)-1].Content)
	})
	t.Run("go error aborts a bare executor", func(t *testing.T) {
		// langchaingo's executor stops the run on a tool's Go error; the
		// reagent middleware turns it into an observation instead.
		srv := llmtest.New(t, llmtest.Reply{ToolCalls: []llmtest.ToolCall{call("c1", "broken", `{"input":"x"}`)}})
		exec := lcagents.NewExecutor(NewToolCalling(client(t, srv), []tools.Tool{broken{}}))
		_, err := chains.Call(context.Background(), exec, map[string]any{"input": "go"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "backend unavailable")
	})
	t.Run("unknown tool", func(t *testing.T) {
		srv := llmtest.New(t,
			llmtest.Reply{ToolCalls: []llmtest.ToolCall{call("c1", "search", `{"q":"x"}`)}},
			llmtest.Reply{Content: "done"},
		)
		exec := lcagents.NewExecutor(NewToolCalling(client(t, srv), []tools.Tool{calculator.New()}))
		out, err := chains.Call(context.Background(), exec, map[string]any{"input": "go"})
		require.NoError(t, err)
		assert.Equal(t, "done", out["output"])
		m := srv.Requests()[1].Messages
		assert.Equal(t, "search is not a valid tool, try another one", m[len(m)-1].Content)
		assert.JSONEq(t, `{"q":"x"}`, m[len(m)-2].Calls()[0].Arguments)
	})
}

func TestToolCallingEmptyReplyAndModelFailure(t *testing.T) {
	srv := llmtest.New(t, llmtest.Reply{Content: "  "}, llmtest.Reply{Content: "recovered"})
	exec := lcagents.NewExecutor(NewToolCalling(client(t, srv), nil),
		lcagents.WithParserErrorHandler(lcagents.NewParserErrorHandler(nil)))
	out, err := chains.Call(context.Background(), exec, map[string]any{"input": "hi"})
	require.NoError(t, err)
	assert.Equal(t, "recovered", out["output"])
	m := srv.Requests()[1].Messages
	assert.Equal(t, "user", m[len(m)-1].Role)
	assert.Contains(t, m[len(m)-1].Content, "neither a tool call nor an answer")
	assert.Empty(t, srv.Requests()[0].Tools, "no tools, no tools parameter")

	bad := llmtest.New(t, llmtest.Reply{Status: 500})
	exec = lcagents.NewExecutor(NewToolCalling(client(t, bad), nil))
	_, err = chains.Call(context.Background(), exec, map[string]any{"input": "hi"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tool-calling agent: model call")
}

func TestToolCallingGeneratesMissingIDs(t *testing.T) {
	srv := llmtest.New(t,
		withoutIDs(t, call("", "calculator", `{"expression":"1+1"}`), call("", "calculator", `{"expression":"2+2"}`)),
		withoutIDs(t, call("", "calculator", `{"expression":"3+3"}`)),
		llmtest.Reply{Content: "ok"},
	)
	exec := lcagents.NewExecutor(NewToolCalling(client(t, srv), []tools.Tool{calculator.New()}), lcagents.WithReturnIntermediateSteps())
	out, err := chains.Call(context.Background(), exec, map[string]any{"input": "sums"})
	require.NoError(t, err)
	st := steps(t, out)
	require.Len(t, st, 3)
	seen := map[string]bool{}
	for _, s := range st {
		require.NotEmpty(t, s.Action.ToolID)
		assert.False(t, seen[s.Action.ToolID], "duplicate id %s", s.Action.ToolID)
		seen[s.Action.ToolID] = true
	}
	m := srv.Requests()[2].Messages
	// user, assistant(2 calls), tool, tool, assistant(1 call), tool
	require.Len(t, m, 7)
	assert.Len(t, m[2].Calls(), 2)
	assert.Equal(t, m[2].Calls()[1].ID, m[4].ToolCallID)
	assert.Len(t, m[5].Calls(), 1)
}

func TestToolCallingFields(t *testing.T) {
	srv := llmtest.New(t)
	a := NewToolCalling(client(t, srv), []tools.Tool{calculator.New()}, WithOutputKey("answer"), WithSystemPrompt(""))
	assert.NotNil(t, a.LLM)
	assert.Len(t, a.Tools, 1)
	assert.Equal(t, []string{"input"}, a.GetInputKeys())
	assert.Equal(t, []string{"answer"}, a.GetOutputKeys())
	assert.Equal(t, "", a.SystemPrompt)
	_, _, err := a.Plan(context.Background(), nil, map[string]string{"question": "x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no "input" key`)
	_, _, err = (&ToolCalling{}).Plan(context.Background(), nil, map[string]string{"input": "x"})
	assert.ErrorContains(t, err, "no model")
}

func TestReAct(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{Content: "Thought: I should compute.\nAction: calculator\nAction Input: {\"expression\": \"(2+3)*4\"}"},
		llmtest.Reply{Content: "I am not sure what to do"},
		llmtest.Reply{Content: "Thought: I know it.\nFinal Answer: 20"},
	)
	exec := NewReAct(client(t, srv), []tools.Tool{calculator.New(), &upper{}})
	exec.ReturnIntermediateSteps = true
	assert.Equal(t, DefaultMaxIterations, exec.MaxIterations)
	_, ok := exec.Agent.(*lcagents.OneShotZeroAgent)
	require.True(t, ok, "the executor runs langchaingo's MRKL agent")

	out, err := chains.Call(context.Background(), exec, map[string]any{"input": "What is (2+3)*4?"})
	require.NoError(t, err)
	assert.Equal(t, "20", out["output"])
	st := steps(t, out)
	require.Len(t, st, 2)
	assert.Equal(t, "20", st[0].Observation)
	assert.Contains(t, st[1].Observation, "did not follow the format", "a parse error becomes an observation")

	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	assert.Contains(t, reqs[0].Stop, "\nObservation:")
	prompt := reqs[0].Messages[0].Content
	assert.Contains(t, prompt, "- calculator: Evaluates an arithmetic expression")
	assert.Contains(t, prompt, `Arguments (JSON schema): {"type":"object"`)
	assert.Contains(t, prompt, "one of [calculator, upper case]")
	assert.Contains(t, prompt, "Question: What is (2+3)*4?")
	assert.Contains(t, reqs[2].Messages[0].Content, "Observation: 20")
}

func TestReActOptions(t *testing.T) {
	srv := llmtest.New(t, llmtest.Reply{Content: "Thought: x\nAction: calculator\nAction Input: 1+1"})
	exec := NewReAct(client(t, srv), []tools.Tool{calculator.New()}, WithMaxIterations(1), WithSystemPrompt("Custom intro {{not a template}}"))
	_, err := chains.Call(context.Background(), exec, map[string]any{"input": "1+1"})
	require.ErrorIs(t, err, lcagents.ErrNotFinished)
	assert.Contains(t, srv.Requests()[0].Messages[0].Content, "Custom intro {{not a template}}")
}

package einorun_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/components/tool/utils"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/einorun"
	"github.com/reagent-go/reagent/run"
)

// scripted is an in-process eino chat model (the only double in these
// tests): it gives its replies in order and keeps every prompt it got. It
// streams a reply as two chunks.
type scripted struct {
	mu      sync.Mutex
	replies []*schema.Message
	prompts [][]*schema.Message
}

var _ model.ToolCallingChatModel = (*scripted)(nil)

func newScripted(replies ...*schema.Message) *scripted { return &scripted{replies: replies} }

func (m *scripted) next(ctx context.Context, in []*schema.Message) (*schema.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prompts = append(m.prompts, append([]*schema.Message(nil), in...))
	i := len(m.prompts) - 1
	if i >= len(m.replies) {
		return nil, fmt.Errorf("scripted model: no reply %d", i+1)
	}
	cp := *m.replies[i]
	return &cp, nil
}

func (m *scripted) Generate(ctx context.Context, in []*schema.Message, _ ...model.Option) (*schema.Message, error) {
	return m.next(ctx, in)
}

func (m *scripted) Stream(ctx context.Context, in []*schema.Message, _ ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	msg, err := m.next(ctx, in)
	if err != nil {
		return nil, err
	}
	half := len(msg.Content) / 2
	first := &schema.Message{Role: schema.Assistant, Content: msg.Content[:half]}
	rest := *msg
	rest.Content = msg.Content[half:]
	return schema.StreamReaderFromArray([]*schema.Message{first, &rest}), nil
}

func (m *scripted) WithTools([]*schema.ToolInfo) (model.ToolCallingChatModel, error) { return m, nil }

func (m *scripted) prompt(i int) []*schema.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.prompts[i]
}

func (m *scripted) calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.prompts)
}

// callTool is a model reply that calls one tool.
func callTool(id, name, args string) *schema.Message {
	return &schema.Message{Role: schema.Assistant, Content: "I will use " + name + ".",
		ToolCalls:    []schema.ToolCall{{Index: new(0), ID: id, Type: "function", Function: schema.FunctionCall{Name: name, Arguments: args}}},
		ResponseMeta: &schema.ResponseMeta{FinishReason: "tool_calls", Usage: &schema.TokenUsage{PromptTokens: 20, CompletionTokens: 5, TotalTokens: 25}}}
}

// final is a model reply with the final answer.
func final(text string) *schema.Message {
	return &schema.Message{Role: schema.Assistant, Content: text,
		ResponseMeta: &schema.ResponseMeta{FinishReason: "stop", Usage: &schema.TokenUsage{PromptTokens: 30, CompletionTokens: 2, TotalTokens: 32}}}
}

type addArgs struct {
	A int `json:"a" jsonschema:"description=first addend"`
	B int `json:"b" jsonschema:"description=second addend"`
}

// counter counts the calls of a tool.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) inc() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func addTool(t testing.TB, c *counter) tool.InvokableTool {
	tl, err := utils.InferTool("add", "adds two integers", func(_ context.Context, in addArgs) (int, error) {
		if c != nil {
			c.inc()
		}
		return in.A + in.B, nil
	})
	require.NoError(t, err)
	return tl
}

type textArgs struct {
	Text string `json:"text"`
}

// spellTool streams its input back one letter at a time.
func spellTool(t testing.TB) tool.StreamableTool {
	tl, err := utils.InferStreamTool("spell", "spells a word, one letter per chunk", func(_ context.Context, in textArgs) (*schema.StreamReader[string], error) {
		letters := strings.Split(in.Text, "")
		return schema.StreamReaderFromArray(letters), nil
	})
	require.NoError(t, err)
	return tl
}

func namedTool(t testing.TB, name string, fn func(context.Context, textArgs) (string, error)) tool.InvokableTool {
	tl, err := utils.InferTool(name, "a test tool named "+name, fn)
	require.NoError(t, err)
	return tl
}

// newAgent builds a ChatModelAgent with the adapter's middleware.
func newAgent(t testing.TB, a *einorun.Adapter, m model.ToolCallingChatModel, tools ...tool.BaseTool) adk.Agent {
	agent, err := adk.NewChatModelAgent(context.Background(), &adk.ChatModelAgentConfig{
		Name:        "calculator",
		Description: "answers arithmetic questions with tools",
		Instruction: "You are a careful assistant. Use the tools.",
		Model:       m,
		ToolsConfig: adk.ToolsConfig{ToolsNodeConfig: compose.ToolsNodeConfig{Tools: tools}},
		Middlewares: []adk.AgentMiddleware{a.Middleware()},
	})
	require.NoError(t, err)
	return a.Wrap(agent)
}

// result is what a caller of the Runner saw.
type result struct {
	answer      string            // the last assistant message without tool calls
	toolResults map[string]string // by tool name
	err         error             // the first error event
}

// drain reads every event as a user of eino's Runner would.
func drain(t testing.TB, iter *adk.AsyncIterator[*adk.AgentEvent]) result {
	res := result{toolResults: map[string]string{}}
	for {
		ev, ok := iter.Next()
		if !ok {
			return res
		}
		if ev.Err != nil {
			if res.err == nil {
				res.err = ev.Err
			}
			continue
		}
		if ev.Output == nil || ev.Output.MessageOutput == nil {
			continue
		}
		msg, err := ev.Output.MessageOutput.GetMessage()
		if err != nil && !errors.Is(err, io.EOF) {
			if res.err == nil {
				res.err = err
			}
			continue
		}
		switch {
		case msg.Role == schema.Tool:
			res.toolResults[msg.ToolName] = msg.Content
		case msg.Role == schema.Assistant && len(msg.ToolCalls) == 0:
			res.answer = msg.Content
		}
	}
}

// runOnce runs agent through a Runner and returns what the caller saw and
// the recorded trajectory.
func runOnce(t testing.TB, agent adk.Agent, streaming bool, question string, opts ...run.StartOption) (result, *run.Handle) {
	t.Helper()
	h := run.NewHandle(opts...)
	ctx := run.ContextWithHandle(context.Background(), h)
	runner := adk.NewRunner(ctx, adk.RunnerConfig{Agent: agent, EnableStreaming: streaming})
	res := drain(t, runner.Query(ctx, question))
	require.NotNil(t, h.Trajectory(), "the run has ended by the time its events are exhausted")
	return res, h
}

func toolsNode(tools ...tool.BaseTool) compose.ToolsNodeConfig {
	return compose.ToolsNodeConfig{Tools: tools}
}

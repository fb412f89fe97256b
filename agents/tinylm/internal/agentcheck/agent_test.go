// Package agentcheck runs the project's tool-calling agent on the tiny model
// end to end. It holds only tests, apart from the tinylm package's own, so a
// change in package agents cannot break tinylm's build.
package agentcheck

import (
	"context"
	"strings"
	"testing"

	"github.com/reagent-go/reagent/agents"
	"github.com/reagent-go/reagent/agents/tinylm"
	"github.com/reagent-go/reagent/agents/tinylm/internal/tinytest"
	lcagents "github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
)

var shape = tinytest.Shape{VocabSize: tinytest.Vocab, DModel: 32, NLayer: 1, NHead: 2, MaxSeq: 1024}

// recorder is a model wrapper that keeps the messages of every call.
type recorder struct {
	llms.Model
	calls [][]llms.MessageContent
}

func (r *recorder) GenerateContent(ctx context.Context, msgs []llms.MessageContent, opts ...llms.CallOption) (*llms.ContentResponse, error) {
	r.calls = append(r.calls, msgs)
	return r.Model.GenerateContent(ctx, msgs, opts...)
}

// echo is a tool that reverses its input, so its observation is known.
type echo struct{ got []string }

func (*echo) Name() string        { return "reverse" }
func (*echo) Description() string { return "Reverses a string." }
func (e *echo) Call(_ context.Context, in string) (string, error) {
	e.got = append(e.got, in)
	r := []rune(in)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r), nil
}

func load(t *testing.T, turns map[int][]int) *tinylm.Model {
	t.Helper()
	dir := t.TempDir()
	if err := tinytest.Write(dir, shape, tinytest.Turns(shape, turns), true); err != nil {
		t.Fatal(err)
	}
	m, err := tinylm.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func promptLen(t *testing.T, msgs []llms.MessageContent) int {
	t.Helper()
	conv, err := tinylm.ChatMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tinylm.ApplyChatTemplate(conv, true)
	if err != nil {
		t.Fatal(err)
	}
	return len(ids)
}

// TestToolCallingAgent: turn 1 the model calls the tool, turn 2 it answers
// from the observation. The second prompt's length is learnt from a first
// run whose model only knows turn 1.
func TestToolCallingAgent(t *testing.T) {
	const task = "Reverse the word 'stressed'."
	call := "I will use the tool.\n<tool_call>{\"name\": \"reverse\", \"arguments\": {\"input\": \"stressed\"}}</tool_call>"
	answer := "The reversed word is desserts."
	script := func(s string) []int { return append(tinylm.Encode(s), tinylm.TokEnd) }

	run := func(m llms.Model, tool *echo) (map[string]any, error) {
		agent := agents.NewToolCalling(m, nil, agents.WithCallOptions(llms.WithTemperature(0), llms.WithMaxTokens(160)))
		agent.Tools = append(agent.Tools, tool)
		exec := lcagents.NewExecutor(agent, lcagents.WithMaxIterations(3))
		return chains.Call(context.Background(), exec, map[string]any{"input": task})
	}

	// Phase 1: learn the first prompt's length from the agent itself.
	probe := &recorder{Model: load(t, nil)}
	_, _ = run(probe, &echo{})
	if len(probe.calls) == 0 {
		t.Fatal("the agent never called the model")
	}
	p1 := promptLen(t, probe.calls[0])

	// Phase 2: the model knows turn 1; record the second prompt.
	probe = &recorder{Model: load(t, map[int][]int{p1: script(call)})}
	tool := &echo{}
	_, _ = run(probe, tool)
	if len(tool.got) != 1 || tool.got[0] != "stressed" || len(probe.calls) < 2 {
		t.Fatalf("turn 1: tool got %q after %d model calls", tool.got, len(probe.calls))
	}
	p2 := promptLen(t, probe.calls[1])

	// Phase 3: both turns; the run must finish with the answer.
	tool = &echo{}
	out, err := run(load(t, map[int][]int{p1: script(call), p2: script(answer)}), tool)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := out["output"].(string); got != answer || len(tool.got) != 1 {
		t.Fatalf("output %q after tool calls %q", got, tool.got)
	}
	// The tool's observation reached the model under the tool's name.
	conv, _ := tinylm.ChatMessages(probe.calls[1])
	last := conv[len(conv)-1]
	if last.Role != "tool" || last.Name != "reverse" || !strings.Contains(last.Content, "desserts") {
		t.Fatalf("second prompt ends with %+v", last)
	}
}

// eino: a cloudwego/eino ADK ChatModelAgent with an adding tool, recorded
// by reagent: every run is guarded by the default policy, judged by the
// offline heuristic RRM and appended to the same tamper-evident SQLite
// audit trail as langchaingo runs.
//
//	OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=any REAGENT_MODEL=my-model \
//	    go run ./examples/eino "What is 17+25?"
//
// The model client here is a small eino model over any OpenAI-compatible
// endpoint (go-openai); use your own eino model instead, the reagent part
// does not change.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/components/tool/utils"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"
	openai "github.com/sashabaranov/go-openai"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/einorun"
	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/policyfile"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/run"
)

func main() {
	if err := runExample(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "eino example:", err)
		os.Exit(1)
	}
}

type addArgs struct {
	A float64 `json:"a" jsonschema:"description=first number"`
	B float64 `json:"b" jsonschema:"description=second number"`
}

func runExample(ctx context.Context, args []string) error {
	baseURL, key, modelName := os.Getenv("OPENAI_BASE_URL"), os.Getenv("OPENAI_API_KEY"), os.Getenv("REAGENT_MODEL")
	if baseURL == "" || key == "" || modelName == "" {
		return errors.New(`set the model endpoint first:
  OPENAI_BASE_URL  an OpenAI-compatible base URL ending in /v1 (e.g. http://127.0.0.1:8000/v1)
  OPENAI_API_KEY   its API key (any non-empty string for a local server)
  REAGENT_MODEL    the model name the endpoint serves (it must support tool calls)`)
	}
	question := "What is 17+25?"
	if len(args) > 0 {
		question = strings.Join(args, " ")
	}

	add, err := utils.InferTool("add", "adds two numbers", func(_ context.Context, in addArgs) (float64, error) {
		return in.A + in.B, nil
	})
	if err != nil {
		return err
	}
	store, err := audit.OpenSQLite("reagent.db")
	if err != nil {
		return err
	}
	defer store.Close()

	// reagent: one recorder (store, judge, guards), one adapter for eino.
	rec := run.New(
		run.WithStore(store),
		run.WithJudge(rrm.NewHeuristic()), run.WithSyncJudge(true),
		run.WithHooks(guardrails.NewChain(policyfile.Default()).Hooks()),
		run.WithModelName(modelName),
	)
	a := einorun.New(rec, einorun.WithTools(add))

	agent, err := adk.NewChatModelAgent(ctx, &adk.ChatModelAgentConfig{
		Name:        "calculator",
		Description: "answers arithmetic questions with an adding tool",
		Instruction: "Answer the question. Use the add tool for every sum.",
		Model:       newChatModel(baseURL, key, modelName),
		ToolsConfig: adk.ToolsConfig{ToolsNodeConfig: compose.ToolsNodeConfig{Tools: []tool.BaseTool{add}}},
		Middlewares: []adk.AgentMiddleware{a.Middleware()}, // records model and tool calls
	})
	if err != nil {
		return fmt.Errorf("building the agent: %w", err)
	}
	runner := adk.NewRunner(ctx, adk.RunnerConfig{Agent: a.Wrap(agent)}) // opens and ends each run

	h := run.NewHandle() // to read this run's trajectory afterwards
	iter := runner.Query(run.ContextWithHandle(ctx, h), question)
	var answer string
	for {
		ev, ok := iter.Next()
		if !ok {
			break
		}
		if ev.Err != nil {
			return fmt.Errorf("the agent failed: %w", ev.Err)
		}
		if ev.Output != nil && ev.Output.MessageOutput != nil {
			if msg, err := ev.Output.MessageOutput.GetMessage(); err == nil && msg.Role == schema.Assistant && len(msg.ToolCalls) == 0 {
				answer = msg.Content
			}
		}
	}
	if err := rec.Shutdown(ctx); err != nil {
		return err
	}
	t := h.Trajectory()
	fmt.Println("answer:", answer)
	fmt.Printf("run %s: %s, %d steps", t.ID, t.Status, len(t.Steps))
	if len(t.Assessments) > 0 {
		fmt.Printf(", RRM score %.2f: %s", t.Assessments[0].Score, t.Assessments[0].Critique)
	}
	fmt.Println()
	fmt.Println("stored in reagent.db (check it with: go run ./cmd/reagent audit verify --db reagent.db)")
	return nil
}

// chatModel is an eino ToolCallingChatModel over an OpenAI-compatible
// chat-completions endpoint.
type chatModel struct {
	client *openai.Client
	model  string
	tools  []openai.Tool
}

func newChatModel(baseURL, key, name string) *chatModel {
	cfg := openai.DefaultConfig(key)
	cfg.BaseURL = baseURL
	return &chatModel{client: openai.NewClientWithConfig(cfg), model: name}
}

// WithTools returns a copy of the model that offers tools.
func (m *chatModel) WithTools(infos []*schema.ToolInfo) (model.ToolCallingChatModel, error) {
	cp := *m
	cp.tools = nil
	for _, info := range infos {
		var params any
		if info.ParamsOneOf != nil {
			js, err := info.ParamsOneOf.ToJSONSchema()
			if err != nil {
				return nil, fmt.Errorf("tool %s: %w", info.Name, err)
			}
			params = js
		}
		cp.tools = append(cp.tools, openai.Tool{Type: openai.ToolTypeFunction,
			Function: &openai.FunctionDefinition{Name: info.Name, Description: info.Desc, Parameters: params}})
	}
	return &cp, nil
}

// Generate makes one chat-completions call.
func (m *chatModel) Generate(ctx context.Context, in []*schema.Message, _ ...model.Option) (*schema.Message, error) {
	req := openai.ChatCompletionRequest{Model: m.model, Tools: m.tools}
	for _, msg := range in {
		om := openai.ChatCompletionMessage{Role: string(msg.Role), Content: msg.Content, ToolCallID: msg.ToolCallID}
		for _, tc := range msg.ToolCalls {
			om.ToolCalls = append(om.ToolCalls, openai.ToolCall{ID: tc.ID, Type: openai.ToolTypeFunction,
				Function: openai.FunctionCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
		}
		req.Messages = append(req.Messages, om)
	}
	resp, err := m.client.CreateChatCompletion(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("chat completion: %w", err)
	}
	if len(resp.Choices) == 0 {
		return nil, errors.New("chat completion: the endpoint returned no choice")
	}
	c := resp.Choices[0]
	out := &schema.Message{Role: schema.Assistant, Content: c.Message.Content, ReasoningContent: c.Message.ReasoningContent,
		ResponseMeta: &schema.ResponseMeta{FinishReason: string(c.FinishReason), Usage: &schema.TokenUsage{
			PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens, TotalTokens: resp.Usage.TotalTokens}}}
	for i, tc := range c.Message.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, schema.ToolCall{Index: new(i), ID: tc.ID, Type: string(tc.Type),
			Function: schema.FunctionCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
	}
	return out, nil
}

// Stream makes the call and hands the reply on as one chunk.
func (m *chatModel) Stream(ctx context.Context, in []*schema.Message, opts ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	msg, err := m.Generate(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	return schema.StreamReaderFromArray([]*schema.Message{msg}), nil
}

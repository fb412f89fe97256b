package mcprun

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// Tools lists the session's tools (all pages) and returns them as
// langchaingo tools, ready for agents.NewExecutor and middleware.Wrap.
// Each takes a JSON object matching the tool's input schema as its input
// and answers with the result's text (ResultText); a result with IsError
// becomes the tool's error. They come wrapped by the langchaingo adapter
// (middleware.WrapTools), so a call inside a run goes through the run's
// guard chain and is recorded once, whether or not the session's client
// also has Middleware. Calls outside a run follow WithRecorder and
// WithRequireRun; there, as for any langchaingo tool, a tool error (an
// IsError result, input that is not JSON) comes back as the error, and a
// guard's block as the answer.
func Tools(ctx context.Context, cs *mcp.ClientSession, opts ...Option) ([]tools.Tool, error) {
	cfg := newConfig(opts)
	var out []tools.Tool
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("mcprun: listing the MCP server's tools: %w", err)
		}
		out = append(out, &tool{cs: cs, mt: t, spec: Spec(t), cfg: cfg})
	}
	return middleware.WrapTools(out), nil
}

// Tool returns one MCP tool of the session (as listed by ListTools) as a
// langchaingo tool, like Tools.
func Tool(cs *mcp.ClientSession, t *mcp.Tool, opts ...Option) tools.Tool {
	return middleware.WrapTools([]tools.Tool{&tool{cs: cs, mt: t, spec: Spec(t), cfg: newConfig(opts)}})[0]
}

// tool calls one MCP tool; the langchaingo adapter's wrapper around it
// does the recording and guarding inside a run.
type tool struct {
	cs   *mcp.ClientSession
	mt   *mcp.Tool
	spec trajectory.ToolSpec
	cfg  config
}

var (
	_ tools.Tool           = (*tool)(nil)
	_ trajectory.Specifier = (*tool)(nil)
)

func (t *tool) Name() string                  { return t.mt.Name }
func (t *tool) ToolSpec() trajectory.ToolSpec { return t.spec }

// Description is the tool's description followed by its input schema, so
// that a ReAct agent that only reads descriptions knows what to send.
func (t *tool) Description() string {
	if len(t.spec.Parameters) == 0 {
		return t.mt.Description
	}
	return t.mt.Description + " Input: a JSON object matching this schema: " + string(t.spec.Parameters)
}

func (t *tool) Call(ctx context.Context, input string) (string, error) {
	if run.FromContext(ctx) == nil {
		switch {
		case t.cfg.rec != nil:
			p := &mcp.CallToolParams{Name: t.mt.Name, Arguments: json.RawMessage(input)}
			res, err := standalone(ctx, t.cfg, t.spec, func(ctx context.Context, r *run.Run) (*mcp.CallToolResult, error) {
				if !json.Valid([]byte(input)) {
					return refusedInput(ctx, r, t.spec, input, t.mt.Name)
				}
				return guardedCall(ctx, r, t.spec, p, func(ctx context.Context) (mcp.Result, error) {
					return t.cs.CallTool(HostRecorded(ctx), p)
				})
			})
			return answer(res, err)
		case t.cfg.requireRun:
			return "", fmt.Errorf("tool %q: %w", t.mt.Name, ErrNoRun)
		}
	}
	if !json.Valid([]byte(input)) {
		return "", badInput(t.mt.Name)
	}
	// Inside a run the wrapper around this tool records the call: keep the
	// client's middleware (if any) from recording it again.
	res, err := t.cs.CallTool(HostRecorded(ctx), &mcp.CallToolParams{Name: t.mt.Name, Arguments: json.RawMessage(input)})
	return answer(res, err)
}

func badInput(name string) error {
	return fmt.Errorf("mcp tool %s takes a JSON object matching its input schema as input; send one", name)
}

// refusedInput records a call whose input is not JSON as failed, without
// sending it.
func refusedInput(ctx context.Context, r *run.Run, spec trajectory.ToolSpec, input, name string) (*mcp.CallToolResult, error) {
	ctx, tc, err := r.StartTool(ctx, spec, "", input)
	if err != nil {
		return refused(err)
	}
	obs, err := r.EndTool(ctx, tc, "", badInput(name), false)
	if err != nil {
		return nil, err
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: obs}}, IsError: true}, nil
}

// answer turns a CallTool result into a langchaingo tool's answer: a
// guard's block message is the answer (the agent reads why), a tool's own
// error is the error.
func answer(res *mcp.CallToolResult, err error) (string, error) {
	if err != nil {
		return "", err
	}
	text := ResultText(res)
	if res.IsError && !strings.HasPrefix(text, blockedPrefix) {
		return "", toolError(text)
	}
	return text, nil
}

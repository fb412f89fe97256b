package einorun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/schema"
	"github.com/eino-contrib/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/reagent-go/reagent/mcprun"
	"github.com/reagent-go/reagent/trajectory"
)

// MCPTools lists an MCP session's tools (all pages) and returns them as
// eino tools with their input schemas, for a ChatModelAgent's ToolsConfig
// and for WithTools (which then knows their specs, tags from the server's
// annotations included: mcprun.Spec). Inside a run the adapter's
// middleware records and guards each call, as for any eino tool, and the
// call is marked host-recorded so that an mcprun.Middleware on the
// session's client does not record it again. A result with IsError
// becomes the tool's error; a guard's block is the tool's result.
func MCPTools(ctx context.Context, cs *mcp.ClientSession) ([]tool.BaseTool, error) {
	if cs == nil {
		return nil, errors.New("einorun: MCPTools needs a client session")
	}
	var out []tool.BaseTool
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("einorun: listing the MCP server's tools: %w", err)
		}
		mt, err := newMCPTool(cs, t)
		if err != nil {
			return nil, err
		}
		out = append(out, mt)
	}
	return out, nil
}

// mcpTool calls one tool of an MCP session.
type mcpTool struct {
	cs   *mcp.ClientSession
	name string
	spec trajectory.ToolSpec
	info *schema.ToolInfo
}

var (
	_ tool.InvokableTool   = (*mcpTool)(nil)
	_ trajectory.Specifier = (*mcpTool)(nil)
)

func newMCPTool(cs *mcp.ClientSession, t *mcp.Tool) (*mcpTool, error) {
	spec := mcprun.Spec(t)
	info := &schema.ToolInfo{Name: t.Name, Desc: t.Description}
	if len(spec.Parameters) > 0 {
		var js jsonschema.Schema
		if err := json.Unmarshal(spec.Parameters, &js); err != nil {
			return nil, fmt.Errorf("einorun: MCP tool %q: its input schema is not a JSON schema eino can read: %w", t.Name, err)
		}
		info.ParamsOneOf = schema.NewParamsOneOfByJSONSchema(&js)
	}
	return &mcpTool{cs: cs, name: t.Name, spec: spec, info: info}, nil
}

func (t *mcpTool) Info(context.Context) (*schema.ToolInfo, error) { return t.info, nil }

// ToolSpec is the tool's spec as mcprun.Spec gives it.
func (t *mcpTool) ToolSpec() trajectory.ToolSpec { return t.spec }

// InvokableRun sends the model's arguments to the server as they are (a
// JSON object); input that is not JSON is refused without a call.
func (t *mcpTool) InvokableRun(ctx context.Context, args string, _ ...tool.Option) (string, error) {
	if !json.Valid([]byte(args)) {
		return "", fmt.Errorf("mcp tool %s takes a JSON object matching its input schema; send one", t.name)
	}
	res, err := t.cs.CallTool(mcprun.HostRecorded(ctx), &mcp.CallToolParams{Name: t.name, Arguments: json.RawMessage(args)})
	if err != nil {
		return "", fmt.Errorf("mcp tool %s: %w", t.name, err)
	}
	text := mcprun.ResultText(res)
	if res.IsError {
		return "", fmt.Errorf("mcp tool %s: %s", t.name, text)
	}
	return text, nil
}

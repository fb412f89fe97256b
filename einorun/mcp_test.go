package einorun_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cloudwego/eino/adk"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/einorun"
	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/policyfile"
	"github.com/reagent-go/reagent/mcprun"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

type mcpAdd struct {
	A int `json:"a" jsonschema:"first addend"`
	B int `json:"b" jsonschema:"second addend"`
}

type mcpURL struct {
	URL string `json:"url" jsonschema:"the page to fetch"`
}

// mcpSession connects a client with reagent's MCP middleware (recording
// into rec) to a real go-sdk server, over streamable HTTP on loopback or the
// SDK's in-memory transport. The server counts the calls that reach it.
func mcpSession(t *testing.T, rec *run.Recorder, overHTTP bool) (*mcp.ClientSession, *atomic.Int64) {
	t.Helper()
	calls := new(atomic.Int64)
	s := mcp.NewServer(&mcp.Implementation{Name: "einorun-mcp-test", Version: "1.0.0"}, nil)
	open := true
	mcp.AddTool(s, &mcp.Tool{Name: "add", Description: "Adds two integers."}, func(_ context.Context, _ *mcp.CallToolRequest, in mcpAdd) (*mcp.CallToolResult, any, error) {
		calls.Add(1)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strconv.Itoa(in.A + in.B)}}}, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "get_page", Description: "Fetches a web page.", Annotations: &mcp.ToolAnnotations{OpenWorldHint: &open}}, func(_ context.Context, _ *mcp.CallToolRequest, in mcpURL) (*mcp.CallToolResult, any, error) {
		calls.Add(1)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "page of " + in.URL}}}, nil, nil
	})
	var ct mcp.Transport
	if overHTTP {
		hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
		t.Cleanup(hs.Close)
		ct = &mcp.StreamableClientTransport{Endpoint: hs.URL, DisableStandaloneSSE: true, MaxRetries: -1}
	} else {
		st, mt := mcp.NewInMemoryTransports()
		ss, err := s.Connect(context.Background(), st, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = ss.Close() })
		ct = mt
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "einorun-mcp-client", Version: "1.0.0"}, nil)
	c.AddSendingMiddleware(mcprun.Middleware(mcprun.WithRecorder(rec)))
	cs, err := c.Connect(context.Background(), ct, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs, calls
}

// An eino agent uses an MCP server's tools through MCPTools: the schema
// reaches the model's tool list, the spec (tags from the server's
// annotations) reaches the guards, a call to the cloud-metadata address is
// blocked before it reaches the server, and each call is recorded once,
// in the eino run, although the client also has reagent's MCP middleware.
func TestMCPToolsOnEino(t *testing.T) {
	for _, overHTTP := range []bool{false, true} {
		t.Run(map[bool]string{false: "in-memory", true: "streamable-http"}[overHTTP], func(t *testing.T) { mcpToolsOnEino(t, overHTTP) })
	}
}

func mcpToolsOnEino(t *testing.T, overHTTP bool) {
	store, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	defer store.Close()
	rec := run.New(run.WithStore(store), run.WithHooks(guardrails.NewChain(policyfile.Default()).Hooks()))
	cs, calls := mcpSession(t, rec, overHTTP)
	ctx := context.Background()
	tools, err := einorun.MCPTools(ctx, cs)
	require.NoError(t, err)
	require.Len(t, tools, 2)
	info, err := tools[0].Info(ctx)
	require.NoError(t, err)
	js, err := info.ParamsOneOf.ToJSONSchema()
	require.NoError(t, err)
	_, hasA := js.Properties.Get("a")
	assert.True(t, hasA, "the server's input schema reaches eino")

	a := einorun.New(rec, einorun.WithTools(tools...))
	m := newScripted(
		callTool("c1", "add", `{"a":2,"b":3}`),
		callTool("c2", "get_page", `{"url":"http://169.254.169.254/latest/meta-data/"}`),
		final("2+3 is 5; the page was refused."))
	h := run.NewHandle()
	runner := adk.NewRunner(ctx, adk.RunnerConfig{Agent: newAgent(t, a, m, tools...)})
	got := drain(t, runner.Query(run.ContextWithHandle(ctx, h), "add 2 and 3, then read the metadata page"))
	require.NoError(t, got.err)
	assert.Equal(t, "5", got.toolResults["add"])
	assert.Contains(t, got.toolResults["get_page"], "Blocked by guardrail")
	assert.EqualValues(t, 1, calls.Load(), "the blocked call never reached the server")

	tr := h.Trajectory()
	require.NotNil(t, tr)
	var recorded []trajectory.ToolCall
	for _, s := range tr.Steps {
		recorded = append(recorded, s.Calls...)
	}
	require.Len(t, recorded, 2, "each call recorded once")
	assert.False(t, recorded[0].Blocked)
	assert.True(t, recorded[1].Blocked)
	var page trajectory.ToolSpec
	for _, sp := range tr.Tools {
		if sp.Name == "get_page" {
			page = sp
		}
	}
	assert.Contains(t, page.Tags, "egress", "tags from the server's openWorldHint")
	require.NoError(t, rec.Shutdown(ctx))
	stored, err := store.List(ctx, audit.Query{})
	require.NoError(t, err)
	assert.Len(t, stored, 1, "one trajectory: the MCP middleware did not record the calls again")
}

package mcprun_test

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/policyfile"
	"github.com/reagent-go/reagent/mcprun"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

func guarded(p guardrails.Policy) run.Option { return run.WithHooks(guardrails.NewChain(p).Hooks()) }

func call(t *testing.T, ctx context.Context, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err, name)
	return res
}

// TestGuardedCalls runs the same calls against a real server over stdio
// (a child process) and over streamable HTTP, under the default policy.
func TestGuardedCalls(t *testing.T) {
	for _, transport := range []string{"stdio", "http"} {
		t.Run(transport, func(t *testing.T) {
			c := newClient()
			var cs *mcp.ClientSession
			if transport == "stdio" {
				cs = connectStdio(t, c)
			} else {
				cs, _, _ = connectHTTP(t, c)
			}
			_, err := cs.ListTools(context.Background(), nil) // the middleware learns the schemas
			require.NoError(t, err)

			store := openStore(t)
			rec := run.New(run.WithStore(store), guarded(policyfile.Default()))
			ctx, r := rec.Start(context.Background(), "add 2 and 3, then read a page", run.WithRunID("mcp-"+transport))

			res := call(t, ctx, cs, "add", map[string]any{"a": 2, "b": 3})
			assert.False(t, res.IsError)
			assert.Equal(t, "5", mcprun.ResultText(res))

			// The input schema the server published rejects a string: blocked here.
			res = call(t, ctx, cs, "add", map[string]any{"a": "two", "b": 3})
			assert.True(t, res.IsError)
			assert.True(t, strings.HasPrefix(mcprun.ResultText(res), "Blocked by guardrail schema"), mcprun.ResultText(res))

			// fetch is open-world (egress): the network policy refuses loopback.
			res = call(t, ctx, cs, "fetch", map[string]any{"url": "http://127.0.0.1:9/admin"})
			assert.True(t, res.IsError)
			assert.True(t, strings.HasPrefix(mcprun.ResultText(res), "Blocked by guardrail network"), mcprun.ResultText(res))
			assert.Equal(t, 1, serverCalls(t, cs), "blocked calls never reach the server")

			// A public page is fetched and fenced as untrusted.
			res = call(t, ctx, cs, "fetch", map[string]any{"url": "https://example.com/"})
			got := mcprun.ResultText(res)
			assert.Contains(t, got, "page of https://example.com/")
			assert.NotEqual(t, "page of https://example.com/", got, "egress results are fenced")

			// An injected page never reaches the agent as it was.
			res = call(t, ctx, cs, "fetch", map[string]any{"url": "https://evil.example/"})
			got = mcprun.ResultText(res)
			assert.NotEqual(t, injected, got)
			assert.Len(t, res.Content, 1)
			assert.Nil(t, res.StructuredContent)

			// A tool's own error is the call's error.
			res = call(t, ctx, cs, "fail", nil)
			assert.True(t, res.IsError)
			assert.Contains(t, mcprun.ResultText(res), "disk full")
			assert.Equal(t, 4, serverCalls(t, cs))

			_, err = r.Answer(ctx, "5")
			require.NoError(t, err)
			r.End(nil)
			require.NoError(t, rec.Shutdown(context.Background()))

			tr, err := store.Get(context.Background(), "mcp-"+transport)
			require.NoError(t, err)
			var calls []trajectory.ToolCall
			for _, s := range tr.Steps {
				calls = append(calls, s.Calls...)
			}
			require.Len(t, calls, 6, "every tools/call in the run is recorded once (the uncounted 'calls' probes ran outside it)")
			assert.Equal(t, `{"a":2,"b":3}`, calls[0].Input)
			assert.Equal(t, "5", calls[0].Observation)
			assert.True(t, calls[1].Blocked)
			assert.Equal(t, "schema", calls[1].BlockedBy)
			assert.True(t, calls[2].Blocked)
			assert.Equal(t, "network", calls[2].BlockedBy)
			assert.False(t, calls[3].Blocked)
			assert.Equal(t, "disk full", calls[5].Error)
			var injection bool
			for _, d := range tr.Decisions {
				if d.Guard == "prompt-injection" && d.Tool == "fetch" && d.Score != nil && *d.Score > 0.5 {
					injection = true
				}
			}
			assert.True(t, injection, "the injection guard scored the hostile page: %+v", tr.Decisions)
			rep, err := store.Verify(context.Background())
			require.NoError(t, err)
			assert.True(t, rep.OK, rep.String())
		})
	}
}

func TestAbortMode(t *testing.T) {
	c := newClient()
	cs, _, calls := connectHTTP(t, c)
	_, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	deny := &guardrails.ToolFilter{Deny: guardrails.ToolMatch{Names: []string{"add"}}}
	rec := run.New(guarded(guardrails.Policy{Guards: []guardrails.Guard{deny}, Mode: guardrails.ModeAbort}))
	h := run.NewHandle()
	ctx, r := rec.Start(run.ContextWithHandle(context.Background(), h), "add")
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 1}})
	require.ErrorIs(t, err, run.ErrRefused)
	r.End(err)
	assert.Equal(t, int64(0), calls.Load())
	assert.Equal(t, trajectory.StatusError, h.Trajectory().Status)
}

func TestServerKilled(t *testing.T) {
	t.Run("stdio", func(t *testing.T) {
		cs := connectStdio(t, newClient())
		rec := run.New()
		h := run.NewHandle()
		ctx, r := rec.Start(run.ContextWithHandle(context.Background(), h), "crash")
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "crash"})
		require.Error(t, err, "a server that died answers nothing")
		_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 1}})
		require.Error(t, err)
		r.End(nil)
		tr := h.Trajectory()
		require.Len(t, tr.Steps, 1)
		require.Len(t, tr.Steps[0].Calls, 2)
		for _, c := range tr.Steps[0].Calls {
			assert.NotEmpty(t, c.Error, "the transport error is recorded: %+v", c)
		}
	})
	t.Run("http", func(t *testing.T) {
		cs, hs, _ := connectHTTP(t, newClient())
		hs.CloseClientConnections()
		hs.Close()
		h := run.NewHandle()
		ctx, r := run.New().Start(run.ContextWithHandle(context.Background(), h), "add")
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 1}})
		require.Error(t, err)
		r.End(nil)
		require.Len(t, h.Trajectory().Steps[0].Calls, 1)
		assert.NotEmpty(t, h.Trajectory().Steps[0].Calls[0].Error)
	})
}

func TestOutsideRun(t *testing.T) {
	deny := &guardrails.ToolFilter{Deny: guardrails.ToolMatch{Names: []string{"add"}}}
	t.Run("passes unrecorded by default", func(t *testing.T) {
		cs, _, calls := connectHTTP(t, newClient())
		res := call(t, context.Background(), cs, "add", map[string]any{"a": 1, "b": 2})
		assert.Equal(t, "3", mcprun.ResultText(res))
		assert.Equal(t, int64(1), calls.Load())
	})
	t.Run("a run of its own with WithRecorder", func(t *testing.T) {
		store := openStore(t)
		rec := run.New(run.WithStore(store), guarded(guardrails.Policy{Guards: []guardrails.Guard{deny}}))
		cs, _, calls := connectHTTP(t, newClient(mcprun.WithRecorder(rec)))
		res := call(t, context.Background(), cs, "add", map[string]any{"a": 1, "b": 2})
		assert.True(t, res.IsError)
		assert.Contains(t, mcprun.ResultText(res), "Blocked by guardrail tools")
		assert.Equal(t, int64(0), calls.Load(), "guards apply outside a run too")
		res = call(t, context.Background(), cs, "fetch", map[string]any{"url": "https://example.com/"})
		assert.Equal(t, "page of https://example.com/", mcprun.ResultText(res))
		require.NoError(t, rec.Shutdown(context.Background()))
		runs, err := store.List(context.Background(), audit.Query{})
		require.NoError(t, err)
		assert.Len(t, runs, 2, "each call outside a run is a stored run")
	})
	t.Run("refused with WithRequireRun", func(t *testing.T) {
		cs, _, calls := connectHTTP(t, newClient(mcprun.WithRequireRun(true)))
		_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 2}})
		require.ErrorIs(t, err, mcprun.ErrNoRun)
		assert.Equal(t, int64(0), calls.Load())
	})
}

// TestProtocolError: a tools/call the server answers with a JSON-RPC error
// (an unknown tool) comes back unchanged and is recorded as the call's error.
func TestProtocolError(t *testing.T) {
	cs, _, _ := connectHTTP(t, newClient())
	h := run.NewHandle()
	ctx, r := run.New().Start(run.ContextWithHandle(context.Background(), h), "nope")
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "nope", Arguments: map[string]any{}})
	require.Error(t, err)
	r.End(nil)
	c := h.Trajectory().Steps[0].Calls[0]
	assert.Equal(t, "nope", c.Tool)
	assert.Equal(t, err.Error(), c.Error)
}

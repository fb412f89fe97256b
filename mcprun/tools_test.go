package mcprun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/policyfile"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/mcprun"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/reagent/export"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

func react(action, input string) llmtest.Reply {
	return llmtest.Reply{Content: fmt.Sprintf("Thought: I should use %s.\nAction: %s\nAction Input: %s", action, action, input), PromptTokens: 50, CompletionTokens: 10}
}

func final(answer string) llmtest.Reply {
	return llmtest.Reply{Content: "Thought: I know the answer now.\nFinal Answer: " + answer, PromptTokens: 60, CompletionTokens: 8}
}

func newLLM(t *testing.T, srv *llmtest.Server) *openai.LLM {
	t.Helper()
	llm, err := openai.New(openai.WithBaseURL(srv.URL), openai.WithToken("test"), openai.WithModel("policy-test"))
	require.NoError(t, err)
	return llm
}

// runAgent runs a ReAct agent over ts in a middleware.Wrap'ped executor
// and returns the stored trajectory.
func runAgent(t *testing.T, store audit.Store, id string, ts []tools.Tool, replies ...llmtest.Reply) (string, *trajectory.Trajectory) {
	t.Helper()
	srv := llmtest.New(t, replies...)
	exec := middleware.Wrap(agents.NewExecutor(agents.NewOneShotAgent(newLLM(t, srv), ts)),
		run.WithStore(store), guarded(policyfile.Default()), run.WithJudge(rrm.NewHeuristic()), run.WithSyncJudge(true))
	out, err := chains.Run(run.ContextWithHandle(context.Background(), run.NewHandle(run.WithRunID(id))), exec, "What is 2 plus 3?")
	require.NoError(t, err)
	require.NoError(t, exec.Shutdown(context.Background()))
	tr, err := store.Get(context.Background(), id)
	require.NoError(t, err)
	return out, tr
}

// TestToolsInWrappedExecutor: a session's tools in a langchaingo agent,
// recorded once although the client also has the middleware.
func TestToolsInWrappedExecutor(t *testing.T) {
	cs, _, calls := connectHTTP(t, newClient())
	ts, err := mcprun.Tools(context.Background(), cs)
	require.NoError(t, err)
	var add tools.Tool
	for _, tl := range ts {
		if tl.Name() == "add" {
			add = tl
		}
	}
	require.NotNil(t, add)
	spec := add.(trajectory.Specifier).ToolSpec()
	assert.Contains(t, string(spec.Parameters), `"a"`)
	assert.Contains(t, add.Description(), "Adds two integers. Input: a JSON object matching this schema:")

	store := openStore(t)
	out, tr := runAgent(t, store, "lc-mcp", ts,
		react("add", `{"a": 2, "b": 3}`),
		react("add", `{"a": "two", "b": 3}`),
		react("add", "two plus three"),
		final("5"))
	assert.Equal(t, "5", out)
	assert.Equal(t, int64(1), calls.Load(), "the blocked and the malformed call never reach the server")
	var got []trajectory.ToolCall
	for _, s := range tr.Steps {
		got = append(got, s.Calls...)
	}
	require.Len(t, got, 3, "each call recorded once")
	assert.Equal(t, "5", got[0].Observation)
	assert.True(t, got[1].Blocked)
	assert.Equal(t, "schema", got[1].BlockedBy)
	assert.Contains(t, got[2].Error, "takes a JSON object")
	var known bool
	for _, s := range tr.Tools {
		if s.Name == "add" && len(s.Parameters) > 0 {
			known = true
		}
	}
	assert.True(t, known, "the run knows the tool's schema: %+v", tr.Tools)
}

// nativeAdd is the same tool written for langchaingo directly.
type nativeAdd struct {
	desc string
	spec trajectory.ToolSpec
}

func (n nativeAdd) Name() string                  { return "add" }
func (n nativeAdd) Description() string           { return n.desc }
func (n nativeAdd) ToolSpec() trajectory.ToolSpec { return n.spec }
func (n nativeAdd) Call(_ context.Context, input string) (string, error) {
	var a, b int
	if _, err := fmt.Sscanf(strings.ReplaceAll(input, " ", ""), `{"a":%d,"b":%d}`, &a, &b); err != nil {
		return "", err
	}
	return strconv.Itoa(a + b), nil
}

// TestOneTrajectoryWhicheverHost: the same task through a langchaingo
// tool and through the MCP tool gives trajectories that the heuristic RRM,
// the exports and the audit chain treat alike.
func TestOneTrajectoryWhicheverHost(t *testing.T) {
	cs := connectStdio(t, newClient())
	ts, err := mcprun.Tools(context.Background(), cs)
	require.NoError(t, err)
	var mcpAdd tools.Tool
	for _, tl := range ts {
		if tl.Name() == "add" {
			mcpAdd = tl
		}
	}
	require.NotNil(t, mcpAdd)
	native := nativeAdd{desc: mcpAdd.Description(), spec: mcpAdd.(trajectory.Specifier).ToolSpec()}

	store := openStore(t)
	script := []llmtest.Reply{react("add", `{"a": 2, "b": 3}`), final("5")}
	_, viaLC := runAgent(t, store, "via-lcgo", []tools.Tool{native}, script...)
	_, viaMCP := runAgent(t, store, "via-mcp0", []tools.Tool{mcpAdd}, script...)

	same := func(tr *trajectory.Trajectory) []trajectory.ToolCall {
		var cs []trajectory.ToolCall
		for _, s := range tr.Steps {
			for _, c := range s.Calls {
				c.StartedAt, c.Duration = viaLC.StartedAt, 0
				cs = append(cs, c)
			}
		}
		return cs
	}
	assert.Equal(t, same(viaLC), same(viaMCP))
	assert.Equal(t, viaLC.FinalAnswer, viaMCP.FinalAnswer)
	assert.Equal(t, viaLC.Status, viaMCP.Status)
	assert.Equal(t, viaLC.Tools, viaMCP.Tools)

	h := rrm.NewHeuristic()
	a, b := h.Judge(context.Background(), viaLC), h.Judge(context.Background(), viaMCP)
	assert.Equal(t, a.Score, b.Score)
	assert.Equal(t, a.Status, b.Status)
	assert.Equal(t, a.Critique, b.Critique)

	records := 0
	for _, f := range export.Formats() {
		var x, y bytes.Buffer
		rx, err := export.Write(&x, f, []*trajectory.Trajectory{viaLC}, export.WithFailedRuns())
		require.NoError(t, err)
		ry, err := export.Write(&y, f, []*trajectory.Trajectory{viaMCP}, export.WithFailedRuns())
		require.NoError(t, err)
		records += rx.Records
		rx.Format, ry.Format = "", ""
		assert.Equal(t, rx, ry, f)
		if f == export.Verl { // Parquet: compare the rows read back
			rx, err := parquet.Read[export.VerlRow](bytes.NewReader(x.Bytes()), int64(x.Len()))
			require.NoError(t, err)
			ry, err := parquet.Read[export.VerlRow](bytes.NewReader(y.Bytes()), int64(y.Len()))
			require.NoError(t, err)
			for i := range rx {
				rx[i].ExtraInfo.TrajectoryID = "ID"
			}
			for i := range ry {
				ry[i].ExtraInfo.TrajectoryID = "ID"
			}
			assert.Equal(t, rx, ry)
			continue
		}
		assert.Equal(t, strings.ReplaceAll(x.String(), "via-lcgo", "ID"), strings.ReplaceAll(y.String(), "via-mcp0", "ID"), f)
	}
	assert.Positive(t, records, "the exports wrote the runs")
	assert.True(t, a.OK(), a.Error)
	assert.Equal(t, "add", viaMCP.Steps[0].Calls[0].Tool)
	assert.Equal(t, "5", viaMCP.Steps[0].Calls[0].Observation)
	rep, err := store.Verify(context.Background())
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
	assert.GreaterOrEqual(t, rep.Records, int64(2))
}

// TestToolsOutsideRun: the adapter's tools called with no run in the
// context follow WithRecorder and WithRequireRun, like the middleware.
func TestToolsOutsideRun(t *testing.T) {
	ctx := context.Background()
	find := func(ts []tools.Tool, name string) tools.Tool {
		for _, tl := range ts {
			if tl.Name() == name {
				return tl
			}
		}
		t.Fatalf("no tool %s", name)
		return nil
	}
	t.Run("WithRecorder", func(t *testing.T) {
		cs, _, calls := connectHTTP(t, newClient())
		store := openStore(t)
		rec := run.New(run.WithStore(store), guarded(policyfile.Default()))
		ts, err := mcprun.Tools(ctx, cs, mcprun.WithRecorder(rec), mcprun.WithAgentName("mcp-tools"))
		require.NoError(t, err)
		add := find(ts, "add")
		out, err := add.Call(ctx, `{"a": 4, "b": 5}`)
		require.NoError(t, err)
		assert.Equal(t, "9", out)
		out, err = add.Call(ctx, `{"a": "four"}`)
		require.NoError(t, err, "a block is the answer, not an error")
		assert.Contains(t, out, "Blocked by guardrail schema")
		_, err = add.Call(ctx, "four and five")
		require.ErrorContains(t, err, "takes a JSON object", "outside a run a tool error is the error, as for any tool")
		_, err = find(ts, "fail").Call(ctx, `{}`)
		require.ErrorContains(t, err, "disk full")
		assert.Equal(t, int64(2), calls.Load(), "only the valid calls reached the server")
		require.NoError(t, rec.Shutdown(ctx))
		runs, err := store.List(ctx, audit.Query{})
		require.NoError(t, err)
		require.Len(t, runs, 4, "each call outside a run is a run of its own")
		for _, tr := range runs {
			assert.Equal(t, "mcp-tools", tr.Agent)
			require.Len(t, tr.Steps, 1)
			require.Len(t, tr.Steps[0].Calls, 1, "recorded once although the client has the middleware")
		}
	})
	t.Run("WithRequireRun", func(t *testing.T) {
		cs, _, calls := connectHTTP(t, newClient())
		ts, err := mcprun.Tools(ctx, cs, mcprun.WithRequireRun(true))
		require.NoError(t, err)
		_, err = find(ts, "add").Call(ctx, `{"a": 4, "b": 5}`)
		require.ErrorIs(t, err, mcprun.ErrNoRun)
		assert.Equal(t, int64(0), calls.Load())
	})
	t.Run("unrecorded by default", func(t *testing.T) {
		cs, _, calls := connectHTTP(t, newClient())
		ts, err := mcprun.Tools(ctx, cs)
		require.NoError(t, err)
		out, err := find(ts, "add").Call(ctx, `{"a": 4, "b": 5}`)
		require.NoError(t, err)
		assert.Equal(t, "9", out)
		assert.Equal(t, int64(1), calls.Load())
	})
}

// FuzzToolInput: whatever a model sends as a tool's input, the adapter
// answers (an observation or an error), records the call once, and input
// that is not JSON never reaches the server.
func FuzzToolInput(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":2}`, `{"a":"x"}`, `not json`, ``, `[]`, `null`, `{"a":1e400,"b":0}`, `{"a":1,"b":2,"c":{"d":[1,2,3]}}`, "\x00\xff"} {
		f.Add(s)
	}
	c := newClient()
	cs, _, calls := connectHTTP(f, c)
	ts, err := mcprun.Tools(context.Background(), cs)
	require.NoError(f, err)
	var add tools.Tool
	for _, tl := range ts {
		if tl.Name() == "add" {
			add = tl
		}
	}
	rec := run.New(guarded(policyfile.Default()))
	f.Fuzz(func(t *testing.T, input string) {
		h := run.NewHandle()
		ctx, r := rec.Start(run.ContextWithHandle(context.Background(), h), "fuzz")
		before := calls.Load()
		out, err := add.Call(ctx, input)
		r.End(nil)
		assert.False(t, out == "" && err == nil, "an answer or an error")
		tr := h.Trajectory()
		require.Len(t, tr.Steps, 1)
		require.Len(t, tr.Steps[0].Calls, 1)
		if !json.Valid([]byte(input)) {
			assert.Equal(t, before, calls.Load(), "input that is not JSON never reaches the server")
		}
	})
}

package einorun_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/einorun"
	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/internal/pgtest"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// ledger is a file each run of a ledger tool appends a line to, so that
// runs in different processes add up.
type ledger struct {
	path string
	mu   sync.Mutex
}

func (l *ledger) tool(t testing.TB, name string) tool.InvokableTool {
	return namedTool(t, name, func(_ context.Context, in textArgs) (string, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := fmt.Fprintln(f, name+" "+in.Text); err != nil {
			return "", err
		}
		return "done: " + in.Text, nil
	})
}

func (l *ledger) lines(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(l.path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// durableSetup builds the same eino program in every process: a
// ChatModelAgent with a harmless "lookup" tool and a "wire" tool that needs
// approval, guarded by a chain whose approver is durable, recorded into
// store, run by a Runner whose checkpoints go through the adapter.
type durableSetup struct {
	a      *einorun.Adapter
	d      *approval.Durable
	rec    *run.Recorder
	runner *adk.Runner
}

func newDurable(t testing.TB, store audit.Store, l *ledger, m model.ToolCallingChatModel, streaming bool) *durableSetup {
	t.Helper()
	return newDurableWith(t, store, l, m, streaming, approval.WithSealKey(testSealKey))
}

// newDurableWith is newDurable with the Durable's options given.
func newDurableWith(t testing.TB, store audit.Store, l *ledger, m model.ToolCallingChatModel, streaming bool, opts ...approval.DurableOption) *durableSetup {
	t.Helper()
	d, err := approval.NewDurable(store, append([]approval.DurableOption{approval.WithHost("eino")}, opts...)...)
	require.NoError(t, err)
	approve := &guardrails.ToolFilter{Approve: guardrails.ToolMatch{Names: []string{"wire"}}}
	chain := guardrails.NewChain(guardrails.Policy{Guards: []guardrails.Guard{approve}, Approver: d})
	rec := run.New(run.WithStore(store), run.WithHooks(chain.Hooks()))
	lookup, wire := l.tool(t, "lookup"), l.tool(t, "wire")
	a := einorun.New(rec, einorun.WithTools(lookup, wire))
	runner := adk.NewRunner(context.Background(), adk.RunnerConfig{
		Agent: newAgent(t, a, m, lookup, wire), EnableStreaming: streaming,
		CheckPointStore: a.CheckPointStore(nil),
	})
	return &durableSetup{a: a, d: d, rec: rec, runner: runner}
}

// seen is what a caller of the Runner saw, interrupts included.
type seen struct {
	result
	interrupts []*adk.InterruptInfo
}

func drainAll(t testing.TB, iter *adk.AsyncIterator[*adk.AgentEvent]) seen {
	var s seen
	s.toolResults = map[string]string{}
	for {
		ev, ok := iter.Next()
		if !ok {
			return s
		}
		if ev.Action != nil && ev.Action.Interrupted != nil {
			s.interrupts = append(s.interrupts, ev.Action.Interrupted)
		}
		if ev.Err != nil {
			if s.err == nil {
				s.err = ev.Err
			}
			continue
		}
		if ev.Output == nil || ev.Output.MessageOutput == nil {
			continue
		}
		msg, err := ev.Output.MessageOutput.GetMessage()
		if err != nil && !errors.Is(err, io.EOF) {
			if s.err == nil {
				s.err = err
			}
			continue
		}
		switch {
		case msg.Role == schema.Tool:
			s.toolResults[msg.ToolName] = msg.Content
		case msg.Role == schema.Assistant && len(msg.ToolCalls) == 0:
			s.answer = msg.Content
		}
	}
}

// pauseRun runs the program until the wire call pauses it and returns the
// request ID from eino's interrupt.
func pauseRun(t testing.TB, store audit.Store, l *ledger, streaming bool) string {
	t.Helper()
	m := newScripted(callTool("c1", "lookup", `{"text":"balance"}`), callTool("c2", "wire", `{"text":"send $100"}`))
	s := newDurable(t, store, l, m, streaming)
	h := run.NewHandle(run.WithRunID("paused-run"))
	ctx := run.ContextWithHandle(context.Background(), h)
	got := drainAll(t, s.runner.Query(ctx, "pay the bill", einorun.CheckPointID("bill-1")...))
	require.NoError(t, got.err)
	require.Len(t, got.interrupts, 1, "the run ends with eino's interrupt")
	ics := got.interrupts[0].InterruptContexts
	require.Len(t, ics, 1)
	info, ok := ics[0].Info.(*einorun.PauseInfo)
	require.True(t, ok, "%T", ics[0].Info)
	assert.Equal(t, "wire", info.Tool)
	assert.JSONEq(t, `{"text":"send $100"}`, info.Arguments)
	assert.True(t, ics[0].IsRootCause)
	tr := h.Trajectory()
	require.NotNil(t, tr, "the run has ended by the time its events are exhausted")
	require.Equal(t, trajectory.StatusPaused, tr.Status, tr.Error)
	assert.Contains(t, tr.Error, info.RequestID)
	require.NoError(t, s.rec.Shutdown(context.Background()))
	return info.RequestID
}

// resumeRun decides the request in a fresh program (new adapter, agent,
// Runner) and resumes it; it returns what the caller saw, the resumed
// trajectory and the model.
func resumeRun(t *testing.T, store audit.Store, l *ledger, id string, approve, streaming bool) (seen, *trajectory.Trajectory, *scripted) {
	t.Helper()
	ctx := context.Background()
	m := newScripted(final("paid"))
	s := newDurable(t, store, l, m, streaming)

	pending, err := s.d.Pending(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, "wire", pending[0].Request.Tool)
	assert.Equal(t, "eino", pending[0].Host)
	assert.Equal(t, "paused-run", pending[0].Request.RunID)
	_, err = s.a.Resume(ctx, s.runner, s.d, id)
	require.ErrorContains(t, err, "still pending")

	_, err = s.d.Decide(ctx, id, approval.Resolution{Approved: approve, By: "alice", Reason: "checked the invoice"})
	require.NoError(t, err)

	h := run.NewHandle()
	iter, err := s.a.Resume(run.ContextWithHandle(ctx, h), s.runner, s.d, id)
	require.NoError(t, err)
	got := drainAll(t, iter)
	require.NoError(t, got.err)
	rt := h.Trajectory()
	require.NotNil(t, rt)

	_, err = s.a.Resume(ctx, s.runner, s.d, id)
	require.ErrorContains(t, err, "already resumed")
	require.NoError(t, s.rec.Shutdown(ctx))
	return got, rt, m
}

func checkResumed(t *testing.T, store audit.Store, l *ledger, id string, approve bool, got seen, rt *trajectory.Trajectory, m *scripted) {
	t.Helper()
	ctx := context.Background()
	assert.Empty(t, got.interrupts)
	assert.Equal(t, "paid", got.answer)
	require.Equal(t, 1, m.calls(), "the resumed run calls the model once, after the tool")
	prompt := m.prompt(0)
	var tools []string
	for _, msg := range prompt {
		if msg.Role == schema.Tool {
			tools = append(tools, msg.ToolName+"="+msg.Content)
		}
	}
	if approve {
		assert.Equal(t, []string{"lookup balance", "wire send $100"}, l.lines(t), "the approved call ran once, after approval")
		assert.Equal(t, "done: send $100", got.toolResults["wire"])
		assert.Equal(t, []string{"lookup=done: balance", "wire=done: send $100"}, tools, "eino restored the history")
	} else {
		assert.Equal(t, []string{"lookup balance"}, l.lines(t), "a denied call never runs")
		assert.True(t, strings.HasPrefix(got.toolResults["wire"], "Blocked by guardrail"), got.toolResults["wire"])
		require.Len(t, tools, 2)
		assert.True(t, strings.HasPrefix(tools[1], "wire=Blocked by guardrail"), tools[1])
	}

	assert.Equal(t, trajectory.StatusFinished, rt.Status, rt.Error)
	assert.Equal(t, "paused-run", rt.Metadata[einorun.MetaResumedFrom])
	assert.Equal(t, id, rt.Metadata[einorun.MetaApprovalRequest])
	assert.Equal(t, "pay the bill", rt.Task)
	assert.Equal(t, map[string]string{"input": "pay the bill"}, rt.Inputs, "as the paused run's")
	assert.Equal(t, "paid", rt.FinalAnswer)
	require.NotEmpty(t, rt.Steps)
	wire := rt.Steps[0].Calls[0]
	assert.Equal(t, "wire", wire.Tool)
	assert.Equal(t, !approve, wire.Blocked)
	var dec *trajectory.Decision
	for i := range rt.Decisions {
		if rt.Decisions[i].Verdict == trajectory.Escalate {
			dec = &rt.Decisions[i]
		}
	}
	require.NotNil(t, dec)
	assert.Equal(t, "alice", dec.ResolvedBy)
	want := "denied"
	if approve {
		want = "approved"
	}
	assert.Equal(t, want, dec.Resolution)

	paused, err := store.Get(ctx, "paused-run")
	require.NoError(t, err)
	assert.Equal(t, trajectory.StatusPaused, paused.Status)

	// The chain holds, in order: the request, the paused run, the decision,
	// the resumed run; and it verifies.
	var kinds []string
	require.NoError(t, store.Records(ctx, func(r audit.Record) error {
		kinds = append(kinds, string(r.Kind)+":"+r.RunID)
		return nil
	}))
	assert.Equal(t, []string{
		"approval-request:paused-run", "trajectory:paused-run",
		"approval-decision:paused-run", "trajectory:" + rt.ID,
	}, kinds)
	rep, err := store.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
}

func TestDurableApprovalResumes(t *testing.T) {
	for _, tc := range []struct {
		approve, streaming bool
	}{{true, false}, {false, false}, {true, true}} {
		t.Run(fmt.Sprintf("approved=%v,streaming=%v", tc.approve, tc.streaming), func(t *testing.T) {
			dir := t.TempDir()
			store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
			require.NoError(t, err)
			defer store.Close()
			l := &ledger{path: filepath.Join(dir, "ledger")}
			id := pauseRun(t, store, l, tc.streaming)
			assert.Equal(t, []string{"lookup balance"}, l.lines(t), "before approval only the harmless call ran")
			got, rt, m := resumeRun(t, store, l, id, tc.approve, tc.streaming)
			checkResumed(t, store, l, id, tc.approve, got, rt, m)
		})
	}
}

const childEnv = "REAGENT_TEST_EINO_PAUSE_CHILD"

// TestDurablePauseChild is the child process of the kill test: it runs the
// agent until the escalated call pauses the run, prints the request ID and
// kills itself (SIGKILL: no deferred cleanup, no Close).
func TestDurablePauseChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("runs only as the child of the durable approval kill test")
	}
	store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	require.NoError(t, err)
	id := pauseRun(t, store, &ledger{path: filepath.Join(dir, "ledger")}, false)
	fmt.Printf("REQUEST %s\n", id)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // never reached
}

func TestDurableApprovalSurvivesKill(t *testing.T) {
	for _, approve := range []bool{true, false} {
		t.Run(fmt.Sprintf("approved=%v", approve), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestDurablePauseChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+dir)
			out, err := cmd.Output()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "the child must die, not exit cleanly: %s", out)
			ws, ok := ee.Sys().(syscall.WaitStatus)
			require.True(t, ok)
			require.True(t, ws.Signaled(), "child output: %s", out)
			require.Equal(t, syscall.SIGKILL, ws.Signal())
			var id string
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "REQUEST "); ok {
					id = v
				}
			}
			require.NotEmpty(t, id, "the child printed no request: %s", out)

			l := &ledger{path: filepath.Join(dir, "ledger")}
			assert.Equal(t, []string{"lookup balance"}, l.lines(t), "before approval only the harmless call ran")
			store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
			require.NoError(t, err)
			defer store.Close()
			got, rt, m := resumeRun(t, store, l, id, approve, false)
			checkResumed(t, store, l, id, approve, got, rt, m)
		})
	}
}

// A durable escalation that could not be resumed is refused: the chain
// blocks the call (fail closed), the block says what to set, nothing is
// stored as pending and the tool never runs. Without einorun.CheckPointID
// nothing could resume the run; without a seal key the eino checkpoint
// (compressed gob, unreadable to the redactor) could not be stored safely.
func TestDurableUnresumableIsRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []approval.DurableOption
		run  []adk.AgentRunOption
		want string
	}{
		{"no checkpoint ID", []approval.DurableOption{approval.WithSealKey(testSealKey)}, nil, "einorun.CheckPointID"},
		{"no seal key", nil, einorun.CheckPointID("bill-1"), approval.EnvSealKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
			require.NoError(t, err)
			defer store.Close()
			l := &ledger{path: filepath.Join(dir, "ledger")}
			m := newScripted(callTool("c2", "wire", `{"text":"send $100"}`), final("could not pay"))
			s := newDurableWith(t, store, l, m, false, c.opts...)
			h := run.NewHandle()
			got := drainAll(t, s.runner.Query(run.ContextWithHandle(ctx, h), "pay the bill", c.run...))
			require.NoError(t, got.err)
			assert.Empty(t, got.interrupts)
			assert.Equal(t, "could not pay", got.answer)
			assert.Contains(t, got.toolResults["wire"], c.want, "the refusal says what to do")
			assert.Empty(t, l.lines(t))
			pending, err := s.d.Pending(ctx)
			require.NoError(t, err)
			assert.Empty(t, pending)
			assert.Equal(t, trajectory.StatusFinished, h.Trajectory().Status)
			assert.True(t, h.Trajectory().Steps[0].Calls[0].Blocked)
		})
	}
}

// A turn that calls a harmless tool and an escalated one at once: eino runs
// the harmless one before the pause and keeps its result in the
// checkpoint, so after the approval only the escalated call runs; both run
// exactly once in all.
func TestDurablePauseKeepsTheTurnsOtherResults(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	require.NoError(t, err)
	defer store.Close()
	l := &ledger{path: filepath.Join(dir, "ledger")}
	both := callTool("c1", "lookup", `{"text":"balance"}`)
	both.ToolCalls = append(both.ToolCalls, schema.ToolCall{Index: new(1), ID: "c2", Type: "function", Function: schema.FunctionCall{Name: "wire", Arguments: `{"text":"send $5"}`}})
	s := newDurable(t, store, l, newScripted(both), false)
	got := drainAll(t, s.runner.Query(ctx, "pay", einorun.CheckPointID("turn")...))
	require.NoError(t, got.err)
	require.Len(t, got.interrupts, 1)
	id := got.interrupts[0].InterruptContexts[0].Info.(*einorun.PauseInfo).RequestID
	assert.Equal(t, []string{"lookup balance"}, l.lines(t))

	m := newScripted(final("paid"))
	s2 := newDurable(t, store, l, m, false)
	_, err = s2.d.Decide(ctx, id, approval.Resolution{Approved: true, By: "bob"})
	require.NoError(t, err)
	iter, err := s2.a.Resume(ctx, s2.runner, s2.d, id)
	require.NoError(t, err)
	got = drainAll(t, iter)
	require.NoError(t, got.err)
	assert.Equal(t, "paid", got.answer)
	assert.Equal(t, []string{"lookup balance", "wire send $5"}, l.lines(t), "each call ran once")
	var tools []string
	for _, msg := range m.prompt(0) {
		if msg.Role == schema.Tool {
			tools = append(tools, msg.ToolName+"="+msg.Content)
		}
	}
	assert.Equal(t, []string{"lookup=done: balance", "wire=done: send $5"}, tools)
}

// A resumed run that escalates again pauses again, under the same
// checkpoint ID, and resumes again.
func TestResumedRunCanPauseAgain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	require.NoError(t, err)
	defer store.Close()
	l := &ledger{path: filepath.Join(dir, "ledger")}
	id := pauseRun(t, store, l, false)

	s := newDurable(t, store, l, newScripted(callTool("c3", "wire", `{"text":"send $7"}`)), false)
	_, err = s.d.Decide(ctx, id, approval.Resolution{Approved: true, By: "alice"})
	require.NoError(t, err)
	h := run.NewHandle()
	iter, err := s.a.Resume(run.ContextWithHandle(ctx, h), s.runner, s.d, id)
	require.NoError(t, err)
	got := drainAll(t, iter)
	require.NoError(t, got.err)
	require.Len(t, got.interrupts, 1, "the second wire call pauses the resumed run")
	id2 := got.interrupts[0].InterruptContexts[0].Info.(*einorun.PauseInfo).RequestID
	require.NotEqual(t, id, id2)
	mid := h.Trajectory()
	require.Equal(t, trajectory.StatusPaused, mid.Status, mid.Error)
	assert.Equal(t, id, mid.Metadata[einorun.MetaApprovalRequest])
	assert.Equal(t, []string{"lookup balance", "wire send $100"}, l.lines(t))

	m := newScripted(final("paid twice"))
	s2 := newDurable(t, store, l, m, false)
	pending, err := s2.d.Pending(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, mid.ID, pending[0].Request.RunID)
	_, err = s2.d.Decide(ctx, id2, approval.Resolution{Approved: true, By: "alice"})
	require.NoError(t, err)
	h2 := run.NewHandle()
	iter, err = s2.a.Resume(run.ContextWithHandle(ctx, h2), s2.runner, s2.d, id2)
	require.NoError(t, err)
	got = drainAll(t, iter)
	require.NoError(t, got.err)
	assert.Equal(t, "paid twice", got.answer)
	assert.Equal(t, []string{"lookup balance", "wire send $100", "wire send $7"}, l.lines(t))
	last := h2.Trajectory()
	assert.Equal(t, trajectory.StatusFinished, last.Status)
	assert.Equal(t, mid.ID, last.Metadata[einorun.MetaResumedFrom])
	require.NoError(t, s2.rec.Shutdown(ctx))
	rep, err := store.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
}

// The adapter's CheckPointStore hands every checkpoint that is not a
// durable approval's to the other store, so the agent's own interrupts
// resume with eino's Runner as usual.
func TestOwnInterruptsUseTheOtherStore(t *testing.T) {
	ctx := context.Background()
	var asked counter
	confirm := namedTool(t, "confirm", func(ctx context.Context, in textArgs) (string, error) {
		if was, _, _ := compose.GetInterruptState[any](ctx); !was {
			asked.inc()
			return "", compose.Interrupt(ctx, "confirm "+in.Text+"?")
		}
		return "confirmed " + in.Text, nil
	})
	m := newScripted(callTool("k1", "confirm", `{"text":"order"}`), final("done"))
	a := einorun.New(run.New(), einorun.WithTools(confirm))
	other := &countingStore{m: map[string][]byte{}}
	runner := adk.NewRunner(ctx, adk.RunnerConfig{Agent: newAgent(t, a, m, confirm), CheckPointStore: a.CheckPointStore(other)})
	h := run.NewHandle()
	got := drainAll(t, runner.Query(run.ContextWithHandle(ctx, h), "order it", einorun.CheckPointID("own")...))
	require.NoError(t, got.err)
	require.Len(t, got.interrupts, 1)
	assert.Equal(t, 1, asked.count())
	assert.Equal(t, 1, other.sets, "the agent's own checkpoint went to the other store")
	require.NotNil(t, h.Trajectory())
	assert.ErrorContains(t, errors.New(h.Trajectory().Error), einorun.ErrInterrupted.Error())

	iter, err := runner.Resume(ctx, "own", einorun.CheckPointID("own")...)
	require.NoError(t, err)
	got = drainAll(t, iter)
	require.NoError(t, got.err)
	assert.Equal(t, "done", got.answer)
	assert.Equal(t, "confirmed order", got.toolResults["confirm"])
}

type countingStore struct {
	mu   sync.Mutex
	m    map[string][]byte
	sets int
}

func (s *countingStore) Get(_ context.Context, id string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	return b, ok, nil
}

func (s *countingStore) Set(_ context.Context, id string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = data
	s.sets++
	return nil
}

// The same round trip with the PostgreSQL audit store: the checkpoint
// travels in the request record there too.
func TestDurableApprovalResumesPostgres(t *testing.T) {
	schema := pgtest.New(t, "reagent_einodurable_")
	store, err := audit.Open(context.Background(), schema.DSN)
	require.NoError(t, err)
	defer store.Close()
	l := &ledger{path: filepath.Join(t.TempDir(), "ledger")}
	id := pauseRun(t, store, l, false)
	got, rt, m := resumeRun(t, store, l, id, true, false)
	checkResumed(t, store, l, id, true, got, rt, m)
}

// failingLog is an audit store that refuses approval records.
type failingLog struct{ *audit.SQLite }

func (f failingLog) AppendApproval(context.Context, audit.Kind, string, json.RawMessage) error {
	return errors.New("disk full")
}

// A request the store refuses does not pause the run: it ends with status
// error and eino's Runner reports that the checkpoint was not saved.
func TestDurableRequestNotStoredEndsTheRunWithAnError(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sq, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	require.NoError(t, err)
	defer sq.Close()
	l := &ledger{path: filepath.Join(dir, "ledger")}
	s := newDurable(t, failingLog{sq}, l, newScripted(callTool("c2", "wire", `{"text":"send $100"}`)), false)
	h := run.NewHandle()
	got := drainAll(t, s.runner.Query(run.ContextWithHandle(ctx, h), "pay the bill", einorun.CheckPointID("full")...))
	require.Error(t, got.err)
	assert.Contains(t, got.err.Error(), "failed to save checkpoint")
	assert.Contains(t, got.err.Error(), "disk full")
	tr := h.Trajectory()
	require.NotNil(t, tr)
	assert.Equal(t, trajectory.StatusError, tr.Status)
	assert.Contains(t, tr.Error, "could not pause")
	assert.Empty(t, l.lines(t), "the call did not run")
}

// testSealKey seals the tests' eino checkpoints (a fixed key: the kill
// test's child process must use the same one).
var testSealKey = []byte("reagent-einorun-test-seal-key-32")

package middleware_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// ledgerTool appends each input it runs with to a file, so that runs in
// different processes add up.
type ledgerTool struct {
	name, path string
	mu         sync.Mutex
}

func (l *ledgerTool) Name() string        { return l.name }
func (l *ledgerTool) Description() string { return "moves money" }
func (l *ledgerTool) Call(_ context.Context, in string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, l.name+" "+in); err != nil {
		return "", err
	}
	return "done: " + in, nil
}

func ledgerLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// durableExec builds the same executor in the child and the parent: a MRKL
// agent with a harmless "lookup" tool and a "wire" tool that needs
// approval, guarded by a chain whose approver is durable (with opts).
func durableExec(t *testing.T, srv *llmtest.Server, store audit.Store, ledger string, opts ...approval.DurableOption) (*middleware.Executor, *approval.Durable) {
	t.Helper()
	d, err := approval.NewDurable(store, opts...)
	require.NoError(t, err)
	approve := &guardrails.ToolFilter{Approve: guardrails.ToolMatch{Names: []string{"wire"}}}
	chain := guardrails.NewChain(guardrails.Policy{Guards: []guardrails.Guard{approve}, Approver: d})
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{
		&ledgerTool{name: "lookup", path: ledger}, &ledgerTool{name: "wire", path: ledger},
	})
	return middleware.Wrap(agents.NewExecutor(agent), run.WithStore(store), run.WithHooks(chain.Hooks())), d
}

const childEnv = "REAGENT_TEST_PAUSE_CHILD"

// TestDurablePauseChild is the child process of the kill tests: it runs the
// agent until the escalated call pauses the run, prints the request ID and
// kills itself (SIGKILL: no deferred cleanup, no Close).
func TestDurablePauseChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("runs only as the child of the durable approval tests")
	}
	srv := llmtest.New(t, react("lookup", "balance"), react("wire", "send $100"))
	store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	require.NoError(t, err)
	exec, _ := durableExec(t, srv, store, filepath.Join(dir, "ledger"))
	h := run.NewHandle(run.WithRunID("paused-run"))
	_, err = chains.Run(run.ContextWithHandle(context.Background(), h), exec, "pay the bill")
	var pe *run.PauseError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, run.ErrPaused)
	require.Equal(t, trajectory.StatusPaused, h.Trajectory().Status)
	require.NoError(t, exec.Shutdown(context.Background())) // the paused run's record is durable
	fmt.Printf("REQUEST %s\n", pe.RequestID)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // never reached
}

// pauseInChild runs the child until it kills itself and returns the
// request ID it printed.
func pauseInChild(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurablePauseChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.Output()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the child must die, not exit cleanly: %s", out)
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled(), "child output: %s", out)
	require.Equal(t, syscall.SIGKILL, ws.Signal())
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "REQUEST "); ok {
			return id
		}
	}
	t.Fatalf("the child printed no request: %s", out)
	return ""
}

func TestDurableApprovalSurvivesKill(t *testing.T) {
	for _, approve := range []bool{true, false} {
		t.Run(fmt.Sprintf("approved=%v", approve), func(t *testing.T) {
			dir := t.TempDir()
			ledger := filepath.Join(dir, "ledger")
			id := pauseInChild(t, dir)
			assert.Equal(t, []string{"lookup balance"}, ledgerLines(t, ledger), "before approval only the harmless call ran")

			store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
			require.NoError(t, err)
			defer store.Close()
			ctx := context.Background()
			srv := llmtest.New(t, final("paid"))
			exec, d := durableExec(t, srv, store, ledger)

			// The request is pending; resuming before a decision fails.
			pending, err := d.Pending(ctx)
			require.NoError(t, err)
			require.Len(t, pending, 1)
			assert.Equal(t, "wire", pending[0].Request.Tool)
			assert.Equal(t, "send $100", pending[0].Request.Input)
			assert.Equal(t, "paused-run", pending[0].Request.RunID)
			_, err = exec.Resume(ctx, d, id)
			require.ErrorContains(t, err, "still pending")

			paused, err := store.Get(ctx, "paused-run")
			require.NoError(t, err)
			assert.Equal(t, trajectory.StatusPaused, paused.Status)
			require.Len(t, paused.Steps, 2)
			assert.False(t, paused.Steps[1].Calls[0].Blocked)
			assert.Contains(t, paused.Steps[1].Calls[0].Error, id)
			pd := escalation(paused)
			require.NotNil(t, pd)
			assert.Equal(t, "pending", pd.Resolution)
			assert.Equal(t, "approval request "+id, pd.ResolvedBy)

			res := approval.Resolution{Approved: approve, By: "alice", Reason: "checked the invoice"}
			_, err = d.Decide(ctx, id, res)
			require.NoError(t, err)
			_, err = d.Decide(ctx, id, res)
			require.ErrorIs(t, err, approval.ErrDecided)

			h := run.NewHandle() // Resume uses its own handle; this one stays untaken
			out, err := exec.Resume(run.ContextWithHandle(ctx, h), d, id)
			require.NoError(t, err)
			assert.Equal(t, "paid", out["output"])
			require.Len(t, srv.Requests(), 1, "the replayed steps do not call the model")
			prompt := srv.Requests()[0].Messages[0].Content
			assert.Contains(t, prompt, "Observation: done: balance", "the replayed observation is in the agent's scratchpad")
			if approve {
				assert.Equal(t, []string{"lookup balance", "wire send $100"}, ledgerLines(t, ledger), "the approved call ran once, after approval")
				assert.Contains(t, prompt, "Observation: done: send $100")
			} else {
				assert.Equal(t, []string{"lookup balance"}, ledgerLines(t, ledger), "a denied call never runs")
				assert.Contains(t, prompt, "Observation: Blocked by guardrail")
			}

			// A second resume of the same request is refused.
			_, err = exec.Resume(ctx, d, id)
			require.ErrorContains(t, err, "already resumed")
			require.NoError(t, exec.Shutdown(ctx))

			resumed, err := store.List(ctx, audit.Query{Metadata: map[string]string{middleware.MetaApprovalRequest: id}})
			require.NoError(t, err)
			require.Len(t, resumed, 1)
			rt := resumed[0]
			assert.Equal(t, trajectory.StatusFinished, rt.Status)
			assert.Equal(t, "paused-run", rt.Metadata[middleware.MetaResumedFrom])
			require.Len(t, rt.Steps, 3)
			assert.Equal(t, "done: balance", rt.Steps[0].Calls[0].Observation)
			wire := rt.Steps[1].Calls[0]
			assert.Equal(t, !approve, wire.Blocked)
			dec := escalation(rt)
			require.NotNil(t, dec)
			assert.Equal(t, "alice", dec.ResolvedBy)
			want := "denied"
			if approve {
				want = "approved"
			}
			assert.Equal(t, want, dec.Resolution)

			// The chain holds, in order: the request, the paused run, the
			// decision, the resumed run; and it verifies.
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
		})
	}
}

// escalation returns the run's escalation decision, or nil.
func escalation(t *trajectory.Trajectory) *trajectory.Decision {
	for i := range t.Decisions {
		if t.Decisions[i].Verdict == trajectory.Escalate {
			return &t.Decisions[i]
		}
	}
	return nil
}

// A resumed run that escalates again pauses again, and its own resume
// replays both earlier parts.
func TestResumedRunCanPauseAgain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	store := openStore(t)
	srv := llmtest.New(t, react("wire", "send $1"), react("wire", "send $2"), final("both paid"))
	exec, d := durableExec(t, srv, store, ledger)

	_, err := chains.Run(ctx, exec, "pay twice")
	var first *run.PauseError
	require.ErrorAs(t, err, &first)
	_, err = d.Decide(ctx, first.RequestID, approval.Resolution{Approved: true, By: "alice"})
	require.NoError(t, err)

	_, err = exec.Resume(ctx, d, first.RequestID)
	var second *run.PauseError
	require.ErrorAs(t, err, &second, "the second wire escalates and pauses the resumed run")
	assert.NotEqual(t, first.RequestID, second.RequestID)
	assert.Equal(t, []string{"wire send $1"}, ledgerLines(t, ledger))
	_, err = d.Decide(ctx, second.RequestID, approval.Resolution{Approved: true, By: "bob"})
	require.NoError(t, err)

	out, err := exec.Resume(ctx, d, second.RequestID)
	require.NoError(t, err)
	assert.Equal(t, "both paid", out["output"])
	assert.Equal(t, []string{"wire send $1", "wire send $2"}, ledgerLines(t, ledger), "each approved call ran once")
	assert.Len(t, srv.Requests(), 3, "one model call per step, none for replayed steps")
	require.NoError(t, exec.Shutdown(ctx))

	paused, err := store.List(ctx, audit.Query{Status: trajectory.StatusPaused})
	require.NoError(t, err)
	assert.Len(t, paused, 2)
	rep, err := store.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
}

package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/reagent-go/reagent/trajectory"
)

// Run is a handle on one run, for callers that need its trajectory (a
// rollout collector, Reagent-C). Put it in the context passed to the
// executor with ContextWithRun; the recorder fills it in.
type Run struct {
	// ID, GroupID, ParentID, Round and Metadata are copied into the
	// trajectory when the run starts. A zero ID gets a random one.
	ID       string
	GroupID  string
	ParentID string
	Round    int
	Metadata map[string]string
	// Critique, when set, is shown to the agent as feedback on a previous
	// attempt before its first model call (Reagent-C's second round).
	Critique string

	mu   sync.Mutex
	done *trajectory.Trajectory
}

// Trajectory returns the recorded trajectory once the run has ended, or nil.
func (r *Run) Trajectory() *trajectory.Trajectory {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

func (r *Run) finish(t *trajectory.Trajectory) {
	r.mu.Lock()
	r.done = t
	r.mu.Unlock()
}

type runHandleKey struct{}

// ContextWithRun returns a context that asks the middleware to record the
// next run started with it into r.
func ContextWithRun(ctx context.Context, r *Run) context.Context {
	return context.WithValue(ctx, runHandleKey{}, r)
}

func runHandle(ctx context.Context) *Run {
	r, _ := ctx.Value(runHandleKey{}).(*Run)
	return r
}

// runState is a run being recorded. Its fields are guarded by mu: the
// recorder, guards and the model wrapper touch it from the executor's
// goroutine, while a guard or judge may read a clone.
type runState struct {
	mu               sync.Mutex
	t                *trajectory.Trajectory
	ctx              context.Context // the caller's context of the first Plan call
	handle           *Run
	inputs           map[string]string
	gid              uint64
	iter             int
	pending          []pendingCall // tool calls Plan returned that the executor has yet to make
	last             bool          // the current iteration is the executor's last
	critique         string        // feedback injected into every model call of the run
	critiqueRecorded bool
	ended            bool
	span             trace.Span // the run's invoke_agent span, nil when not traced
}

type pendingCall struct {
	step, call int // indexes into t.Steps[step].Calls
	tool       string
}

// step returns the step being recorded.
func (r *runState) step() *trajectory.Step {
	return &r.t.Steps[len(r.t.Steps)-1]
}

func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type runCtxKey struct{}

func withRunState(ctx context.Context, r *runState) context.Context {
	ctx = context.WithValue(ctx, runCtxKey{}, r)
	return trajectory.ContextWithRunID(ctx, r.t.ID)
}

func runFromContext(ctx context.Context) *runState {
	r, _ := ctx.Value(runCtxKey{}).(*runState)
	return r
}

// registry maps goroutines to their active run.
type registry struct {
	mu   sync.Mutex
	runs map[uint64]*runState
}

func (g *registry) get(gid uint64) *runState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.runs[gid]
}

func (g *registry) put(gid uint64, r *runState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.runs == nil {
		g.runs = map[uint64]*runState{}
	}
	g.runs[gid] = r
}

func (g *registry) remove(gid uint64, r *runState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.runs[gid] == r {
		delete(g.runs, gid)
	}
}

func now() time.Time { return time.Now().UTC() }

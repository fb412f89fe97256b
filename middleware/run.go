package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"reflect"
	"sync"
	"sync/atomic"
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
	gid              atomic.Uint64 // the executor's goroutine, learned only when needed
	iter             int
	pending          []pendingCall // tool calls Plan returned that the executor has yet to make
	last             bool          // the current iteration is the executor's last
	critique         string        // feedback injected into every model call of the run
	critiqueRecorded bool
	ended            bool
	span             trace.Span // the run's invoke_agent span, nil when not traced
	derived          atomic.Pointer[derivedContext]
}

type pendingCall struct {
	step, call int // indexes into t.Steps[step].Calls
	tool       string
}

// step returns the step being recorded.
func (r *runState) step() *trajectory.Step {
	return &r.t.Steps[len(r.t.Steps)-1]
}

func (r *runState) goroutine() uint64      { return r.gid.Load() }
func (r *runState) setGoroutine(id uint64) { r.gid.Store(id) }

func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type runCtxKey struct{}

// withRunState returns ctx carrying the run (and its ID, for tools that
// read trajectory.RunIDFromContext). The executor passes the same context
// to every Plan and tool call of a run, so the derived one is kept and
// reused instead of built twice per step. Context values need not be
// comparable, so the parent is recognised by its key: a pointer context by
// address (the kept context holds it, so the address is not reused), a
// zero-size one (context.Background) by type; any other is never kept.
func withRunState(ctx context.Context, r *runState) context.Context {
	k := keyOf(ctx)
	reusable := k.ptr != 0 || k.typ.Size() == 0
	if d := r.derived.Load(); d != nil && reusable && d.parent == k {
		return d.ctx
	}
	derived := trajectory.ContextWithRunID(context.WithValue(ctx, runCtxKey{}, r), r.t.ID)
	if reusable {
		r.derived.Store(&derivedContext{parent: k, ctx: derived})
	}
	return derived
}

// derivedContext is a parent context's key and the context withRunState
// made from it.
type derivedContext struct {
	parent ctxKey
	ctx    context.Context
}

func runFromContext(ctx context.Context) *runState {
	r, _ := ctx.Value(runCtxKey{}).(*runState)
	return r
}

// registry finds the active run of a Plan call and of a tool call.
//
// A Plan call brings the executor's inputs map, which is the same map for
// every iteration of one run and a fresh one for every run. A tool call
// brings only the caller's context: when exactly one active run was started
// with that context, it is the one; when several share it (concurrent runs
// on context.Background()), the goroutine decides, since langchaingo's
// executor calls Plan and then the tools on one goroutine. Looking the
// goroutine up costs a stack walk, so it is done once per run and then only
// for ambiguous tool calls.
type registry struct {
	mu      sync.Mutex
	byInput map[uintptr]*runState
	byCtx   map[ctxKey][]*runState
}

// ctxKey identifies a context without comparing context values, which may
// not be comparable: pointer contexts by address, others by type alone.
type ctxKey struct {
	typ reflect.Type
	ptr uintptr
}

func keyOf(ctx context.Context) ctxKey {
	v := reflect.ValueOf(ctx)
	k := ctxKey{typ: v.Type()}
	if v.Kind() == reflect.Pointer {
		k.ptr = v.Pointer()
	}
	return k
}

func inputKey(inputs map[string]string) uintptr {
	return reflect.ValueOf(inputs).Pointer()
}

// forPlan returns the run whose inputs map this is.
func (g *registry) forPlan(inputs map[string]string) *runState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.byInput[inputKey(inputs)]
}

// forTool returns the run a tool call made with ctx belongs to, or nil.
func (g *registry) forTool(ctx context.Context) *runState {
	k := keyOf(ctx)
	g.mu.Lock()
	runs := g.byCtx[k]
	if len(runs) == 1 {
		r := runs[0]
		g.mu.Unlock()
		return r
	}
	candidates := append([]*runState(nil), runs...)
	g.mu.Unlock()
	if len(candidates) == 0 {
		return nil
	}
	gid := goid()
	var unnamed *runState
	for _, r := range candidates {
		switch r.goroutine() {
		case gid:
			return r
		case 0:
			// At most one run of a context has no goroutine yet: the one
			// that was alone when it started (see sharedContext).
			unnamed = r
		}
	}
	return unnamed
}

// sharedContext reports whether another active run was started with r's
// context: then tool calls need r's goroutine to find r.
func (g *registry) sharedContext(r *runState) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.byCtx[keyOf(r.ctx)]) > 1
}

func (g *registry) put(r *runState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byInput == nil {
		g.byInput = map[uintptr]*runState{}
		g.byCtx = map[ctxKey][]*runState{}
	}
	g.byInput[inputKey(r.inputs)] = r
	k := keyOf(r.ctx)
	g.byCtx[k] = append(g.byCtx[k], r)
	if len(g.byCtx[k]) > 1 {
		// Called on the run's own goroutine (from its first Plan).
		r.setGoroutine(goid())
	}
}

func (g *registry) remove(r *runState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ik := inputKey(r.inputs); g.byInput[ik] == r {
		delete(g.byInput, ik)
	}
	k := keyOf(r.ctx)
	runs := g.byCtx[k]
	for i, x := range runs {
		if x == r {
			runs = append(runs[:i:i], runs[i+1:]...)
			break
		}
	}
	if len(runs) == 0 {
		delete(g.byCtx, k)
	} else {
		g.byCtx[k] = runs
	}
}

func now() time.Time { return time.Now().UTC() }

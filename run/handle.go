package run

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/reagent-go/reagent/trajectory"
)

// Handle lets a caller whose host opens the run (middleware.Wrap opens one
// in each Call) set that run's options and get its trajectory back: make
// one, put it in the context passed to the host with ContextWithHandle, and
// read Trajectory after the call. The first run started with the context
// takes it; runs nested in that one do not.
type Handle struct {
	opts []StartOption
	used atomic.Bool

	mu       sync.Mutex
	t        *trajectory.Trajectory
	storeErr error
}

// NewHandle returns a handle that applies opts to the run that takes it.
func NewHandle(opts ...StartOption) *Handle { return &Handle{opts: opts} }

type handleKey struct{}

// ContextWithHandle returns a context that hands h to the next run started
// with it.
func ContextWithHandle(ctx context.Context, h *Handle) context.Context {
	return context.WithValue(ctx, handleKey{}, h)
}

// take returns the context's handle if no run has taken it yet.
func take(ctx context.Context) *Handle {
	h, _ := ctx.Value(handleKey{}).(*Handle)
	if h == nil || !h.used.CompareAndSwap(false, true) {
		return nil
	}
	return h
}

// Trajectory returns the run's trajectory once it has ended, or nil.
func (h *Handle) Trajectory() *trajectory.Trajectory {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.t
}

// StoreErr returns why the store did not take the run, or nil when it did
// (or when there is no store). Durability is Flush's to report.
func (h *Handle) StoreErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.storeErr
}

func (h *Handle) finish(t *trajectory.Trajectory, storeErr error) {
	h.mu.Lock()
	h.t, h.storeErr = t, storeErr
	h.mu.Unlock()
}

package middleware

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/trajectory"
)

// toolWrapper guards, runs and records one tool.
type toolWrapper struct {
	m     *Middleware
	inner tools.Tool
	spec  trajectory.ToolSpec
}

var (
	_ tools.Tool           = (*toolWrapper)(nil)
	_ trajectory.Specifier = (*toolWrapper)(nil)
)

func (w *toolWrapper) Name() string                  { return w.inner.Name() }
func (w *toolWrapper) Description() string           { return w.inner.Description() }
func (w *toolWrapper) ToolSpec() trajectory.ToolSpec { return w.spec }

// Call runs the guard chain, then the tool, then the result guards. A
// blocked call never reaches the tool.
func (w *toolWrapper) Call(ctx context.Context, input string) (string, error) {
	r := runFromContext(ctx)
	if r == nil {
		r = w.m.reg.forTool(ctx)
	}
	if r == nil {
		return w.callOutsideRun(ctx, input)
	}

	// Guards and the tracer read a copy taken under the lock; without them
	// (the common case) the copy is not made.
	hooked := w.m.tracer != nil || w.m.chain != nil
	var snapshot *trajectory.ToolCall
	r.mu.Lock()
	call := r.claim(w.spec.Name, input)
	call.StartedAt = now()
	if hooked {
		snapshot = new(trajectory.ToolCall)
		*snapshot = *call
	}
	r.mu.Unlock()

	spanCtx, span := w.m.tracer.startTool(ctx, r.span, w.spec, snapshot)
	if span != nil {
		ctx = spanCtx
		defer func() { w.m.tracer.endTool(span, call) }()
	}
	if w.m.chain != nil {
		out := w.m.check(ctx, r, trajectory.EventToolCall, w.spec, snapshot, "")
		if out.Verdict != trajectory.Allow {
			return w.blocked(r, call, out.By, out.Reason)
		}
	}

	obs, err, panicked := w.m.safeCall(withRunState(ctx, r), w.inner, input)
	r.mu.Lock()
	call.Duration = time.Since(call.StartedAt)
	call.Panicked = panicked
	if err != nil {
		call.Error = err.Error()
		if w.m.cfg.abortOnError {
			call.Observation = "Tool error: " + err.Error()
			r.mu.Unlock()
			w.m.finish(r, trajectory.StatusError, fmt.Sprintf("tool %s: %v", w.spec.Name, err))
			return "", err
		}
		obs = "Tool error: " + err.Error()
	}
	call.Observation = obs
	if hooked {
		*snapshot = *call
	}
	r.mu.Unlock()

	if w.m.chain != nil {
		out := w.m.check(ctx, r, trajectory.EventToolResult, w.spec, snapshot, "")
		if out.Verdict != trajectory.Allow {
			return w.blocked(r, call, out.By, out.Reason)
		}
		if out.Observation != "" {
			obs = out.Observation
			r.mu.Lock()
			call.Observation = obs
			r.mu.Unlock()
		}
	}
	w.m.afterCall(r)
	return obs, nil
}

// blocked records a block and returns what the executor should see.
func (w *toolWrapper) blocked(r *runState, call *trajectory.ToolCall, by, reason string) (string, error) {
	msg := guardrails.BlockMessage(by, reason)
	r.mu.Lock()
	call.Blocked, call.BlockedBy, call.Observation = true, by, msg
	if call.Duration == 0 {
		call.Duration = time.Since(call.StartedAt)
	}
	r.mu.Unlock()
	if w.m.cfg.abortOnBlock {
		w.m.finish(r, trajectory.StatusError, msg)
		return "", fmt.Errorf("%w %s: %s", ErrBlocked, by, reason)
	}
	w.m.afterCall(r)
	return msg, nil
}

// callOutsideRun serves a call made outside any recorded run: it is still
// guarded (as a one-off event with an empty trajectory) but not recorded.
func (w *toolWrapper) callOutsideRun(ctx context.Context, input string) (string, error) {
	if w.m.chain != nil {
		t := &trajectory.Trajectory{Status: trajectory.StatusRunning}
		call := &trajectory.ToolCall{Tool: w.spec.Name, Input: input}
		out := w.m.checkDetached(ctx, t, trajectory.EventToolCall, w.spec, call)
		if out.Verdict != trajectory.Allow {
			msg := guardrails.BlockMessage(out.By, out.Reason)
			if w.m.cfg.abortOnBlock {
				return "", fmt.Errorf("%w %s: %s", ErrBlocked, out.By, out.Reason)
			}
			return msg, nil
		}
	}
	obs, err, _ := w.m.safeCall(ctx, w.inner, input)
	if err != nil {
		if w.m.cfg.abortOnError {
			return "", err
		}
		return "Tool error: " + err.Error(), nil
	}
	return obs, nil
}

// safeCall runs a tool, turning a panic into an error (and logging where
// it happened, since the agent only sees the message).
func (m *Middleware) safeCall(ctx context.Context, t tools.Tool, input string) (obs string, err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			m.cfg.logger.Error("reagent: tool panicked", "tool", t.Name(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			obs, err, panicked = "", fmt.Errorf("tool %s panicked: %v", t.Name(), p), true
		}
	}()
	obs, err = t.Call(ctx, input)
	return obs, err, false
}

// claim returns the recorded call the executor is making now: the first
// pending call to this tool. A call the recorder did not see planned (a
// hand-built loop) is added to the current step.
func (r *runState) claim(tool, input string) *trajectory.ToolCall {
	for i, p := range r.pending {
		if strings.EqualFold(p.tool, tool) {
			r.pending = append(r.pending[:i], r.pending[i+1:]...)
			return &r.t.Steps[p.step].Calls[p.call]
		}
	}
	if len(r.t.Steps) == 0 {
		r.t.Steps = append(r.t.Steps, trajectory.Step{StartedAt: now()})
	}
	s := r.step()
	s.Calls = append(s.Calls, trajectory.ToolCall{Tool: tool, Input: input})
	return &s.Calls[len(s.Calls)-1]
}

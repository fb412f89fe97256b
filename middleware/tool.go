package middleware

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// toolWrapper runs one tool's calls through the hooks of the run in their
// context (guards included) and records them.
type toolWrapper struct {
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

// Call runs the BeforeTool hooks, then the tool, then the AfterTool hooks.
// A refused call never reaches the tool. Tool errors and panics become the
// observation "Tool error: …", unless the run's recorder has
// WithToolErrorAbort(true): then they reach the caller exactly as without
// reagent.
func (w *toolWrapper) Call(ctx context.Context, input string) (string, error) {
	r := run.FromContext(ctx)
	if r == nil {
		return w.inner.Call(ctx, input)
	}
	if rp := replayOf(r); rp != nil { // a resumed run: see resume.go
		if obs, ok, err := rp.tool(w.inner.Name(), input); ok || err != nil {
			return obs, err
		}
	}
	// Without tool hooks the run records the call on its short path
	// (BeginTool); otherwise the hooks see it (StartTool).
	slot, short := r.BeginTool(w.spec, "", input)
	var tc *run.ToolCall
	if !short {
		var err error
		ctx, tc, err = r.StartTool(ctx, w.spec, "", input)
		if err != nil {
			var ref *run.Refusal
			if errors.As(err, &ref) && !ref.Abort {
				return ref.Message(), nil
			}
			return "", err
		}
	}
	end := func(obs string, err error, panicked bool) (string, error) {
		if short {
			return r.EndToolSlot(slot, obs, err, panicked)
		}
		return r.EndTool(ctx, tc, obs, err, panicked)
	}
	if r.Recorder().ToolErrorAbort() {
		done := false
		defer func() {
			if !done { // the tool panicked: record it and let the panic go on
				_, _ = end("", errToolPanicked, true)
			}
		}()
		obs, err := w.inner.Call(ctx, input)
		done = true
		out, endErr := end(obs, err, false)
		if err != nil {
			return obs, err // the tool's own error, exactly as without reagent
		}
		return out, endErr
	}
	obs, err, panicked := safeCall(ctx, w.inner, input)
	return end(obs, err, panicked)
}

var errToolPanicked = errors.New("tool panicked")

// safeCall runs a tool, turning a panic into an error (and logging where
// it happened, since the agent only sees the message).
func safeCall(ctx context.Context, t tools.Tool, input string) (obs string, err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			if r := run.FromContext(ctx); r != nil {
				r.Recorder().Logger().Error("reagent: tool panicked", "tool", t.Name(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
			obs, err, panicked = "", fmt.Errorf("tool %s panicked: %v", t.Name(), p), true
		}
	}()
	obs, err = t.Call(ctx, input)
	return obs, err, false
}

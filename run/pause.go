package run

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/reagent-go/reagent/trajectory"
)

// ErrPaused is matched (errors.Is) by the error a paused run ends with: a
// tool call waits for a durable approval, the run's state is stored, and
// the process may exit. See package guardrails/approval (Durable).
var ErrPaused = errors.New("run: paused for approval")

// PauseError is what StartTool returns, and what the run ends with, when a
// BeforeTool hook paused the run at a tool call (Pause). The host returns
// it to its caller as the call's error; End records StatusPaused.
type PauseError struct {
	// RequestID names the stored approval request that resumes the run.
	RequestID string
	// Tool is the paused call's tool.
	Tool string
}

func (e *PauseError) Error() string {
	return fmt.Sprintf("run paused: tool call %q waits for approval request %s (approve or deny it with `reagent approve`, then resume the run)", e.Tool, e.RequestID)
}

// Unwrap makes a PauseError match ErrPaused.
func (e *PauseError) Unwrap() error { return ErrPaused }

// Pause asks the run to stop at the tool call its BeforeTool hooks are
// checking now: when a hook then refuses the call (a guard chain blocks it
// because its approver paused), StartTool returns p instead of the refusal,
// the tool does not run, and the host ends the run with p (StatusPaused).
// A durable approver calls it once the request is stored. Outside a
// BeforeTool hook it has no effect until the next refused call.
func (r *Run) Pause(p *PauseError) {
	if p == nil {
		return
	}
	r.mu.Lock()
	r.pause = p
	r.mu.Unlock()
}

func (r *Run) takePause() *PauseError {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pause
	r.pause = nil
	return p
}

// markPending records the paused call's escalations as pending: the guard
// chain saw the pause as a failed approval, but nobody has decided yet.
func (r *Run) markPending(step int, requestID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.t.Decisions {
		d := &r.t.Decisions[i]
		if d.Verdict == trajectory.Escalate && d.Step == step && d.Resolution != "approved" {
			d.Resolution, d.ResolvedBy = "pending", "approval request "+requestID
		}
	}
}

// SetResumeState registers the host's function that describes, as JSON,
// what it needs to resume this run from the tool call being checked (the
// langchaingo adapter: its agent's Plan results so far; an eino adapter:
// its checkpoint). A durable approver calls ResumeState when it pauses the
// run and stores the result with the request.
func (r *Run) SetResumeState(fn func() (json.RawMessage, error)) {
	r.mu.Lock()
	r.resumeState = fn
	r.mu.Unlock()
}

// ResumeState returns the host's resume state, or an error when the host
// registered none (its runs cannot be resumed after a restart).
func (r *Run) ResumeState() (json.RawMessage, error) {
	r.mu.Lock()
	fn := r.resumeState
	r.mu.Unlock()
	if fn == nil {
		return nil, errors.New("run: the host keeps no resume state for this run (its adapter cannot resume after a restart)")
	}
	return fn()
}

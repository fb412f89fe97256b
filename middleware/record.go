package middleware

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// check runs the guard chain on one event of run r and keeps every guard's
// decision in the trajectory.
func (m *Middleware) check(ctx context.Context, r *runState, kind trajectory.GuardEvent, spec trajectory.ToolSpec, call *trajectory.ToolCall, answer string) guardrails.Outcome {
	r.mu.Lock()
	step := len(r.t.Steps) - 1
	r.mu.Unlock()
	ev := &guardrails.Event{Kind: kind, Tool: spec, Call: call, Answer: answer, Step: step, Trajectory: r.t}
	out := m.chain.Check(withRunState(ctx, r), ev)
	if m.tracer != nil {
		span := trace.SpanFromContext(ctx) // the tool's span, when in a tool
		if !span.IsRecording() {
			span = r.span
		}
		m.tracer.guardEvents(span, out.Decisions)
	}
	if len(out.Decisions) > 0 {
		r.mu.Lock()
		r.t.Decisions = append(r.t.Decisions, out.Decisions...)
		r.mu.Unlock()
	}
	return out
}

// checkDetached guards a call that belongs to no recorded run.
func (m *Middleware) checkDetached(ctx context.Context, t *trajectory.Trajectory, kind trajectory.GuardEvent, spec trajectory.ToolSpec, call *trajectory.ToolCall) guardrails.Outcome {
	return m.chain.Check(ctx, &guardrails.Event{Kind: kind, Tool: spec, Call: call, Trajectory: t})
}

// afterCall ends the run when the executor's last iteration has made its
// last call: the executor stops there with ErrNotFinished and never tells
// the agent.
func (m *Middleware) afterCall(r *runState) {
	r.mu.Lock()
	done := r.last && len(r.pending) == 0
	r.mu.Unlock()
	if done {
		m.finish(r, trajectory.StatusMaxIterations, "agent not finished before max iterations")
	}
}

// finish closes a run: it sets the final status, judges it when judging is
// synchronous, hands it to the store, to the caller's Run handle and hooks,
// and starts an asynchronous judgment otherwise.
func (m *Middleware) finish(r *runState, status trajectory.Status, errMsg string) {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	r.ended = true
	t := r.t
	if status != trajectory.StatusFinished && r.ctx.Err() != nil {
		status = trajectory.StatusCancelled
	}
	t.Status, t.Error, t.EndedAt = status, errMsg, now()
	var usage trajectory.Usage
	for _, s := range t.Steps {
		for _, c := range s.LLMCalls {
			usage = usage.Add(c.Usage)
		}
	}
	t.Usage = usage
	r.mu.Unlock()
	m.reg.remove(r)

	// A cancelled run is still stored: detach from the caller's deadline.
	ctx := context.WithoutCancel(r.ctx)
	if m.cfg.judge != nil && m.cfg.syncJudge {
		a := m.judgeRun(ctx, t)
		t.Assessments = append(t.Assessments, a)
		m.tracer.evaluation(ctx, r.span, a, false)
	}
	m.tracer.endRun(r.span, t)
	if m.cfg.store != nil {
		if err := m.cfg.store.Append(ctx, t); err != nil {
			m.cfg.logger.Error("reagent: audit store refused a run", "run", t.ID, "err", err)
		}
	}
	if r.handle != nil {
		r.handle.finish(t)
	}
	for _, fn := range m.cfg.onFinish {
		fn(ctx, t)
	}
	if m.cfg.judge != nil && !m.cfg.syncJudge {
		m.judgeAsync(ctx, t, r.span)
	}
}

// judgeRun judges t with the run judge.
func (m *Middleware) judgeRun(ctx context.Context, t *trajectory.Trajectory) trajectory.Assessment {
	return m.judgeWith(ctx, m.cfg.judge, t)
}

// judgeWith judges t with j, turning a panicking judge into an error
// assessment.
func (m *Middleware) judgeWith(ctx context.Context, j rrm.Judge, t *trajectory.Trajectory) (a trajectory.Assessment) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			a = trajectory.Assessment{
				Judge:     typeName(j),
				Status:    trajectory.AssessmentError,
				Error:     "judge panicked: " + typeName(p) + ": " + toString(p),
				Steps:     len(t.Steps),
				Latency:   time.Since(start),
				CreatedAt: now(),
			}
		}
	}()
	return j.Judge(ctx, t)
}

// judgeAsync judges t in the background, at most judgeLimit at a time, and
// appends the assessment to the store. t is not modified: its readers may
// hold it already.
func (m *Middleware) judgeAsync(ctx context.Context, t *trajectory.Trajectory, span trace.Span) {
	m.judging.Add(1)
	m.slots <- struct{}{}
	go func() {
		defer func() {
			<-m.slots
			m.judging.Done()
		}()
		a := m.judgeRun(ctx, t)
		m.tracer.evaluation(ctx, span, a, true)
		if m.cfg.store == nil {
			return
		}
		if err := m.cfg.store.AppendAssessment(ctx, t.ID, a); err != nil {
			m.cfg.logger.Error("reagent: audit store refused an assessment", "run", t.ID, "err", err)
		}
	}()
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return typeName(v)
}

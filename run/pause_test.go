package run_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

func TestPausedToolCallEndsRunPaused(t *testing.T) {
	var stored json.RawMessage
	pause := run.Hooks{BeforeTool: func(ctx context.Context, r *run.Run, tc *run.ToolCall) (context.Context, error) {
		r.AddDecisions(ctx, trajectory.Decision{Guard: "approve", Verdict: trajectory.Escalate, Step: tc.Step, Tool: tc.Spec.Name, Resolution: "denied"})
		state, err := r.ResumeState()
		require.NoError(t, err)
		stored = state
		r.Pause(&run.PauseError{RequestID: "req-1", Tool: tc.Spec.Name})
		return ctx, &run.Refusal{By: "approve", Reason: "approval failed"}
	}}
	var got ended
	judged := 0
	judge := countingJudge{n: &judged}
	rec := run.New(run.WithHooks(pause), got.option(), run.WithJudge(judge), run.WithSyncJudge(true))
	ctx, r := rec.Start(context.Background(), "t")
	r.BeginStep()
	r.AddCall(trajectory.ToolCall{Tool: "wire", Input: "x"}, true)
	r.SetResumeState(func() (json.RawMessage, error) { return json.RawMessage(`{"at":"wire"}`), nil })
	_, tc, err := r.StartTool(ctx, trajectory.ToolSpec{Name: "wire"}, "", "x")
	assert.Nil(t, tc, "a paused call must not run")
	var pe *run.PauseError
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, run.ErrPaused)
	assert.Equal(t, "req-1", pe.RequestID)
	assert.JSONEq(t, `{"at":"wire"}`, string(stored))
	r.End(err)

	runs := got.all()
	require.Len(t, runs, 1)
	tr := runs[0]
	assert.Equal(t, trajectory.StatusPaused, tr.Status)
	call := tr.Steps[0].Calls[0]
	assert.False(t, call.Blocked, "paused is not blocked")
	assert.Contains(t, call.Error, "req-1")
	require.Len(t, tr.Decisions, 1)
	assert.Equal(t, "pending", tr.Decisions[0].Resolution)
	assert.Zero(t, judged, "a paused run is not judged")
	assert.Empty(t, tr.Assessments)
}

func TestRefusalWithoutPauseStaysARefusal(t *testing.T) {
	refuse := run.Hooks{BeforeTool: func(ctx context.Context, _ *run.Run, _ *run.ToolCall) (context.Context, error) {
		return ctx, &run.Refusal{By: "policy", Reason: "no"}
	}}
	rec := run.New(run.WithHooks(refuse))
	ctx, r := rec.Start(context.Background(), "t")
	_, _, err := r.StartTool(ctx, trajectory.ToolSpec{Name: "echo"}, "", "x")
	var ref *run.Refusal
	require.ErrorAs(t, err, &ref)
	assert.NotErrorIs(t, err, run.ErrPaused)
	r.End(nil)
}

func TestResumeStateWithoutHostFails(t *testing.T) {
	rec := run.New()
	_, r := rec.Start(context.Background(), "t")
	_, err := r.ResumeState()
	require.ErrorContains(t, err, "cannot resume")
	r.End(nil)
}

type countingJudge struct{ n *int }

func (j countingJudge) Judge(context.Context, *trajectory.Trajectory) trajectory.Assessment {
	*j.n++
	return trajectory.Assessment{Judge: "j", Status: trajectory.AssessmentOK, Score: 1}
}

package run_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// ended collects finished runs through an OnEnd hook.
type ended struct {
	mu   sync.Mutex
	runs []*trajectory.Trajectory
}

func (e *ended) option() run.Option {
	return run.WithOnEnd(func(t *trajectory.Trajectory) {
		e.mu.Lock()
		e.runs = append(e.runs, t)
		e.mu.Unlock()
	})
}

func (e *ended) all() []*trajectory.Trajectory {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*trajectory.Trajectory(nil), e.runs...)
}

// loop is a hand-built agent loop: one model call and one tool call per
// step, then an answer.
func loop(ctx context.Context, r *run.Run, steps int) (string, error) {
	for i := 0; i < steps; i++ {
		mctx, mc, err := r.StartModel(ctx)
		if err != nil {
			return "", err
		}
		mc.Record.Completion = "use the tool"
		r.EndModel(mctx, mc)
		r.AddCall(trajectory.ToolCall{Tool: "echo", Input: "x"}, true)
		tctx, tc, err := r.StartTool(ctx, trajectory.ToolSpec{Name: "echo"}, "", "x")
		if err != nil {
			var ref *run.Refusal
			if errors.As(err, &ref) && !ref.Abort {
				continue
			}
			return "", err
		}
		if _, err := r.EndTool(tctx, tc, "echo:x", nil, false); err != nil {
			return "", err
		}
	}
	return r.Answer(ctx, "done")
}

func TestHandBuiltLoopIsRecorded(t *testing.T) {
	var got ended
	rec := run.New(got.option(), run.WithAgentName("loop"))
	ctx, r := rec.Start(context.Background(), "task", run.WithRunID("r1"))
	assert.Same(t, r, run.FromContext(ctx))
	id, ok := trajectory.RunIDFromContext(ctx)
	assert.True(t, ok)
	assert.Equal(t, "r1", id)
	answer, err := loop(ctx, r, 3)
	require.NoError(t, err)
	r.End(nil)
	r.End(errors.New("ignored: a run ends once"))

	runs := got.all()
	require.Len(t, runs, 1)
	tr := runs[0]
	assert.Equal(t, "done", answer)
	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	assert.Equal(t, "loop", tr.Agent)
	assert.Equal(t, "done", tr.FinalAnswer)
	require.Len(t, tr.Steps, 3, "each model call after a tool call begins a step")
	for i, s := range tr.Steps {
		assert.Equal(t, i, s.Index)
		require.Len(t, s.LLMCalls, 1)
		require.Len(t, s.Calls, 1)
		assert.Equal(t, "echo:x", s.Calls[0].Observation)
	}
	assert.True(t, tr.Steps[2].Final, "the answer lands in the last step")
}

func TestEndStatuses(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want trajectory.Status
	}{
		{"finished", context.Background(), nil, trajectory.StatusFinished},
		{"error", context.Background(), errors.New("boom"), trajectory.StatusError},
		{"cancelled error", context.Background(), context.Canceled, trajectory.StatusCancelled},
		{"deadline", context.Background(), context.DeadlineExceeded, trajectory.StatusCancelled},
		{"context done", cancelled, errors.New("transport closed"), trajectory.StatusCancelled},
		{"panic", context.Background(), &run.PanicError{Value: "x"}, trajectory.StatusPanic},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got ended
			_, r := run.New(got.option()).Start(c.ctx, "t")
			r.End(c.err)
			require.Len(t, got.all(), 1)
			assert.Equal(t, c.want, got.all()[0].Status)
		})
	}
}

func TestHooksOrderAndRefusal(t *testing.T) {
	var order []string
	mark := func(name string) run.Hooks {
		return run.Hooks{
			OnStart: func(ctx context.Context, _ *run.Run) context.Context {
				order = append(order, name+".start")
				return ctx
			},
			BeforeTool: func(ctx context.Context, _ *run.Run, _ *run.ToolCall) (context.Context, error) {
				order = append(order, name+".before")
				return ctx, nil
			},
			AfterTool: func(context.Context, *run.Run, *run.ToolCall) error {
				order = append(order, name+".after")
				return nil
			},
			OnEnd: func(context.Context, *run.Run, *trajectory.Trajectory) { order = append(order, name+".end") },
		}
	}
	refuse := run.Hooks{BeforeTool: func(ctx context.Context, _ *run.Run, tc *run.ToolCall) (context.Context, error) {
		return ctx, &run.Refusal{By: "policy", Reason: "echo is not allowed"}
	}}
	var got ended
	rec := run.New(run.WithHooks(mark("a"), refuse, mark("b")), got.option())
	ctx, r := rec.Start(context.Background(), "t")
	_, _, err := r.StartTool(ctx, trajectory.ToolSpec{Name: "echo"}, "c1", "x")
	var ref *run.Refusal
	require.ErrorAs(t, err, &ref)
	assert.Equal(t, "Blocked by guardrail policy: echo is not allowed", ref.Message())
	assert.NotErrorIs(t, err, run.ErrRefused, "a refusal that does not abort is not an abort")
	r.End(nil)
	assert.Equal(t, []string{"a.start", "b.start", "a.before", "b.after", "a.after", "b.end", "a.end"}, order,
		"Before hooks in order, a refused call never reaches later Before hooks, After hooks in reverse")
	tr := got.all()[0]
	call := tr.Steps[0].Calls[0]
	assert.True(t, call.Blocked)
	assert.Equal(t, "policy", call.BlockedBy)
	assert.Equal(t, "c1", call.ID)
}

func TestToolErrorsBecomeObservationsUnlessAbort(t *testing.T) {
	for _, abort := range []bool{false, true} {
		_, r := run.New(run.WithToolErrorAbort(abort)).Start(context.Background(), "t")
		ctx := context.Background()
		_, tc, err := r.StartTool(ctx, trajectory.ToolSpec{Name: "db"}, "", "q")
		require.NoError(t, err)
		obs, err := r.EndTool(ctx, tc, "", errors.New("connection refused"), false)
		if abort {
			assert.EqualError(t, err, "connection refused")
			assert.Empty(t, obs)
		} else {
			require.NoError(t, err)
			assert.Equal(t, "Tool error: connection refused", obs)
		}
		r.End(nil)
	}
}

func TestHandleTakesOnlyTheFirstRun(t *testing.T) {
	var got ended
	rec := run.New(got.option())
	h := run.NewHandle(run.WithRunID("outer"), run.WithGroup("g"), run.WithCritique("try harder"))
	ctx := run.ContextWithHandle(context.Background(), h)
	octx, outer := rec.Start(ctx, "outer task")
	_, inner := rec.Start(octx, "inner task") // an agent used as a tool
	inner.End(nil)
	outer.End(nil)
	require.NotNil(t, h.Trajectory())
	assert.Equal(t, "outer", h.Trajectory().ID)
	assert.Equal(t, "g", h.Trajectory().GroupID)
	assert.NotEqual(t, "outer", got.all()[0].ID, "the nested run got its own ID")
	assert.Empty(t, got.all()[0].GroupID)
}

func TestCritiqueStartOptionBecomesAnInstruction(t *testing.T) {
	var got ended
	ctx, r := run.New(got.option()).Start(context.Background(), "t", run.WithCritique("check the sum"))
	for i := 0; i < 2; i++ {
		mctx, mc, err := r.StartModel(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{run.CritiquePrefix + "check the sum"}, mc.Instructions, "call %d", i)
		r.EndModel(mctx, mc)
	}
	r.End(nil)
	assert.Equal(t, "check the sum", got.all()[0].Steps[0].Critique)
}

// slowJudge blocks until released, to fill every judge slot.
type slowJudge struct{ release chan struct{} }

func (j slowJudge) Judge(ctx context.Context, t *trajectory.Trajectory) trajectory.Assessment {
	<-j.release
	return trajectory.Assessment{Judge: "slow", Status: trajectory.AssessmentOK, Score: 1}
}

// memStore keeps assessments in memory.
type memStore struct {
	mu          sync.Mutex
	runs        []string
	assessments map[string][]trajectory.Assessment
}

func (s *memStore) Append(_ context.Context, t *trajectory.Trajectory) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = append(s.runs, t.ID)
	return nil
}

func (s *memStore) AppendAssessment(_ context.Context, id string, a trajectory.Assessment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.assessments == nil {
		s.assessments = map[string][]trajectory.Assessment{}
	}
	s.assessments[id] = append(s.assessments[id], a)
	return nil
}

func (s *memStore) Flush(context.Context) error { return nil }

func TestBusyJudgeSlotsNeverHoldACallerPastItsContext(t *testing.T) {
	j := slowJudge{release: make(chan struct{})}
	store := &memStore{}
	rec := run.New(run.WithJudge(j), run.WithJudgeConcurrency(1), run.WithStore(store))
	_, first := rec.Start(context.Background(), "t", run.WithRunID("first"))
	first.End(nil) // takes the only slot and waits in the judge

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the second caller's context has ended
	_, second := rec.Start(ctx, "t", run.WithRunID("second"))
	second.End(nil) // must return: no slot, context done
	close(j.release)
	require.NoError(t, rec.Shutdown(context.Background()))

	store.mu.Lock()
	defer store.mu.Unlock()
	assert.Equal(t, []string{"first", "second"}, store.runs, "both runs are stored")
	require.Len(t, store.assessments["second"], 1)
	assert.Equal(t, trajectory.AssessmentError, store.assessments["second"][0].Status)
	assert.Contains(t, store.assessments["second"][0].Error, "not judged")
	require.Len(t, store.assessments["first"], 1)
	assert.True(t, store.assessments["first"][0].OK())
}

// Example shows a hand-built agent loop recorded as a run: open it where
// the loop starts, end it exactly once.
func Example() {
	rec := run.New(run.WithOnEnd(func(t *trajectory.Trajectory) {
		fmt.Println(t.Status, len(t.Steps), "step(s):", t.FinalAnswer)
	}))
	ctx, r := rec.Start(context.Background(), "What is 2+2?")
	answer, err := func() (string, error) {
		mctx, mc, err := r.StartModel(ctx)
		if err != nil {
			return "", err
		}
		mc.Record.Completion = "4" // your model's reply
		r.EndModel(mctx, mc)
		return r.Answer(ctx, "4")
	}()
	r.End(err)
	_ = answer
	// Output: finished 1 step(s): 4
}

// Hosts that run a step's tool calls in parallel start them in any order:
// each call is matched to the planned call with its ID, not merely the
// first planned call to the same tool.
func TestParallelCallsToOneToolAreMatchedByID(t *testing.T) {
	var e ended
	rec := run.New(e.option())
	ctx, r := rec.Start(context.Background(), "task")
	r.AddCall(trajectory.ToolCall{ID: "a", Tool: "search", Input: `{"q":"a"}`}, true)
	r.AddCall(trajectory.ToolCall{ID: "b", Tool: "search", Input: `{"q":"b"}`}, true)
	for _, id := range []string{"b", "a"} { // the second planned call starts first
		_, tc, err := r.StartTool(ctx, trajectory.ToolSpec{Name: "search"}, id, "")
		require.NoError(t, err)
		_, err = r.EndTool(ctx, tc, "result "+id, nil, false)
		require.NoError(t, err)
	}
	r.End(nil)
	calls := e.all()[0].Steps[0].Calls
	require.Len(t, calls, 2)
	assert.Equal(t, "a", calls[0].ID)
	assert.Equal(t, "result a", calls[0].Observation)
	assert.Equal(t, `{"q":"a"}`, calls[0].Input)
	assert.Equal(t, "b", calls[1].ID)
	assert.Equal(t, "result b", calls[1].Observation)
}

func TestEveryStepHasItsDuration(t *testing.T) {
	var got ended
	ctx, r := run.New(got.option()).Start(context.Background(), "t")
	for range 3 {
		r.BeginStep()
		mctx, mc, err := r.StartModel(ctx)
		require.NoError(t, err)
		r.EndModel(mctx, mc)
	}
	r.End(nil)
	tr := got.all()[0]
	require.Len(t, tr.Steps, 3)
	for i, s := range tr.Steps {
		assert.Positive(t, int64(s.Duration), "step %d", i)
		if i > 0 {
			assert.Equal(t, tr.Steps[i-1].StartedAt.Add(tr.Steps[i-1].Duration), s.StartedAt, "a step ends where the next begins")
		}
	}
	assert.False(t, tr.EndedAt.Before(tr.StartedAt))
}

// TestStepsTileWithTheirCalls records steps with a model call and a tool
// call each: a step begins where the previous step's last call ended (its
// clock reading is reused), every call lies inside its step, every
// duration is positive, and the last step ends where the run does.
func TestStepsTileWithTheirCalls(t *testing.T) {
	var got ended
	ctx, r := run.New(got.option()).Start(context.Background(), "t")
	spec := trajectory.ToolSpec{Name: "noop"}
	for range 4 {
		r.BeginStep()
		mctx, mc, err := r.StartModel(ctx)
		require.NoError(t, err)
		r.EndModel(mctx, mc)
		r.AddCall(trajectory.ToolCall{Tool: "noop", Input: "x"}, true)
		tctx, tc, err := r.StartTool(ctx, spec, "", "x")
		require.NoError(t, err)
		_, err = r.EndTool(tctx, tc, "ok", nil, false)
		require.NoError(t, err)
	}
	r.End(nil)
	tr := got.all()[0]
	require.Len(t, tr.Steps, 4)
	end := func(at time.Time, d time.Duration) time.Time { return at.Add(d) }
	for i, s := range tr.Steps {
		require.Len(t, s.LLMCalls, 1)
		require.Len(t, s.Calls, 1)
		m, c := s.LLMCalls[0], s.Calls[0]
		assert.Positive(t, int64(s.Duration), "step %d", i)
		assert.Positive(t, int64(m.Duration), "model call of step %d", i)
		assert.Positive(t, int64(c.Duration), "tool call of step %d", i)
		assert.False(t, m.StartedAt.Before(s.StartedAt), "step %d: the model call starts in its step", i)
		assert.False(t, c.StartedAt.Before(end(m.StartedAt, m.Duration)), "step %d: the tool call starts after the model call", i)
		assert.False(t, end(c.StartedAt, c.Duration).After(end(s.StartedAt, s.Duration)), "step %d: the tool call ends in its step", i)
		if i > 0 {
			prev := tr.Steps[i-1].Calls[0]
			assert.Equal(t, end(prev.StartedAt, prev.Duration), s.StartedAt, "step %d begins where the previous step's last call ended", i)
		}
	}
	last := tr.Steps[3]
	assert.Equal(t, tr.EndedAt, end(last.StartedAt, last.Duration))
	assert.Equal(t, time.UTC, tr.StartedAt.Location())
	assert.Equal(t, time.UTC, tr.Steps[2].Calls[0].StartedAt.Location())
}

// TestStepCapacityIsRoomNotALimit records more steps than the capacity the
// host announced, and more than the default room, with a second model and
// tool call in one step: every call lands in its own step, in order.
func TestStepCapacityIsRoomNotALimit(t *testing.T) {
	for _, capacity := range []int{0, 2, 1000} {
		var got ended
		rec := run.New(got.option())
		ctx, r := rec.Start(context.Background(), "task", run.WithStepCapacity(capacity))
		_, err := loop(ctx, r, 20)
		require.NoError(t, err)
		// A second model call in the last step, and one more tool call.
		r.BeginStep()
		for range 2 {
			mctx, mc, err := r.StartModel(ctx)
			require.NoError(t, err)
			r.EndModel(mctx, mc)
			tctx, tc, err := r.StartTool(ctx, trajectory.ToolSpec{Name: "echo"}, "", "y")
			require.NoError(t, err)
			_, err = r.EndTool(tctx, tc, "echo:y", nil, false)
			require.NoError(t, err)
		}
		r.End(nil)
		runs := got.all()
		require.Len(t, runs, 1)
		tr := runs[0]
		require.Len(t, tr.Steps, 21, "capacity %d", capacity)
		for i, s := range tr.Steps[:20] {
			require.Equal(t, i, s.Index)
			require.Len(t, s.LLMCalls, 1)
			require.Len(t, s.Calls, 1)
			require.Equal(t, "echo:x", s.Calls[0].Observation)
		}
		last := tr.Steps[20]
		require.Len(t, last.LLMCalls, 2)
		require.Len(t, last.Calls, 2)
		require.Equal(t, "echo:y", last.Calls[1].Observation)
		require.Equal(t, trajectory.StatusFinished, tr.Status)
	}
}

// TestToolTagsDoNotChangeTheHostsToolList: a hook that adds tags to a run's
// tools changes that run's copy, never the slice the host passes to every
// run (runs of one host share it, also concurrently).
func TestToolTagsDoNotChangeTheHostsToolList(t *testing.T) {
	specs := []trajectory.ToolSpec{{Name: "web"}, {Name: "calc"}}
	tagger := run.Hooks{OnStart: func(ctx context.Context, r *run.Run) context.Context {
		r.AddToolTags(func(tool string) []string {
			if tool == "web" {
				return []string{"egress"}
			}
			return nil
		})
		return ctx
	}}
	var got ended
	rec := run.New(run.WithHooks(tagger), got.option())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, r := rec.Start(context.Background(), "task", run.WithTools(specs))
			r.End(nil)
		}()
	}
	wg.Wait()
	assert.Empty(t, specs[0].Tags, "the host's spec was changed")
	for _, tr := range got.all() {
		assert.Equal(t, []string{"egress"}, tr.Tools[0].Tags)
		assert.Empty(t, tr.Tools[1].Tags)
	}
	assert.Len(t, got.all(), 4)
}

// TestShortToolPathRecordsAsStartTool checks BeginTool/EndToolSlot against
// StartTool/EndTool: for a result, an error (with and without
// WithToolErrorAbort), a panic and a call nobody announced, both give the
// agent the same answer and record the same call (times aside); with a
// tool hook BeginTool declines.
func TestShortToolPathRecordsAsStartTool(t *testing.T) {
	type outcome struct {
		obs      string
		err      error
		panicked bool
	}
	cases := map[string]outcome{
		"result":    {obs: "42"},
		"error":     {err: errors.New("connection refused")},
		"panic":     {err: errors.New("tool panicked"), panicked: true},
		"no result": {},
	}
	spec := trajectory.ToolSpec{Name: "db"}
	for name, c := range cases {
		for _, abort := range []bool{false, true} {
			for _, announced := range []bool{true, false} {
				var got [2]trajectory.ToolCall
				var obs [2]string
				var errs [2]error
				for i, short := range []bool{false, true} {
					var e ended
					ctx, r := run.New(run.WithToolErrorAbort(abort), e.option()).Start(context.Background(), "t")
					r.BeginStep()
					if announced {
						r.AddCall(trajectory.ToolCall{ID: "c1", Tool: "db", Input: "q"}, true)
					}
					if short {
						slot, ok := r.BeginTool(spec, "c1", "q")
						require.True(t, ok)
						obs[i], errs[i] = r.EndToolSlot(slot, c.obs, c.err, c.panicked)
					} else {
						tctx, tc, err := r.StartTool(ctx, spec, "c1", "q")
						require.NoError(t, err)
						obs[i], errs[i] = r.EndTool(tctx, tc, c.obs, c.err, c.panicked)
					}
					r.End(nil)
					calls := e.all()[0].Steps[0].Calls
					require.Len(t, calls, 1)
					got[i] = calls[0]
					assert.False(t, got[i].StartedAt.IsZero(), "%s: no start", name)
					assert.Positive(t, got[i].Duration, "%s: no duration", name)
					got[i].StartedAt, got[i].Duration = time.Time{}, 0
				}
				assert.Equal(t, got[0], got[1], "%s, abort %v, announced %v", name, abort, announced)
				assert.Equal(t, obs[0], obs[1], name)
				assert.Equal(t, errs[0], errs[1], name)
			}
		}
	}
	_, r := run.New(run.WithHooks(run.Hooks{AfterTool: func(context.Context, *run.Run, *run.ToolCall) error { return nil }})).Start(context.Background(), "t")
	_, ok := r.BeginTool(spec, "", "q")
	assert.False(t, ok, "BeginTool took a call that a hook must see")
	r.End(nil)
}

// TestShortModelPathRecordsAsStartModel checks BeginModel/EndModelSlot
// against StartModel/EndModel over a run of two unmanaged steps (each
// model call after a step with calls begins the next): the same steps,
// calls and run model (times aside), the first call alone marked first;
// with a model hook or a start critique BeginModel declines.
func TestShortModelPathRecordsAsStartModel(t *testing.T) {
	var got [2]*trajectory.Trajectory
	for i, short := range []bool{false, true} {
		var e ended
		ctx, r := run.New(run.WithModelName("m0"), e.option()).Start(context.Background(), "t")
		for step, model := range []string{"", "m1"} {
			rec := trajectory.LLMCall{Completion: fmt.Sprint("c", step), Model: model}
			if short {
				slot, ok := r.BeginModel()
				require.True(t, ok)
				assert.Equal(t, step == 0, slot.First())
				assert.Equal(t, step == 0, r.CaptureFirstPrompt(slot))
				r.EndModelSlot(slot, &rec)
			} else {
				mctx, mc, err := r.StartModel(ctx)
				require.NoError(t, err)
				assert.Equal(t, step == 0, mc.First)
				if model != "" {
					mc.Record.Model = model
				}
				mc.Record.Completion = rec.Completion
				r.EndModel(mctx, mc)
			}
			r.AddCall(trajectory.ToolCall{Tool: "echo"}, false)
		}
		r.End(nil)
		got[i] = e.all()[0]
		for j := range got[i].Steps {
			s := &got[i].Steps[j]
			for k := range s.LLMCalls {
				assert.False(t, s.LLMCalls[k].StartedAt.IsZero())
				assert.Positive(t, s.LLMCalls[k].Duration)
				s.LLMCalls[k].StartedAt, s.LLMCalls[k].Duration = time.Time{}, 0
			}
			s.StartedAt, s.Duration = time.Time{}, 0
		}
		got[i].ID, got[i].StartedAt, got[i].EndedAt = "", time.Time{}, time.Time{}
	}
	assert.Equal(t, got[0], got[1])
	assert.Equal(t, "m0", got[1].Model)
	assert.Len(t, got[1].Steps, 2)

	_, r := run.New(run.WithHooks(run.Hooks{AfterModel: func(context.Context, *run.Run, *run.ModelCall) {}})).Start(context.Background(), "t")
	_, ok := r.BeginModel()
	assert.False(t, ok, "BeginModel took a call that a hook must see")
	r.End(nil)
	_, r = run.New().Start(context.Background(), "t", run.WithCritique("be brief"))
	_, ok = r.BeginModel()
	assert.False(t, ok, "BeginModel took a call that must show the critique")
	r.End(nil)
}

package reagent_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reagent-go/reagent/run"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lcagents "github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/agents"
	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/internal/policytest"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/tools/calculator"
	"github.com/reagent-go/reagent/trajectory"
)

func newExec(t *testing.T, policy *llmtest.Server, opts ...run.Option) *middleware.Executor {
	t.Helper()
	llm, err := openai.New(openai.WithBaseURL(policy.URL), openai.WithToken("test"), openai.WithModel("policy"))
	require.NoError(t, err)
	agent := agents.NewToolCalling(llm, []tools.Tool{calculator.New()})
	return middleware.Wrap(lcagents.NewExecutor(agent, lcagents.WithMaxIterations(5)), opts...)
}

func openStore(t *testing.T) audit.Store {
	t.Helper()
	s, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// judgeServer is an Agent-RRM behind the OpenAI API: it scores runs that
// used a tool 0.9 and others 0.2, or fails when down is set.
func judgeServer(t *testing.T, down *atomic.Bool, calls *atomic.Int64) rrm.Judge {
	srv := llmtest.NewFunc(t, func(req llmtest.Request) llmtest.Reply {
		calls.Add(1)
		if down != nil && down.Load() {
			return llmtest.Reply{Status: http.StatusServiceUnavailable, Body: `{"error":{"message":"overloaded"}}`}
		}
		prompt := req.Messages[len(req.Messages)-1].Content
		if strings.Contains(prompt, "Tool call: calculator") {
			return llmtest.Reply{Content: "<think>used the tool</think><critique>You verified the result with the calculator.</critique><score>0.9</score>"}
		}
		return llmtest.Reply{Content: "<think>no tool</think><critique>You guessed; call the calculator with the expression.</critique><score>0.2</score>"}
	})
	return rrm.NewOpenAI(rrm.WithBaseURL(srv.URL), rrm.WithModel("rrm"), rrm.WithAPIKey("k"), rrm.WithRetries(0), rrm.WithCache(nil))
}

func TestRefineFeedsTheCritiqueIntoTheSecondAttempt(t *testing.T) {
	ctx := context.Background()
	policy := llmtest.NewFunc(t, policytest.Arith("I think it is 80."))
	store := openStore(t)
	exec := newExec(t, policy, run.WithStore(store))

	res, err := reagent.Refine(ctx, exec, rrm.NewHeuristic(), "What is 17 * 23?",
		reagent.WithStore(store), reagent.WithMetadata(map[string]string{"suite": "demo"}))
	require.NoError(t, err)
	require.Len(t, res.Attempts, 2)
	assert.Empty(t, res.Stopped)

	o1, o2 := res.First(), res.Last()
	assert.Equal(t, "I think it is 80.", o1.Trajectory.FinalAnswer)
	assert.Equal(t, "391", o2.Trajectory.FinalAnswer)
	// Linked: same group, o2 refines o1.
	assert.Equal(t, o1.Trajectory.GroupID, o2.Trajectory.GroupID)
	assert.NotEmpty(t, o1.Trajectory.GroupID)
	assert.Equal(t, o1.Trajectory.ID, o2.Trajectory.ParentID)
	assert.Equal(t, 0, o1.Trajectory.Round)
	assert.Equal(t, 1, o2.Trajectory.Round)
	assert.Equal(t, "1", o2.Trajectory.Metadata["round"])
	assert.Equal(t, "demo", o2.Trajectory.Metadata["suite"])

	// The heuristic judge flags the unverified guess and passes the refined run.
	s1, ok := o1.Score()
	require.True(t, ok)
	s2, ok := o2.Score()
	require.True(t, ok)
	assert.Less(t, s1, s2)
	require.NotEmpty(t, o1.Assessment.Critique)

	// The second attempt's first model call saw o1's answer and its critique.
	var sawFeedback bool
	for _, req := range policy.Requests() {
		for _, m := range req.Messages {
			if m.Role == "system" && strings.HasPrefix(m.Content, run.CritiquePrefix) {
				sawFeedback = true
				assert.Contains(t, m.Content, "Your previous answer was: I think it is 80.")
				assert.Contains(t, m.Content, o1.Assessment.Critique)
			}
		}
	}
	assert.True(t, sawFeedback)
	assert.Equal(t, o1.Assessment.Critique, o2.Trajectory.Steps[0].Critique[strings.Index(o2.Trajectory.Steps[0].Critique, "Critique: ")+len("Critique: "):])

	// Both runs are stored, each with the assessment Refine made.
	require.NoError(t, store.Flush(ctx))
	for _, at := range res.Attempts {
		got, err := store.Get(ctx, at.Trajectory.ID)
		require.NoError(t, err)
		a := reward.FinalAssessment(got)
		require.NotNil(t, a)
		assert.Equal(t, at.Assessment.Score, a.Score)
	}
}

func TestRefineUsesSyncJudgmentsAndStopsOnJudgeFailure(t *testing.T) {
	ctx := context.Background()
	var down atomic.Bool
	var judgeCalls atomic.Int64
	judge := judgeServer(t, &down, &judgeCalls)

	// With the middleware judging synchronously, Refine reuses its
	// assessments instead of judging again.
	policy := llmtest.NewFunc(t, policytest.Arith("I think it is 80."))
	exec := newExec(t, policy, run.WithJudge(judge), run.WithSyncJudge(true))
	res, err := reagent.Refine(ctx, exec, judge, "What is 6 * 7?")
	require.NoError(t, err)
	require.Len(t, res.Attempts, 2)
	assert.Equal(t, int64(2), judgeCalls.Load(), "one judgment per run, made by the middleware")
	s, _ := res.First().Score()
	assert.Equal(t, 0.2, s)
	s, _ = res.Last().Score()
	assert.Equal(t, 0.9, s)

	// A judge outage leaves no critique: refinement stops after o1, and the
	// failed judgment is reported, not scored.
	down.Store(true)
	policy2 := llmtest.NewFunc(t, policytest.Arith("I think it is 80."))
	res, err = reagent.Refine(ctx, newExec(t, policy2), judge, "What is 6 * 7?")
	require.NoError(t, err)
	require.Len(t, res.Attempts, 1)
	assert.Contains(t, res.Stopped, "no critique to refine with")
	require.NotNil(t, res.First().Assessment)
	assert.Equal(t, trajectory.AssessmentError, res.First().Assessment.Status)
	_, ok := res.First().Score()
	assert.False(t, ok)
	assert.Len(t, policy2.Requests(), 1, "no second attempt was run")
}

func TestRefineRoundsAndResume(t *testing.T) {
	ctx := context.Background()
	policy := llmtest.NewFunc(t, policytest.Arith("I think it is 80."))
	exec := newExec(t, policy)
	res, err := reagent.Refine(ctx, exec, rrm.NewHeuristic(), "What is 9 * 9?", reagent.WithRounds(2), reagent.WithRefineBelow(reagent.RefineAlways))
	require.NoError(t, err)
	require.Len(t, res.Attempts, 3)
	assert.Equal(t, reagent.ChoiceRefined, res.Choice)
	assert.Equal(t, 2, res.Chosen)
	for i, at := range res.Attempts {
		assert.Equal(t, i, at.Trajectory.Round)
		if i > 0 {
			assert.Equal(t, res.Attempts[i-1].Trajectory.ID, at.Trajectory.ParentID)
		}
	}

	// Resume after o1: only the refined attempt is run, from o1's critique,
	// with the run id asked for.
	before := len(policy.Requests())
	var seen []int
	res2, err := reagent.Refine(ctx, exec, rrm.NewHeuristic(), "What is 9 * 9?",
		reagent.WithPrevious(res.First()),
		reagent.WithRunIDs(func(round int) string { return "run-" + string(rune('a'+round)) }),
		reagent.WithOnAttempt(func(_ context.Context, a *reagent.Attempt) error {
			seen = append(seen, a.Trajectory.Round)
			return nil
		}))
	require.NoError(t, err)
	require.Len(t, res2.Attempts, 2)
	assert.True(t, res2.First().Resumed)
	assert.Equal(t, "run-b", res2.Last().Trajectory.ID)
	assert.Equal(t, res.First().Trajectory.ID, res2.Last().Trajectory.ParentID)
	assert.Equal(t, []int{1}, seen, "the hook sees new attempts only")
	assert.Equal(t, 2, len(policy.Requests())-before, "one run of two model calls")

	// Zero rounds: run and judge once.
	res3, err := reagent.Refine(ctx, exec, rrm.NewHeuristic(), "What is 2 * 2?", reagent.WithRounds(0))
	require.NoError(t, err)
	require.Len(t, res3.Attempts, 1)
	assert.NotNil(t, res3.Last().Assessment)

	// A hook error stops the strategy.
	_, err = reagent.Refine(ctx, exec, rrm.NewHeuristic(), "What is 2 * 3?",
		reagent.WithOnAttempt(func(context.Context, *reagent.Attempt) error { return errors.New("disk full") }))
	assert.ErrorContains(t, err, "disk full")
}

func TestRefineNeedsARecordingExecutor(t *testing.T) {
	policy := llmtest.NewFunc(t, policytest.Arith(""))
	llm, err := openai.New(openai.WithBaseURL(policy.URL), openai.WithToken("test"))
	require.NoError(t, err)
	plain := lcagents.NewExecutor(agents.NewToolCalling(llm, []tools.Tool{calculator.New()}))
	_, err = reagent.Refine(context.Background(), plain, rrm.NewHeuristic(), "What is 1 + 1?")
	assert.ErrorIs(t, err, reagent.ErrNotRecorded)
	_, err = reagent.Refine(context.Background(), nil, rrm.NewHeuristic(), "x")
	assert.Error(t, err)
	_, err = reagent.Refine(context.Background(), newExec(t, policy), nil, "What is 1 + 1?")
	assert.ErrorContains(t, err, "a judge is needed")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = reagent.Refine(ctx, newExec(t, policy), rrm.NewHeuristic(), "What is 1 + 1?")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestSampleGroupPoolsFirstAndRefinedSamples(t *testing.T) {
	ctx := context.Background()
	policy := llmtest.NewFunc(t, policytest.Arith("I think it is 80."))
	exec := newExec(t, policy)
	const g = 3
	grp, err := reagent.SampleGroup(ctx, exec, rrm.NewHeuristic(), "What is 12 * 12?", g, reagent.WithParallel(2))
	require.NoError(t, err)
	require.Len(t, grp.Samples, g)
	all := grp.Attempts()
	require.Len(t, all, 2*g)
	ids := map[string]bool{}
	for i, at := range all {
		assert.Equal(t, grp.ID, at.Trajectory.GroupID)
		ids[at.Trajectory.ID] = true
		if i < g {
			assert.Equal(t, 0, at.Trajectory.Round)
		} else {
			assert.Equal(t, 1, at.Trajectory.Round)
			assert.Equal(t, all[i-g].Trajectory.ID, at.Trajectory.ParentID)
			assert.Equal(t, all[i-g].Trajectory.Metadata["sample"], at.Trajectory.Metadata["sample"])
		}
	}
	assert.Len(t, ids, 2*g, "every attempt is its own run")

	// Reagent-U rewards: rule reward + 0.3·score, one mean and std over 2G.
	comb := reward.NewCombiner()
	results := make([]reward.Result, len(all))
	var rewards []float64
	for i, at := range all {
		results[i] = comb.Combine(reward.Numeric(at.Trajectory.FinalAnswer, "144"), at.Assessment)
		rewards = append(rewards, results[i].Reward)
	}
	adv, kept := reagent.Advantages(results)
	var mean, ss float64
	for _, r := range rewards {
		mean += r
	}
	mean /= float64(len(rewards))
	for _, r := range rewards {
		ss += (r - mean) * (r - mean)
	}
	std := math.Sqrt(ss / float64(len(rewards)))
	for i := range adv {
		assert.True(t, kept[i])
		assert.InDelta(t, (rewards[i]-mean)/(std+1e-6), adv[i], 1e-9)
	}
	// The refined samples are right and the first ones wrong.
	assert.Less(t, adv[0], 0.0)
	assert.Greater(t, adv[g], 0.0)

	_, err = reagent.SampleGroup(ctx, exec, rrm.NewHeuristic(), "q", 0)
	assert.Error(t, err)
	_, err = reagent.SampleGroup(ctx, exec, rrm.NewHeuristic(), "q", 2, reagent.WithRunIDs(func(int) string { return "x" }))
	assert.Error(t, err)
}

func TestAdvantagesLeaveDroppedSamplesOut(t *testing.T) {
	results := []reward.Result{{Reward: 1}, {Dropped: true}, {Reward: 0}}
	adv, kept := reagent.Advantages(results)
	assert.Equal(t, []bool{true, false, true}, kept)
	assert.InDelta(t, 1/(0.5+1e-6)*0.5, adv[0], 1e-9)
	assert.InDelta(t, -1/(0.5+1e-6)*0.5, adv[2], 1e-9)
	assert.Equal(t, 0.0, adv[1])
}

func TestRewardFromMetadata(t *testing.T) {
	tr := &trajectory.Trajectory{
		Metadata:    map[string]string{reagent.MetaRuleReward: "1", reagent.MetaLambda: "0.5"},
		Assessments: []trajectory.Assessment{{Status: trajectory.AssessmentOK, Score: 0.4}},
	}
	r, ok := reagent.Reward(tr, reward.NewCombiner(), false)
	require.True(t, ok)
	assert.InDelta(t, 1.2, r.Reward, 1e-12)
	r, _ = reagent.Reward(tr, reward.NewCombiner(), true)
	assert.InDelta(t, 1.12, r.Reward, 1e-12)

	tr.Assessments = append(tr.Assessments, trajectory.Assessment{Status: trajectory.AssessmentError, Error: "timeout"})
	f := reagent.RewardFunc(reward.NewCombiner(), false)
	_, ok = f(tr)
	assert.False(t, ok, "dropped under the default policy")
	v, ok := reagent.RewardFunc(reward.NewCombiner(reward.WithOnJudgeError(reward.RuleOnly)), false)(tr)
	assert.True(t, ok)
	assert.Equal(t, 1.0, v)
	_, ok = f(&trajectory.Trajectory{})
	assert.False(t, ok)
	_, ok = f(nil)
	assert.False(t, ok)
}

func TestRewardDropsBrokenRuns(t *testing.T) {
	tr := &trajectory.Trajectory{Status: trajectory.StatusError, Error: "model call: 500",
		Metadata: map[string]string{reagent.MetaRuleReward: "0", reagent.MetaLambda: "0"}}
	r, ok := reagent.Reward(tr, reward.NewCombiner(), false)
	require.True(t, ok)
	assert.True(t, r.Dropped, "a broken run is no sample, even with λ = 0")
	_, ok = reagent.RewardFunc(reward.NewCombiner(), false)(tr)
	assert.False(t, ok)
}

// flipPolicy answers with the calculator first; once critiqued, it guesses
// worse (or, with guessFirst, the other way round).
func flipPolicy(guessFirst bool) func(llmtest.Request) llmtest.Reply {
	return func(req llmtest.Request) llmtest.Reply {
		last := req.Messages[len(req.Messages)-1]
		if last.Role == "tool" {
			return llmtest.Reply{Content: last.Content}
		}
		critiqued := false
		for _, m := range req.Messages {
			critiqued = critiqued || (m.Role == "system" && strings.HasPrefix(m.Content, run.CritiquePrefix))
		}
		if critiqued == guessFirst {
			expr := strings.TrimSuffix(strings.TrimPrefix(last.Content, "What is "), "?")
			return llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "c1", Name: "calculator", Arguments: `{"expression":"` + expr + `"}`}}}
		}
		return llmtest.Reply{Content: "It is 4242."}
	}
}

func TestRefineNeverReportsAWorseAnswer(t *testing.T) {
	ctx := context.Background()
	judge := rrm.NewHeuristic()

	// A grounded first answer is not flagged: no second run, the first
	// answer is the result.
	policy := llmtest.NewFunc(t, flipPolicy(false))
	res, err := reagent.Refine(ctx, newExec(t, policy), judge, "What is 17 * 23?")
	require.NoError(t, err)
	require.Len(t, res.Attempts, 1)
	assert.Equal(t, reagent.ChoiceNotFlagged, res.Choice)
	assert.Equal(t, "391", res.Result().Trajectory.FinalAnswer)
	assert.Contains(t, res.Stopped, "not below the refine threshold")
	assert.Len(t, policy.Requests(), 2, "one run: the tool call and the answer")

	// Refining everything, the refined guess is judged worse: the first
	// answer stays the result, and both attempts are kept.
	res, err = reagent.Refine(ctx, newExec(t, llmtest.NewFunc(t, flipPolicy(false))), judge, "What is 17 * 23?",
		reagent.WithRefineBelow(reagent.RefineAlways))
	require.NoError(t, err)
	require.Len(t, res.Attempts, 2)
	s1, _ := res.Attempts[0].Score()
	s2, _ := res.Attempts[1].Score()
	require.Less(t, s2, s1)
	assert.Equal(t, reagent.ChoiceKeptEarlier, res.Choice)
	assert.Equal(t, 0, res.Chosen)
	assert.Equal(t, "391", res.Result().Trajectory.FinalAnswer)
	assert.Equal(t, "It is 4242.", res.Last().Trajectory.FinalAnswer)

	// The paper's Reagent-C reports the last attempt whatever its score.
	res, err = reagent.Refine(ctx, newExec(t, llmtest.NewFunc(t, flipPolicy(false))), judge, "What is 17 * 23?",
		reagent.WithRefineBelow(reagent.RefineAlways), reagent.WithKeepBetter(false))
	require.NoError(t, err)
	assert.Equal(t, reagent.ChoiceRefined, res.Choice)
	assert.Equal(t, "It is 4242.", res.Result().Trajectory.FinalAnswer)

	// A flagged guess refined into a grounded answer: the refined one.
	res, err = reagent.Refine(ctx, newExec(t, llmtest.NewFunc(t, flipPolicy(true))), judge, "What is 17 * 23?")
	require.NoError(t, err)
	require.Len(t, res.Attempts, 2)
	assert.Equal(t, reagent.ChoiceRefined, res.Choice)
	assert.Equal(t, 1, res.Chosen)
	assert.Equal(t, "391", res.Result().Trajectory.FinalAnswer)

	// Keeping the better answer judges the last attempt even when asked not to.
	res, err = reagent.Refine(ctx, newExec(t, llmtest.NewFunc(t, flipPolicy(true))), judge, "What is 17 * 23?", reagent.WithJudgeLast(false))
	require.NoError(t, err)
	require.Len(t, res.Attempts, 2)
	assert.NotNil(t, res.Last().Assessment)
}

func TestDefaultFeedbackClipsALongAnswer(t *testing.T) {
	long := strings.Repeat("40", 200)
	fb := reagent.DefaultFeedback(&trajectory.Trajectory{FinalAnswer: long}, trajectory.Assessment{Critique: "Check it."})
	assert.Less(t, len(fb), reagent.MaxFeedbackAnswer+80)
	assert.Contains(t, fb, "…. Critique: Check it.")
	fb = reagent.DefaultFeedback(&trajectory.Trajectory{FinalAnswer: " 391 "}, trajectory.Assessment{Critique: "Good."})
	assert.Equal(t, "Your previous answer was: 391. Critique: Good.", fb)
	fb = reagent.DefaultFeedback(&trajectory.Trajectory{FinalAnswer: "\n<tool_call>{\"name\": \"get_pers"}, trajectory.Assessment{Critique: "Make the call."})
	assert.Equal(t, "Your previous attempt ended without an answer. Critique: Make the call.", fb, "markup is no answer")
}

package rollout_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reagent-go/reagent/run"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/ppo"
	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/export"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/reagent/rollout"
	"github.com/reagent-go/reagent/reagent/suite"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

func countSloppy(tasks []suite.Task) int {
	n := 0
	for _, t := range tasks {
		if sloppyHalf(t) {
			n++
		}
	}
	return n
}

func list(t *testing.T, s audit.Store, md map[string]string) []*trajectory.Trajectory {
	t.Helper()
	runs, err := s.List(context.Background(), audit.Query{Metadata: md})
	require.NoError(t, err)
	return runs
}

func TestEveryStrategyEndToEnd(t *testing.T) {
	ctx := context.Background()
	tasks := tasksOf(t)
	env := startEnv(t, tasks)
	sloppy := countSloppy(tasks)
	require.True(t, sloppy > 0 && sloppy < len(tasks), "the test needs sloppy and careful tasks")
	wantFirst := float64(len(tasks)-sloppy) / float64(len(tasks))
	const g = 2

	for _, strat := range []rollout.Strategy{rollout.Baseline, rollout.C, rollout.R, rollout.U} {
		t.Run(string(strat), func(t *testing.T) {
			store, _ := openStore(t)
			pol := newPolicy(t, tasks, sloppyHalf)
			var progressOut bytes.Buffer
			sum, err := rollout.Collect(ctx, pol.model(t), env, tasks,
				rollout.WithStrategy(strat), rollout.WithGroupSize(g), rollout.WithConcurrency(3),
				rollout.WithJudge(rrm.NewHeuristic()), rollout.WithStore(store), rollout.WithModelName("scripted"),
				rollout.WithProgress(&progressOut))
			require.NoError(t, err)
			assert.Contains(t, progressOut.String(), "done in")
			total := sum.Total()
			assert.Equal(t, len(tasks), total.Tasks)
			assert.Equal(t, len(tasks)*g, total.Samples)
			assert.InDelta(t, wantFirst, total.FirstSuccess, 1e-9)
			assert.Zero(t, total.Failed)
			assert.Zero(t, total.JudgeErrors)
			assert.Equal(t, total.Runs, total.Judged)

			runs := list(t, store, map[string]string{reagent.MetaStrategy: string(strat)})
			wantRuns := len(tasks) * g
			switch strat {
			case rollout.U:
				// Every first answer is refined; the refinement fixes every
				// sloppy one.
				wantRuns *= 2
				assert.Equal(t, 1.0, total.FinalSuccess)
				assert.Equal(t, len(tasks)*g, total.Refined)
			case rollout.C:
				// Only the answers the RRM flags are refined (the heuristic
				// misses the sloppy answers whose process looks sound); the
				// refinement fixes each, so C never falls below the first
				// answers, and an answer it did not flag is kept as it is.
				wantRuns += total.Refined
				assert.Positive(t, total.Refined)
				assert.LessOrEqual(t, total.Refined, sloppy*g, "a careful answer is not flagged")
				assert.Equal(t, len(tasks)*g, total.Refined+total.NotFlagged)
				assert.InDelta(t, wantFirst+float64(total.Refined)/float64(len(tasks)*g), total.FinalSuccess, 1e-9)
				assert.Zero(t, total.KeptFirst)
				assert.Zero(t, total.Incomplete)
			default:
				assert.InDelta(t, wantFirst, total.FinalSuccess, 1e-9)
			}
			require.Len(t, runs, wantRuns)
			assert.Equal(t, len(runs), total.Runs)

			groups := map[string]map[string]bool{} // task -> group ids
			for _, r := range runs {
				md := r.Metadata
				assert.Equal(t, "scripted", md[reagent.MetaModel])
				assert.Equal(t, "train", md[reagent.MetaSplit])
				require.NotNil(t, reward.FinalAssessment(r), "stored with its judgment")
				tr := r.Training
				require.NotNil(t, tr, "stored with its typed rewards")
				require.NotNil(t, tr.Reward)
				require.NotNil(t, tr.Score)
				lambda := 0.0
				if strat == rollout.R || strat == rollout.U {
					lambda = 0.3
				}
				assert.Equal(t, lambda, tr.Lambda)
				assert.InDelta(t, tr.RuleReward+lambda**tr.Score, *tr.Reward, 1e-9, "R = R_rule + λ·score")
				assert.Equal(t, trajectory.RewardOK, tr.Status)
				for _, k := range []string{reagent.MetaRuleReward, reagent.MetaReward, reagent.MetaScore, reagent.MetaLambda, reagent.MetaRewardStatus} {
					assert.NotContains(t, md, k, "rewards are typed, not strings")
				}
				if groups[md[reagent.MetaTask]] == nil {
					groups[md[reagent.MetaTask]] = map[string]bool{}
				}
				groups[md[reagent.MetaTask]][r.GroupID] = true
				if r.Round == 1 {
					assert.NotEmpty(t, r.ParentID)
					require.NotEmpty(t, r.Steps)
					assert.Contains(t, r.Steps[0].Critique, "Critique: ", "the refined run saw its critique")
				}
			}
			for task, ids := range groups {
				assert.Len(t, ids, 1, "task %s: all its samples share one group", task)
			}

			// Training groups: one per task, G or 2G samples sharing the
			// GRPO statistics.
			grps, rep := ppo.BuildGroups(runs, reagent.RewardFunc(reward.NewCombiner(), false))
			assert.Equal(t, len(tasks), rep.Groups)
			samples := 0
			for _, gr := range grps {
				samples += len(gr.Samples)
			}
			assert.Equal(t, wantRuns, samples)

			var table bytes.Buffer
			require.NoError(t, sum.WriteTable(&table))
			assert.Contains(t, table.String(), "mean reward")
			assert.Contains(t, table.String(), "arith")
			assert.Contains(t, table.String(), "lookup")
			assert.Contains(t, table.String(), "total")
		})
	}
}

func TestResumeSkipsFinishedWork(t *testing.T) {
	ctx := context.Background()
	tasks := tasksOf(t)
	env := startEnv(t, tasks)
	store, _ := openStore(t)
	pol := newPolicy(t, tasks, sloppyHalf)
	opts := []rollout.Option{rollout.WithStrategy(rollout.U), rollout.WithGroupSize(2), rollout.WithJudge(rrm.NewHeuristic()),
		rollout.WithStore(store), rollout.WithModelName("scripted")}

	// A first collection over half the tasks, with the policy server
	// failing the first call of one task: that sample's run breaks.
	broken := tasks[1]
	pol.failNext(broken.Question, 1)
	sum, err := rollout.Collect(ctx, pol.model(t), env, tasks[:4], opts...)
	require.NoError(t, err)
	tot := sum.Total()
	assert.Equal(t, 1, tot.Failed)
	assert.Equal(t, 1, tot.Incomplete)
	assert.Equal(t, 4*2*2-1, tot.Runs)

	// The rerun over all tasks runs only what is missing: the broken
	// sample and the new tasks.
	before := pol.calls.Load()
	sum, err = rollout.Collect(ctx, pol.model(t), env, tasks, opts...)
	require.NoError(t, err)
	tot = sum.Total()
	assert.Equal(t, 4*2-1, tot.Resumed, "finished samples are not run again")
	assert.Zero(t, tot.Failed)
	assert.Zero(t, tot.Incomplete)
	assert.Equal(t, len(tasks)*2*2, tot.Runs)
	assert.Greater(t, pol.calls.Load(), before)

	runs := list(t, store, map[string]string{reagent.MetaStrategy: "u"})
	// Every sample's first and refined run, plus the broken run, which the
	// audit trail keeps.
	assert.Len(t, runs, len(tasks)*2*2+1)
	seen := map[string]int{}
	for _, r := range runs {
		if r.Status == trajectory.StatusError {
			assert.Equal(t, broken.ID, r.Metadata[reagent.MetaTask])
			require.NotNil(t, r.Training)
			assert.Equal(t, trajectory.RewardFailed, r.Training.Status)
			assert.Nil(t, r.Training.Reward)
			continue
		}
		seen[r.Metadata[reagent.MetaTask]+"/"+r.Metadata[reagent.MetaSample]+"/"+r.Metadata[reagent.MetaRound]]++
	}
	for k, n := range seen {
		assert.Equal(t, 1, n, "%s stored once", k)
	}

	// A third collection finds everything done and calls nothing.
	before = pol.calls.Load()
	sum, err = rollout.Collect(ctx, pol.model(t), env, tasks, opts...)
	require.NoError(t, err)
	assert.Equal(t, len(tasks)*2, sum.Total().Resumed)
	assert.Equal(t, before, pol.calls.Load())

	// Another tag is another collection.
	sum, err = rollout.Collect(ctx, pol.model(t), env, tasks[:1], append(opts, rollout.WithTag("again"))...)
	require.NoError(t, err)
	assert.Zero(t, sum.Total().Resumed)
}

func TestJudgeFailuresAreDroppedNeverZero(t *testing.T) {
	ctx := context.Background()
	tasks := tasksOf(t)[:4]
	env := startEnv(t, tasks)
	var down atomic.Bool
	down.Store(true)
	judge := rrmServer(t, &down)

	// Reagent-R with the judge down: every sample is dropped (the default)
	// or kept with the rule reward alone, and counted either way.
	for _, policy := range []reward.JudgeErrorPolicy{reward.Drop, reward.RuleOnly} {
		store, _ := openStore(t)
		pol := newPolicy(t, tasks, func(suite.Task) bool { return false })
		sum, err := rollout.Collect(ctx, pol.model(t), env, tasks, rollout.WithStrategy(rollout.R),
			rollout.WithJudge(judge), rollout.WithStore(store), rollout.WithOnJudgeError(policy), rollout.WithModelName("m"))
		require.NoError(t, err)
		tot := sum.Total()
		assert.Equal(t, len(tasks), tot.JudgeErrors)
		assert.Zero(t, tot.Judged)
		for _, r := range list(t, store, nil) {
			a := reward.FinalAssessment(r)
			require.NotNil(t, a)
			assert.Equal(t, trajectory.AssessmentError, a.Status)
			require.NotNil(t, r.Training)
			assert.Nil(t, r.Training.Score)
			if policy == reward.Drop {
				assert.Equal(t, trajectory.RewardDropped, r.Training.Status)
				assert.Nil(t, r.Training.Reward, "no made-up reward")
			} else {
				assert.Equal(t, trajectory.RewardRuleOnly, r.Training.Status)
				require.NotNil(t, r.Training.Reward)
				assert.Equal(t, 1.0, *r.Training.Reward)
			}
		}
		if policy == reward.Drop {
			assert.Equal(t, len(tasks), tot.Dropped)
			assert.Zero(t, tot.MeanReward)
		} else {
			assert.Equal(t, len(tasks), tot.RuleOnly)
			assert.Equal(t, 1.0, tot.MeanReward)
		}
	}

	// Reagent-U with the judge down leaves no critique: the samples stop
	// after their first run. When the judge is back, a rerun judges the
	// stored first runs again and refines them.
	store, _ := openStore(t)
	pol := newPolicy(t, tasks, sloppyHalf)
	opts := []rollout.Option{rollout.WithStrategy(rollout.U), rollout.WithJudge(judge), rollout.WithStore(store), rollout.WithModelName("m")}
	sum, err := rollout.Collect(ctx, pol.model(t), env, tasks, opts...)
	require.NoError(t, err)
	assert.Equal(t, len(tasks), sum.Total().Incomplete)
	assert.Equal(t, len(tasks), sum.Total().Runs)

	down.Store(false)
	sum, err = rollout.Collect(ctx, pol.model(t), env, tasks, opts...)
	require.NoError(t, err)
	assert.Zero(t, sum.Total().Incomplete)
	assert.Zero(t, sum.Total().JudgeErrors)
	runs := list(t, store, nil)
	require.Len(t, runs, 2*len(tasks))
	byID := map[string]*trajectory.Trajectory{}
	for _, r := range runs {
		byID[r.ID] = r
	}
	for _, r := range runs {
		a := reward.FinalAssessment(r)
		require.NotNil(t, a)
		assert.True(t, a.OK(), "the last judgment is the good one")
		if r.Round == 0 {
			assert.Len(t, r.Assessments, 2, "the failed judgment stays in the trail, the new one is appended")
		} else {
			require.NotNil(t, byID[r.ParentID])
			assert.Equal(t, r.GroupID, byID[r.ParentID].GroupID)
		}
	}
}

func TestCollectRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	tasks := tasksOf(t)[:1]
	env := startEnv(t, tasks)
	pol := newPolicy(t, tasks, sloppyHalf)
	m := pol.model(t)
	_, err := rollout.Collect(ctx, m, env, tasks, rollout.WithStrategy(rollout.C))
	assert.ErrorContains(t, err, "needs a judge")
	_, err = rollout.Collect(ctx, m, env, tasks, rollout.WithGroupSize(0))
	assert.Error(t, err)
	_, err = rollout.Collect(ctx, m, env, nil)
	assert.ErrorContains(t, err, "no tasks")
	_, err = rollout.Collect(ctx, nil, env, tasks)
	assert.Error(t, err)
	bad := tasks[0]
	bad.Reward = "bleu"
	_, err = rollout.Collect(ctx, m, env, []suite.Task{bad})
	assert.ErrorContains(t, err, `unknown rule "bleu"`)
	other := tasks[0]
	other.Tools, other.Solution = []string{"browser"}, nil
	_, err = rollout.Collect(ctx, m, env, []suite.Task{other})
	assert.ErrorContains(t, err, "not started")
	_, err = rollout.ParseStrategy("x")
	assert.Error(t, err)

	// Without a store and without a judge, baseline still runs and reports.
	sum, err := rollout.Collect(ctx, m, env, tasks)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Total().Unjudged)

	// A cancelled context stops the collection with its error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = rollout.Collect(cctx, m, env, tasks)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestExportsOfACollection(t *testing.T) {
	ctx := context.Background()
	tasks := tasksOf(t)
	env := startEnv(t, tasks)
	store, _ := openStore(t)
	pol := newPolicy(t, tasks, sloppyHalf)
	_, err := rollout.Collect(ctx, pol.model(t), env, tasks, rollout.WithStrategy(rollout.U), rollout.WithGroupSize(2),
		rollout.WithJudge(rrm.NewHeuristic()), rollout.WithStore(store), rollout.WithModelName("scripted"))
	require.NoError(t, err)
	runs := list(t, store, nil)
	dir := t.TempDir()

	for _, f := range export.Formats() {
		path := filepath.Join(dir, "out."+string(f))
		out, err := os.Create(path)
		require.NoError(t, err)
		rep, err := export.Write(out, f, runs)
		require.NoError(t, err)
		require.NoError(t, out.Close())
		switch f {
		case export.Verl:
			rows, err := parquet.ReadFile[export.VerlRow](path)
			require.NoError(t, err)
			assert.Len(t, rows, len(tasks), "one prompt per task")
			for _, r := range rows {
				assert.NotEmpty(t, r.RewardModel.GroundTruth)
				assert.Equal(t, "system", r.Prompt[0].Role)
				assert.Equal(t, "user", r.Prompt[len(r.Prompt)-1].Role)
			}
		case export.ART:
			assert.Equal(t, len(tasks), rep.Groups)
			b, _ := os.ReadFile(path)
			assert.Equal(t, len(tasks), strings.Count(string(b), "\n"))
			assert.Equal(t, len(tasks)*4, strings.Count(string(b), `"messages_and_choices"`), "2G trajectories per group")
		default:
			b, _ := os.ReadFile(path)
			assert.Equal(t, len(runs), strings.Count(string(b), "\n"), f)
		}
	}

	// A refined run's SFT line holds the critique once, as a system
	// message placed where the policy saw it.
	var buf bytes.Buffer
	_, err = export.Write(&buf, export.SFT, runs)
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.Contains(line, `"round":"1"`) {
			assert.Equal(t, 1, strings.Count(line, run.CritiquePrefix))
			assert.NotContains(t, line, "Critique of your reasoning so far")
		}
	}
}

// BenchmarkCollectorOverhead measures what the collector adds per rollout
// (agent loop, middleware recording, calculator, heuristic judge, rewards,
// SQLite store) on top of the policy server's own latency. The baseline
// makes the same model calls straight to the same server.
func BenchmarkCollectorOverhead(b *testing.B) {
	tasks, err := suite.Generate(suite.Arith, suite.Train, suite.WithCount(16))
	require.NoError(b, err)
	env, err := suite.StartEnv(context.Background(), tasks)
	require.NoError(b, err)
	defer env.Close()
	pol := newPolicyB(b, tasks)
	model := pol.model(b)
	store, err := audit.OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	require.NoError(b, err)
	defer store.Close()

	ctx := context.Background()
	// Baseline: the two model calls of each rollout, made directly.
	direct := func() time.Duration {
		start := time.Now()
		for _, tk := range tasks {
			directRollout(b, ctx, model, tk)
		}
		return time.Since(start)
	}
	var base, full time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base += direct()
		start := time.Now()
		_, err := rollout.Collect(ctx, model, env, tasks, rollout.WithJudge(rrm.NewHeuristic()), rollout.WithStore(store),
			rollout.WithTag(strconv.Itoa(i)), rollout.WithModelName("bench"))
		full += time.Since(start)
		require.NoError(b, err)
	}
	perRollout := float64(full.Nanoseconds()) / float64(b.N*len(tasks))
	perBase := float64(base.Nanoseconds()) / float64(b.N*len(tasks))
	b.ReportMetric(perRollout/1e3, "µs/rollout")
	b.ReportMetric(perBase/1e3, "µs/policy-only")
	b.ReportMetric(perRollout/perBase, "x-policy-latency")
}

// TestWebSuiteWithChromium collects Reagent-C rollouts on the web suite:
// the agent drives a real Chromium over the suite's local site.
func TestWebSuiteWithChromium(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		if os.Getenv("REAGENT_SKIP_BROWSER") == "1" {
			t.Skip("REAGENT_SKIP_BROWSER=1")
		}
		t.Fatal("the web suite needs Chromium (apt-get install -y chromium); REAGENT_SKIP_BROWSER=1 skips this test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tasks, err := suite.Generate(suite.Web, suite.Test, suite.WithCount(2), suite.WithSeed(2))
	require.NoError(t, err)
	env := startEnv(t, tasks)
	store, _ := openStore(t)
	pol := newPolicy(t, tasks, func(suite.Task) bool { return true })
	pol.site = env.SiteURL
	sum, err := rollout.Collect(ctx, pol.model(t), env, tasks, rollout.WithStrategy(rollout.C), rollout.WithRefineBelow(reagent.RefineAlways),
		rollout.WithJudge(rrm.NewHeuristic()), rollout.WithStore(store), rollout.WithModelName("scripted"), rollout.WithConcurrency(2))
	require.NoError(t, err)
	tot := sum.Total()
	assert.Equal(t, 0.0, tot.FirstSuccess, "every first answer stops early")
	assert.Equal(t, 1.0, tot.FinalSuccess, "every refined answer follows the links to the end")
	for _, r := range list(t, store, nil) {
		calls := r.ToolCalls()
		if r.Round == 1 {
			require.NotEmpty(t, calls)
			assert.Contains(t, calls[0].Observation, "Title: "+suite.SiteTitle, "the real page")
			assert.Contains(t, calls[len(calls)-1].Observation, r.Metadata[reagent.MetaAnswer])
		}
	}
}

// TestReagentCResumesUnflaggedAnswers: a Reagent-C collection run again
// finds every chain done, the answers it did not refine included, and
// calls the policy no more; the summary reports the same choice.
func TestReagentCResumesUnflaggedAnswers(t *testing.T) {
	ctx := context.Background()
	tasks := tasksOf(t)
	env := startEnv(t, tasks)
	store, _ := openStore(t)
	pol := newPolicy(t, tasks, sloppyHalf)
	opts := []rollout.Option{rollout.WithStrategy(rollout.C), rollout.WithJudge(rrm.NewHeuristic()),
		rollout.WithStore(store), rollout.WithModelName("scripted")}
	first, err := rollout.Collect(ctx, pol.model(t), env, tasks, opts...)
	require.NoError(t, err)
	f := first.Total()
	require.Positive(t, f.NotFlagged)
	require.Positive(t, f.Refined)

	before := pol.calls.Load()
	again, err := rollout.Collect(ctx, pol.model(t), env, tasks, opts...)
	require.NoError(t, err)
	a := again.Total()
	assert.Equal(t, before, pol.calls.Load(), "nothing run again")
	assert.Equal(t, a.Samples, a.Resumed)
	assert.Equal(t, f.NotFlagged, a.NotFlagged)
	assert.Equal(t, f.Refined, a.Refined)
	assert.Equal(t, f.FinalSuccess, a.FinalSuccess)
}

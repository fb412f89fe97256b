package export_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/export"
	"github.com/reagent-go/reagent/trajectory"
)

// production turns collected runs into what a service records: no
// reference answer, no rule reward, no rollout group; the heuristic RRM's
// judgment stays. One run has no judgment, one a failed judgment.
func production(t *testing.T) []*trajectory.Trajectory {
	t.Helper()
	var out []*trajectory.Trajectory
	for i, r := range collected(t) {
		p := r.Clone()
		p.GroupID = ""
		for _, k := range []string{reagent.MetaAnswer, reagent.MetaRuleReward, reagent.MetaRule, reagent.MetaLambda, reagent.MetaSuite, reagent.MetaTask} {
			delete(p.Metadata, k)
		}
		p.Metadata["customer"] = []string{"acme", "globex"}[i%2]
		out = append(out, p)
	}
	unjudged := out[0].Clone()
	unjudged.ID, unjudged.Assessments = "unjudged", nil
	failed := out[1].Clone()
	failed.ID = "judge-failed"
	failed.Assessments = append(failed.Assessments, trajectory.Assessment{Status: trajectory.AssessmentError, Error: "judge timeout"})
	return append(out, unjudged, failed)
}

func lines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		out = append(out, m)
	}
	return out
}

func TestProductionRunsBecomeTrainingData(t *testing.T) {
	runs := production(t)
	score := func(tr *trajectory.Trajectory) float64 { return tr.Assessments[len(tr.Assessments)-1].Score }

	t.Run("art grouped by task", func(t *testing.T) {
		var buf bytes.Buffer
		rep, err := export.Write(&buf, export.ART, runs)
		require.NoError(t, err)
		assert.Equal(t, 6, rep.Runs)
		assert.Equal(t, 4, rep.FromRRM)
		assert.Equal(t, 1, rep.NoJudgment)
		assert.Equal(t, 1, rep.JudgeFailed)
		// Two questions, each asked twice (first attempt and refinement).
		assert.Equal(t, 2, rep.Groups)
		assert.Zero(t, rep.Singletons)
		assert.Contains(t, rep.String(), "4 rewarded by their RRM score alone")
		assert.Contains(t, rep.String(), "1 with neither a reference answer nor an RRM judgment")
		assert.Contains(t, rep.String(), "1 without a reference answer whose judgment failed")
		groups := lines(t, buf.Bytes())
		require.Len(t, groups, 2)
		byID := map[string]*trajectory.Trajectory{}
		for _, r := range runs {
			byID[r.ID] = r
		}
		for _, g := range groups {
			trs := g["trajectories"].([]any)
			require.Len(t, trs, 2)
			for _, x := range trs {
				at := x.(map[string]any)
				md := at["metadata"].(map[string]any)
				assert.Equal(t, export.SourceRRM, md["reward_source"])
				assert.Equal(t, score(byID[md["trajectory_id"].(string)]), at["reward"])
			}
		}
	})

	t.Run("art grouped by a metadata key", func(t *testing.T) {
		var buf bytes.Buffer
		rep, err := export.Write(&buf, export.ART, runs, export.WithGroupBy("customer"))
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Groups)
		for _, g := range lines(t, buf.Bytes()) {
			customers := map[any]bool{}
			for _, x := range g["trajectories"].([]any) {
				customers[x.(map[string]any)["metadata"].(map[string]any)["customer"]] = true
			}
			assert.Len(t, customers, 1)
		}
	})

	t.Run("openrlhf", func(t *testing.T) {
		var buf bytes.Buffer
		rep, err := export.Write(&buf, export.OpenRLHF, runs)
		require.NoError(t, err)
		assert.Equal(t, 6, rep.Records, "every run is a prompt; the reward is left off where there is none")
		n := 0
		for _, l := range lines(t, buf.Bytes()) {
			if l["reward"] != nil {
				n++
				assert.Equal(t, export.SourceRRM, l["reward_source"])
				assert.Equal(t, "", l["label"])
			}
		}
		assert.Equal(t, 4, n)
	})

	t.Run("verl reward model style", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "prod.parquet")
		f, err := os.Create(path)
		require.NoError(t, err)
		rep, err := export.Write(f, export.Verl, runs)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		assert.Equal(t, 2, rep.Records, "one row per question")
		assert.Equal(t, 2, rep.FromRRM)
		rows, err := parquet.ReadFile[export.VerlRow](path)
		require.NoError(t, err)
		for _, r := range rows {
			assert.Equal(t, "model", r.RewardModel.Style)
			assert.Equal(t, "", r.RewardModel.GroundTruth)
			assert.Equal(t, export.SourceRRM, r.ExtraInfo.RewardSource)
		}
	})

	t.Run("sft of high-scoring runs", func(t *testing.T) {
		best := 0.0
		for _, r := range runs[:4] {
			best = max(best, score(r))
		}
		var buf bytes.Buffer
		rep, err := export.Write(&buf, export.SFT, runs, export.WithMinReward(best))
		require.NoError(t, err)
		assert.Equal(t, 1, rep.NoJudgment)
		assert.Equal(t, 1, rep.JudgeFailed)
		assert.Equal(t, rep.Records+rep.BelowMin, 4)
		require.Positive(t, rep.Records)
		for _, l := range lines(t, buf.Bytes()) {
			assert.Equal(t, export.SourceRRM, l["reward_source"])
			assert.GreaterOrEqual(t, l["reward"].(float64), best)
		}
	})

	t.Run("without rrm rewards", func(t *testing.T) {
		var buf bytes.Buffer
		_, err := export.Write(&buf, export.ART, runs, export.WithoutRRMRewards())
		require.NoError(t, err)
		assert.Zero(t, buf.Len(), "no run has a rule reward")
	})
}

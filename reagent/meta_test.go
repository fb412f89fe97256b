package reagent_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/trajectory"
)

// legacyRun is a run as the rollout collector stored it before
// Trajectory.Training existed: its rewards as strings in the metadata.
const legacyRun = `{"schema_version":1,"id":"r1","task":"What is 2+2?","agent":"a","steps":[],
"final_answer":"4","status":"finished","started_at":"2026-01-01T00:00:00Z",
"assessments":[{"judge":"heuristic","status":"ok","score":0.5,"steps":0,"latency_ns":0,"created_at":"2026-01-01T00:00:00Z"}],
"metadata":{"suite":"arith","task":"t1","rule":"numeric","lambda":"0.3","rule_reward":"1","reward":"1.15","rrm_score":"0.5","reward_status":"ok"}}`

func TestMigrationReaderMovesStringRewardsIntoTraining(t *testing.T) {
	tr, err := reagent.ReadTrajectory([]byte(legacyRun))
	require.NoError(t, err)
	require.NotNil(t, tr.Training)
	assert.Equal(t, "numeric", tr.Training.Rule)
	assert.Equal(t, 1.0, tr.Training.RuleReward)
	assert.Equal(t, 0.3, tr.Training.Lambda)
	require.NotNil(t, tr.Training.Reward)
	assert.Equal(t, 1.15, *tr.Training.Reward)
	require.NotNil(t, tr.Training.Score)
	assert.Equal(t, 0.5, *tr.Training.Score)
	assert.Equal(t, trajectory.RewardOK, tr.Training.Status)
	for _, k := range []string{reagent.MetaRuleReward, reagent.MetaLambda, reagent.MetaReward, reagent.MetaScore, reagent.MetaRewardStatus} {
		assert.NotContains(t, tr.Metadata, k, "moved, not copied")
	}
	assert.Equal(t, "arith", tr.Metadata[reagent.MetaSuite], "identifiers stay")

	// The migrated run writes the typed form and reads back the same.
	data, err := trajectory.Marshal(tr)
	require.NoError(t, err)
	back, err := reagent.ReadTrajectory(data)
	require.NoError(t, err)
	assert.Equal(t, tr.Training, back.Training)
	assert.False(t, reagent.MigrateTraining(back), "nothing left to migrate")

	// Reward reads both forms alike: R = 1 + 0.3·0.5.
	old, err := trajectory.Unmarshal([]byte(legacyRun))
	require.NoError(t, err)
	for _, run := range []*trajectory.Trajectory{old, tr} {
		r, ok := reagent.Reward(run, reward.NewCombiner(), false)
		require.True(t, ok)
		assert.InDelta(t, 1.15, r.Reward, 1e-12)
	}
	typed, ok := reagent.TrainingOf(old)
	require.True(t, ok)
	assert.Equal(t, *tr.Training, typed)
}

func TestTrainingOfWithoutRewards(t *testing.T) {
	_, ok := reagent.TrainingOf(&trajectory.Trajectory{Metadata: map[string]string{reagent.MetaRuleReward: "NaN"}})
	assert.False(t, ok, "a NaN rule reward is no reward")
	_, ok = reagent.TrainingOf(nil)
	assert.False(t, ok)
	tr := &trajectory.Trajectory{Metadata: map[string]string{reagent.MetaRuleReward: "0", reagent.MetaReward: "x"}}
	got, ok := reagent.TrainingOf(tr)
	require.True(t, ok)
	assert.Nil(t, got.Reward, "an unreadable reward is absent, not 0")
	assert.False(t, reagent.MigrateTraining(&trajectory.Trajectory{}))
}

func TestRewardPrefersTheTypedField(t *testing.T) {
	one := 1.0
	tr := &trajectory.Trajectory{
		Training:    &trajectory.Training{RuleReward: 0, Lambda: 0.5, Reward: &one},
		Metadata:    map[string]string{reagent.MetaRuleReward: "1", reagent.MetaLambda: "0"},
		Assessments: []trajectory.Assessment{{Status: trajectory.AssessmentOK, Score: 0.4}},
	}
	r, ok := reagent.Reward(tr, reward.NewCombiner(), false)
	require.True(t, ok)
	assert.InDelta(t, 0.2, r.Reward, 1e-12, "R = 0 + 0.5·0.4 from Training, not the stale strings")
}

func FuzzReadTrajectory(f *testing.F) {
	f.Add([]byte(legacyRun))
	f.Add([]byte(`{"schema_version":1,"metadata":{"rule_reward":"1e308","lambda":"-Inf"}}`))
	f.Add([]byte(`{"schema_version":1,"training":{"rule_reward":1,"lambda":0.3}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := reagent.ReadTrajectory(data)
		if err != nil {
			return
		}
		if tr.Training == nil {
			return
		}
		data2, err := trajectory.Marshal(tr)
		require.NoError(t, err)
		back, err := reagent.ReadTrajectory(data2)
		require.NoError(t, err)
		assert.Equal(t, tr.Training, back.Training)
	})
}

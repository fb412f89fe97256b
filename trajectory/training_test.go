package trajectory

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTrainingClonesDeepAndRoundTrips(t *testing.T) {
	r, s := 1.15, 0.5
	tr := &Trajectory{SchemaVersion: SchemaVersion, ID: "x", Status: StatusFinished,
		Training: &Training{Rule: "numeric", RuleReward: 1, Lambda: 0.3, Reward: &r, Score: &s, Status: RewardOK}}
	c := tr.Clone()
	*c.Training.Reward, *c.Training.Score, c.Training.Lambda = 9, 9, 9
	assert.Equal(t, 1.15, *tr.Training.Reward, "the clone does not share the reward")
	assert.Equal(t, 0.5, *tr.Training.Score)
	assert.Equal(t, 0.3, tr.Training.Lambda)
	assert.Nil(t, (*Training)(nil).Clone())

	data, err := Marshal(tr)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"training":{"rule":"numeric","rule_reward":1,"lambda":0.3,"reward":1.15,"rrm_score":0.5,"reward_status":"ok"}`)
	back, err := Unmarshal(data)
	require.NoError(t, err)
	assert.Equal(t, tr.Training, back.Training)

	// A run without rewards writes no "training" key: older readers see
	// nothing new.
	data, err = Marshal(&Trajectory{ID: "y"})
	require.NoError(t, err)
	assert.NotContains(t, string(data), "training")
}

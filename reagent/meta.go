package reagent

import (
	"math"
	"strconv"

	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/trajectory"
)

// Metadata keys written by the rollout collector on every stored run: the
// identifiers of the sample. Its rewards are typed, in
// trajectory.Trajectory.Training.
const (
	MetaSuite    = "suite"    // suite name
	MetaTask     = "task"     // task id
	MetaSplit    = "split"    // train or test
	MetaStrategy = "strategy" // baseline, c, r or u
	MetaModel    = "model"    // the policy model's name
	MetaSample   = "sample"   // sample index within the group
	MetaRound    = "round"    // 0 for a first attempt, 1… for refinements
	MetaAnswer   = "answer"   // the reference answer (never shown to the judge)
	MetaRule     = "rule"     // the rule reward's name
)

// Metadata keys under which runs collected before Trajectory.Training
// existed kept their rewards as strings. TrainingOf and MigrateTraining
// read them; nothing writes them any more.
const (
	MetaLambda = "lambda" // λ of the strategy's reward
	// MetaRuleReward is R_rule of the run's final answer.
	MetaRuleReward = "rule_reward"
	// MetaReward is the reward when the run was collected; absent when the
	// sample was dropped.
	MetaReward = "reward"
	// MetaRewardStatus is "ok", "rule-only", "dropped" or "failed".
	MetaRewardStatus = "reward_status"
	// MetaScore is the RRM score when the run was collected, if judged.
	MetaScore = "rrm_score"
)

// TrainingOf returns the run's typed rewards: t.Training, or, for a run
// collected before it existed, the figures read back from the string
// metadata. It reports false for a run with neither (no rule reward).
func TrainingOf(t *trajectory.Trajectory) (trajectory.Training, bool) {
	if t == nil {
		return trajectory.Training{}, false
	}
	if t.Training != nil {
		return *t.Training.Clone(), true
	}
	return trainingFromMeta(t.Metadata)
}

func trainingFromMeta(md map[string]string) (trajectory.Training, bool) {
	rule, ok := parseNumber(md[MetaRuleReward])
	if !ok {
		return trajectory.Training{}, false
	}
	tr := trajectory.Training{Rule: md[MetaRule], RuleReward: rule, Status: trajectory.RewardStatus(md[MetaRewardStatus])}
	if l, ok := parseNumber(md[MetaLambda]); ok {
		tr.Lambda = l
	}
	if r, ok := parseNumber(md[MetaReward]); ok {
		tr.Reward = &r
	}
	if s, ok := parseNumber(md[MetaScore]); ok {
		tr.Score = &s
	}
	return tr, true
}

// parseNumber reads a finite float; anything else is absent.
func parseNumber(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// MigrateTraining moves the string reward metadata of a run collected
// before Trajectory.Training existed into the typed field, and removes the
// string keys it moved. It reports whether it changed t; a run that already
// has Training, or has no rule reward, is left as it is.
func MigrateTraining(t *trajectory.Trajectory) bool {
	if t == nil || t.Training != nil {
		return false
	}
	tr, ok := trainingFromMeta(t.Metadata)
	if !ok {
		return false
	}
	t.Training = &tr
	for _, k := range []string{MetaRuleReward, MetaLambda, MetaReward, MetaScore, MetaRewardStatus} {
		delete(t.Metadata, k)
	}
	return true
}

// ReadTrajectory is the migration reader: trajectory.Unmarshal, then
// MigrateTraining, so that a run stored with string reward metadata reads
// as one written today.
func ReadTrajectory(data []byte) (*trajectory.Trajectory, error) {
	t, err := trajectory.Unmarshal(data)
	if err != nil {
		return nil, err
	}
	MigrateTraining(t)
	return t, nil
}

// Reward recomputes a collected run's reward from its typed rewards (rule
// reward, λ; see TrainingOf) and its final assessment: R = R_rule +
// λ·score, with the combiner's policy for a failed judgment. The run's λ
// wins over the combiner's unless overrideLambda is set. A run that broke
// (Status.Broken: the model endpoint failed) is dropped whatever λ is. It
// reports false for a run without a rule reward.
func Reward(t *trajectory.Trajectory, c reward.Combiner, overrideLambda bool) (reward.Result, bool) {
	if t == nil {
		return reward.Result{}, false
	}
	if t.Status.Broken() {
		return reward.Result{Dropped: true, JudgeError: "the run failed: " + t.Error}, true
	}
	tr, ok := TrainingOf(t)
	if !ok {
		return reward.Result{}, false
	}
	if _, legacyLambda := parseNumber(t.Metadata[MetaLambda]); !overrideLambda && (t.Training != nil || legacyLambda) {
		c.Lambda = tr.Lambda
	}
	return c.Combine(tr.RuleReward, reward.FinalAssessment(t)), true
}

// RewardFunc adapts Reward to ppo.BuildGroups and the exports: it reports
// false for a dropped sample or one without a rule reward.
func RewardFunc(c reward.Combiner, overrideLambda bool) func(*trajectory.Trajectory) (float64, bool) {
	return func(t *trajectory.Trajectory) (float64, bool) {
		r, ok := Reward(t, c, overrideLambda)
		if !ok || r.Dropped {
			return 0, false
		}
		return r.Reward, true
	}
}

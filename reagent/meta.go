package reagent

import (
	"strconv"

	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/trajectory"
)

// Metadata keys written by the rollout collector on every stored run.
// Exports and training read them back.
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
	MetaLambda   = "lambda"   // λ of the strategy's reward
	// MetaRuleReward is R_rule of the run's final answer.
	MetaRuleReward = "rule_reward"
	// MetaReward is the reward when the run was collected; it is absent
	// when the sample was dropped. Exports recompute it with Reward, so a
	// later judgment of the run is taken into account.
	MetaReward = "reward"
	// MetaRewardStatus is "ok", "rule-only", "dropped" (no usable
	// judgment) or "failed" (the run broke).
	MetaRewardStatus = "reward_status"
	// MetaScore is the RRM score when the run was collected, if judged.
	MetaScore = "rrm_score"
)

// Reward recomputes a collected run's reward from its metadata (rule
// reward, λ) and its final assessment: R = R_rule + λ·score, with the
// combiner's policy for a failed judgment. λ in the metadata wins over the
// combiner's unless overrideLambda is set. A run that broke (status error
// or cancelled: the model endpoint failed) is dropped whatever λ is. It
// reports false for a run without a rule reward.
func Reward(t *trajectory.Trajectory, c reward.Combiner, overrideLambda bool) (reward.Result, bool) {
	if t == nil {
		return reward.Result{}, false
	}
	if t.Status.Broken() {
		return reward.Result{Dropped: true, JudgeError: "the run failed: " + t.Error}, true
	}
	rule, err := strconv.ParseFloat(t.Metadata[MetaRuleReward], 64)
	if err != nil {
		return reward.Result{}, false
	}
	if !overrideLambda {
		if l, err := strconv.ParseFloat(t.Metadata[MetaLambda], 64); err == nil {
			c.Lambda = l
		}
	}
	return c.Combine(rule, reward.FinalAssessment(t)), true
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

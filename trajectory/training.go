package trajectory

// RewardStatus says what became of a collected run's reward.
type RewardStatus string

// Reward statuses.
const (
	// RewardOK: the reward is R_rule + λ·score (or R_rule when λ is 0).
	RewardOK RewardStatus = "ok"
	// RewardRuleOnly: the judgment failed and the reward policy kept the
	// rule reward alone.
	RewardRuleOnly RewardStatus = "rule-only"
	// RewardDropped: the judgment failed and the sample was dropped.
	RewardDropped RewardStatus = "dropped"
	// RewardFailed: the run broke (Status.Broken); it carries no reward.
	RewardFailed RewardStatus = "failed"
)

// Training holds the reinforcement-learning quantities of a run collected
// for training or evaluation, typed: the rule reward, λ, the RRM score and
// the reward when the run was collected. Exports recompute the reward from
// RuleReward, Lambda and the run's latest assessment, so a later judgment
// is taken into account.
type Training struct {
	// Rule names the rule reward; RuleReward is its value for the run's
	// final answer.
	Rule       string  `json:"rule,omitempty"`
	RuleReward float64 `json:"rule_reward"`
	// Lambda is λ in R = R_rule + λ·score (0 for rule-only strategies).
	Lambda float64 `json:"lambda"`
	// Reward is R when the run was collected; nil when the sample was
	// dropped or the run broke.
	Reward *float64 `json:"reward,omitempty"`
	// Score is the RRM score when the run was collected; nil when it was
	// not judged or the judgment failed.
	Score  *float64     `json:"rrm_score,omitempty"`
	Status RewardStatus `json:"reward_status,omitempty"`
}

// Clone returns a deep copy (nil for nil).
func (t *Training) Clone() *Training {
	if t == nil {
		return nil
	}
	c := *t
	if t.Reward != nil {
		v := *t.Reward
		c.Reward = &v
	}
	if t.Score != nil {
		v := *t.Score
		c.Score = &v
	}
	return &c
}

package reward

import (
	"fmt"
	"math"

	"github.com/reagent-go/reagent/trajectory"
)

// DefaultLambda is the paper's weight of the RRM score in Reagent-R.
const DefaultLambda = 0.3

// JudgeErrorPolicy says what happens to a sample whose judgment failed (or
// is missing) when the reward needs an RRM score. A failed judgment never
// counts as a score of 0.
type JudgeErrorPolicy int

// Policies for failed judgments.
const (
	// Drop leaves the sample out of training.
	Drop JudgeErrorPolicy = iota
	// RuleOnly keeps the sample with the rule reward alone.
	RuleOnly
)

// String returns "drop" or "rule-only".
func (p JudgeErrorPolicy) String() string {
	switch p {
	case Drop:
		return "drop"
	case RuleOnly:
		return "rule-only"
	}
	return fmt.Sprintf("JudgeErrorPolicy(%d)", int(p))
}

// ParseJudgeErrorPolicy reads "drop" or "rule-only".
func ParseJudgeErrorPolicy(s string) (JudgeErrorPolicy, error) {
	switch s {
	case "drop":
		return Drop, nil
	case "rule-only", "rule_only", "ruleonly":
		return RuleOnly, nil
	}
	return Drop, fmt.Errorf("reward: unknown judge-error policy %q (want drop or rule-only)", s)
}

// Combiner computes the Reagent-R reward R = R_rule + λ·score.
type Combiner struct {
	// Lambda weighs the RRM score; 0 gives the rule reward alone and needs
	// no judgment.
	Lambda float64
	// OnJudgeError applies to samples without a usable score when Lambda > 0.
	OnJudgeError JudgeErrorPolicy
}

// CombinerOption configures NewCombiner.
type CombinerOption func(*Combiner)

// WithLambda sets λ (default 0.3).
func WithLambda(l float64) CombinerOption { return func(c *Combiner) { c.Lambda = l } }

// WithOnJudgeError sets the policy for failed judgments (default Drop).
func WithOnJudgeError(p JudgeErrorPolicy) CombinerOption {
	return func(c *Combiner) { c.OnJudgeError = p }
}

// NewCombiner returns a Combiner with λ = 0.3 and the Drop policy, changed
// by opts.
func NewCombiner(opts ...CombinerOption) Combiner {
	c := Combiner{Lambda: DefaultLambda, OnJudgeError: Drop}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Result is one sample's reward and how it was reached.
type Result struct {
	// Reward is R_rule + λ·Score, or R_rule alone for a rule-only sample.
	// It is meaningless when Dropped.
	Reward float64 `json:"reward"`
	Rule   float64 `json:"rule"`
	// Score is the RRM score; valid only when Judged.
	Score  float64 `json:"score,omitempty"`
	Judged bool    `json:"judged"`
	// JudgeError says why there was no usable score (a failed or missing
	// judgment), even when λ = 0 made it irrelevant.
	JudgeError string `json:"judge_error,omitempty"`
	Dropped    bool   `json:"dropped,omitempty"`
	RuleOnly   bool   `json:"rule_only,omitempty"`
}

// Combine computes one sample's reward from its rule reward and its
// assessment (nil when it has none).
func (c Combiner) Combine(rule float64, a *trajectory.Assessment) Result {
	r := Result{Rule: rule}
	switch {
	case a == nil:
		r.JudgeError = "no assessment"
	case !a.OK():
		r.JudgeError = "judge error: " + a.Error
		if a.Error == "" {
			r.JudgeError = "judge error"
		}
	case math.IsNaN(a.Score) || a.Score < 0 || a.Score > 1:
		r.JudgeError = fmt.Sprintf("assessment score %v outside [0,1]", a.Score)
	default:
		r.Judged, r.Score = true, a.Score
	}
	switch {
	case r.Judged:
		r.Reward = rule + c.Lambda*r.Score
	case c.Lambda == 0:
		r.Reward = rule
	case c.OnJudgeError == RuleOnly:
		r.Reward, r.RuleOnly = rule, true
	default:
		r.Dropped = true
	}
	return r
}

// FinalAssessment returns the run's last assessment of the whole
// trajectory (partial ones, made for gating or critique injection, are
// skipped), or nil.
func FinalAssessment(t *trajectory.Trajectory) *trajectory.Assessment {
	if t == nil {
		return nil
	}
	for i := len(t.Assessments) - 1; i >= 0; i-- {
		if !t.Assessments[i].Partial {
			a := t.Assessments[i]
			return &a
		}
	}
	return nil
}

// Counts tallies the results of a batch, so that dropped and rule-only
// samples are reported, never hidden.
type Counts struct {
	Samples     int `json:"samples"`
	Judged      int `json:"judged"`
	JudgeErrors int `json:"judge_errors"`
	Dropped     int `json:"dropped"`
	RuleOnly    int `json:"rule_only"`
}

// Add counts r.
func (c *Counts) Add(r Result) {
	c.Samples++
	if r.Judged {
		c.Judged++
	} else {
		c.JudgeErrors++
	}
	if r.Dropped {
		c.Dropped++
	}
	if r.RuleOnly {
		c.RuleOnly++
	}
}

// String is a one-line summary.
func (c Counts) String() string {
	return fmt.Sprintf("%d samples: %d judged, %d without a usable judgment (%d dropped, %d rule-only)",
		c.Samples, c.Judged, c.JudgeErrors, c.Dropped, c.RuleOnly)
}

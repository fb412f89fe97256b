package ppo

import (
	"errors"
	"fmt"
	"math"

	"github.com/reagent-go/reagent/trajectory"
)

// Algorithms the backend trains with.
const (
	GRPO = "grpo"
	PPO  = "ppo"
)

// Sample is one multi-turn chat with its reward. Trainable marks, per
// message, the assistant messages whose tokens get loss; when nil the backend
// trains every assistant message.
type Sample struct {
	Messages  []trajectory.Message `json:"messages"`
	Trainable []bool               `json:"trainable,omitempty"`
	Reward    float64              `json:"reward"`
	// TrajectoryID names the source run; the backend ignores it.
	TrajectoryID string `json:"trajectory_id,omitempty"`
}

// Group is a set of samples that share one GRPO baseline (the answers to one
// task, or a Reagent-U pool of first-round and refined answers).
type Group struct {
	ID      string   `json:"id,omitempty"`
	Samples []Sample `json:"samples"`
}

// TrainConfig holds the per-step hyper-parameters. Zero fields (nil
// pointers) take the backend's defaults: lr from `serve --lr`, 1 epoch, one
// minibatch, clip ε 0.2, dual clip 3, KL β 0.001 (GRPO) or 0.01 (PPO),
// temperature 1, gradient clipping at 1, γ 1, λ 0.95, value clip 0.2.
type TrainConfig struct {
	LR             float64  `json:"lr,omitempty"`
	Epochs         int      `json:"epochs,omitempty"`
	MinibatchSize  int      `json:"minibatch_size,omitempty"`
	MicroBatchSize int      `json:"micro_batch_size,omitempty"`
	ClipEps        float64  `json:"clip_eps,omitempty"`
	DualClip       *float64 `json:"dual_clip,omitempty"`
	KLCoef         *float64 `json:"kl_coef,omitempty"`
	// Temperature is the sampling temperature of the rollouts; log-probs are
	// computed from logits divided by it.
	Temperature      float64  `json:"temperature,omitempty"`
	MaxGradNorm      *float64 `json:"max_grad_norm,omitempty"`
	WeightDecay      float64  `json:"weight_decay,omitempty"`
	Gamma            *float64 `json:"gamma,omitempty"`
	Lambda           *float64 `json:"lam,omitempty"`
	ValueClip        *float64 `json:"value_clip,omitempty"`
	VFCoef           *float64 `json:"vf_coef,omitempty"`
	EntropyCoef      float64  `json:"entropy_coef,omitempty"`
	WhitenAdvantages *bool    `json:"whiten_advantages,omitempty"`
	// Truncate cuts a sample longer than the model's context at the limit
	// instead of having the backend refuse the request; the count comes
	// back in Metrics.TruncatedSamples.
	Truncate  bool   `json:"truncate,omitempty"`
	MaxSeqLen int    `json:"max_seq_len,omitempty"`
	Seed      *int64 `json:"seed,omitempty"`
}

// TrainRequest is the body of POST /v1/train.
type TrainRequest struct {
	Algo   string       `json:"algo,omitempty"`
	Groups []Group      `json:"groups"`
	Config *TrainConfig `json:"config,omitempty"`
}

// Metrics are what one training step reports.
type Metrics struct {
	Step             int     `json:"step"`
	Algo             string  `json:"algo"`
	PolicyLoss       float64 `json:"policy_loss"`
	ValueLoss        float64 `json:"value_loss"`
	KL               float64 `json:"kl"`
	KLK1             float64 `json:"kl_k1"`
	ClipFraction     float64 `json:"clip_fraction"`
	Entropy          float64 `json:"entropy"`
	RatioMean        float64 `json:"ratio_mean"`
	GradNorm         float64 `json:"grad_norm"`
	GradNormMax      float64 `json:"grad_norm_max"`
	OptimizerSteps   int     `json:"optimizer_steps"`
	SkippedSteps     int     `json:"skipped_steps"`
	Samples          int     `json:"samples"`
	TruncatedSamples int     `json:"truncated_samples"`
	Groups           int     `json:"groups"`
	Tokens           int     `json:"tokens"`
	TrainableTokens  int     `json:"trainable_tokens"`
	TokensPerSecond  float64 `json:"tokens_per_second"`
	RewardMean       float64 `json:"reward_mean"`
	ElapsedSeconds   float64 `json:"elapsed_s"`
	LR               float64 `json:"lr"`
}

// StepInfo is the backend's training state (GET /v1/step).
type StepInfo struct {
	Step           int    `json:"step"`
	OptimizerSteps int    `json:"optimizer_steps"`
	Algo           string `json:"algo"`
	Model          string `json:"model"`
	Kind           string `json:"kind"`
	Device         string `json:"device"`
}

// Health is the answer of GET /health.
type Health struct {
	StepInfo
	Status        string  `json:"status"`
	UptimeSeconds float64 `json:"uptime_s"`
}

// CheckpointInfo says where a checkpoint was written and at which step.
type CheckpointInfo struct {
	Dir   string `json:"dir"`
	Step  int    `json:"step"`
	Algo  string `json:"algo"`
	Model string `json:"model"`
}

var roles = map[string]bool{"system": true, "user": true, "assistant": true, "tool": true}

// Validate checks a sample the way the backend does, so a bad sample is
// caught before anything is sent.
func (s Sample) Validate() error {
	if math.IsNaN(s.Reward) || math.IsInf(s.Reward, 0) {
		return fmt.Errorf("reward %v is not finite", s.Reward)
	}
	if len(s.Messages) == 0 {
		return errors.New("no messages")
	}
	if s.Trainable != nil && len(s.Trainable) != len(s.Messages) {
		return fmt.Errorf("trainable has %d entries for %d messages", len(s.Trainable), len(s.Messages))
	}
	train := false
	for i, m := range s.Messages {
		if !roles[m.Role] {
			return fmt.Errorf("messages[%d]: role %q is not system, user, assistant or tool", i, m.Role)
		}
		if len(m.ToolCalls) > 0 && m.Role != "assistant" {
			return fmt.Errorf("messages[%d]: only assistant messages carry tool calls", i)
		}
		for j, c := range m.ToolCalls {
			if c.Name == "" {
				return fmt.Errorf("messages[%d].tool_calls[%d]: empty tool name", i, j)
			}
		}
		t := m.Role == "assistant"
		if s.Trainable != nil {
			if s.Trainable[i] && m.Role != "assistant" {
				return fmt.Errorf("messages[%d]: a %s message cannot be trainable", i, m.Role)
			}
			t = s.Trainable[i]
		}
		train = train || t
	}
	if !train {
		return errors.New("no trainable (assistant) message")
	}
	return nil
}

// Validate checks the whole request; the client calls it before sending.
func (r TrainRequest) Validate() error {
	if r.Algo != "" && r.Algo != GRPO && r.Algo != PPO {
		return fmt.Errorf("algo %q: want %q or %q", r.Algo, GRPO, PPO)
	}
	if len(r.Groups) == 0 {
		return errors.New("no groups")
	}
	for gi, g := range r.Groups {
		if len(g.Samples) == 0 {
			return fmt.Errorf("groups[%d]: no samples", gi)
		}
		for si, s := range g.Samples {
			if err := s.Validate(); err != nil {
				return fmt.Errorf("groups[%d].samples[%d]: %w", gi, si, err)
			}
		}
	}
	return nil
}

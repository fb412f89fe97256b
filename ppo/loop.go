package ppo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/reagent-go/reagent/trajectory"
)

// RolloutFunc runs the agent for one training step and returns its
// trajectories (with GroupIDs tying the samples of one task together). It
// should sample from the backend's own policy (its OpenAI API at
// Client.BaseURL()+"/v1") so the data is on-policy.
type RolloutFunc func(ctx context.Context, step int) ([]*trajectory.Trajectory, error)

// LoopConfig configures Loop.
type LoopConfig struct {
	// Steps is the number of training steps (required, > 0).
	Steps int
	// Algo is GRPO or PPO; empty uses the backend's default.
	Algo string
	// Train holds the per-step hyper-parameters (nil: backend defaults).
	Train *TrainConfig
	// Rollout produces each step's trajectories (required).
	Rollout RolloutFunc
	// Reward scores a trajectory, or reports that it has no reward (required).
	Reward RewardFunc
	// CheckpointEvery saves a checkpoint every so many steps and after the
	// last one (0: never) into CheckpointDir (empty: the backend's
	// --checkpoint folder).
	CheckpointEvery int
	CheckpointDir   string
	// MinSamples skips a step with fewer usable samples (default 1).
	MinSamples int
	// OnStep, when set, sees each step's result as soon as it is known.
	OnStep func(StepResult)
	// Logger receives one line per step (default slog.Default()).
	Logger *slog.Logger
}

// StepResult is what one iteration of Loop did.
type StepResult struct {
	// Step is the loop's iteration (0-based); Metrics.Step is the backend's
	// step count after training.
	Step    int
	Report  Report
	Metrics Metrics
	// Skipped is set when too few samples were usable to train.
	Skipped bool
}

// Loop runs rollout → reward → group → train for cfg.Steps steps against
// the backend behind c, and returns every step's result. It stops at the
// first rollout or training error (wrapped with the step number).
func Loop(ctx context.Context, c *Client, cfg LoopConfig) ([]StepResult, error) {
	if c == nil || cfg.Rollout == nil || cfg.Reward == nil {
		return nil, errors.New("ppo: Loop needs a client, a Rollout and a Reward function")
	}
	if cfg.Steps <= 0 {
		return nil, fmt.Errorf("ppo: Loop: Steps must be positive, got %d", cfg.Steps)
	}
	if cfg.MinSamples <= 0 {
		cfg.MinSamples = 1
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	var out []StepResult
	for step := 0; step < cfg.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("ppo: loop stopped before step %d: %w", step, err)
		}
		trajs, err := cfg.Rollout(ctx, step)
		if err != nil {
			return out, fmt.Errorf("ppo: rollout of step %d: %w", step, err)
		}
		groups, rep := BuildGroups(trajs, cfg.Reward)
		res := StepResult{Step: step, Report: rep}
		if rep.Samples < cfg.MinSamples {
			res.Skipped = true
			log.Warn("ppo: step skipped: too few usable samples", "step", step, "samples", rep.Samples, "dropped", rep.Dropped())
		} else {
			m, err := c.Train(ctx, TrainRequest{Algo: cfg.Algo, Groups: groups, Config: cfg.Train})
			if err != nil {
				return out, fmt.Errorf("ppo: training step %d: %w", step, err)
			}
			res.Metrics = m
			log.Info("ppo: step", "step", step, "backend_step", m.Step, "reward", m.RewardMean, "loss", m.PolicyLoss,
				"kl", m.KL, "samples", rep.Samples, "dropped", rep.Dropped(), "tokens_per_s", m.TokensPerSecond)
		}
		out = append(out, res)
		if cfg.OnStep != nil {
			cfg.OnStep(res)
		}
		last := step == cfg.Steps-1
		if cfg.CheckpointEvery > 0 && ((step+1)%cfg.CheckpointEvery == 0 || last) {
			if _, err := c.Checkpoint(ctx, cfg.CheckpointDir); err != nil {
				return out, fmt.Errorf("ppo: checkpoint after step %d: %w", step, err)
			}
		}
	}
	return out, nil
}

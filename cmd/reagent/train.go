package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/reagent-go/reagent/agents/tinylm"
	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/progress"
	"github.com/reagent-go/reagent/ppo"
	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/reagent/rollout"
	"github.com/reagent-go/reagent/reagent/suite"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// trainFlags are reagent train's settings.
type trainFlags struct {
	backend, init, out, suites, strategy, algo, device, metrics, db, python, model string
	steps, tasks, pool, group, maxSteps, seed, loraRank, threads, maxTokens        int
	lr, lambda, temperature, topP                                                  float64
}

// runTrain fine-tunes the policy: each iteration collects rollouts with the
// Go agent against the backend's own policy server, judges and rewards
// them, and sends the groups to the backend for a PPO or GRPO update.
func runTrain(ctx context.Context, c *cli, args []string) (err error) {
	var f trainFlags
	fs := newFlags(c, "train", "train [--backend local|URL] [--model tiny|DIR|FILE.gguf] [--init DIR] [--out DIR] [--suites arith] [--strategy baseline|r|u] [--algo grpo|ppo] [--steps N] [--tasks N] [--group G] [--metrics FILE]")
	fs.StringVar(&f.backend, "backend", "local", `"local" starts the Python backend itself (pip install -r ppo/backend/requirements.txt); or the URL of a running one`)
	fs.StringVar(&f.model, "model", "tiny", `"tiny" (the embedded policy), a Hugging Face model folder or a GGUF file (trained with LoRA); local backend only`)
	fs.IntVar(&f.loraRank, "lora-rank", 8, "LoRA rank for --model DIR|FILE.gguf (0 trains every weight)")
	fs.IntVar(&f.threads, "threads", 0, "torch CPU threads of the local backend (0: torch's default)")
	fs.IntVar(&f.maxTokens, "max-tokens", 160, "tokens per model reply in the rollouts")
	fs.StringVar(&f.init, "init", "", "tiny model folder to start from (default: the embedded policy); local backend only")
	fs.StringVar(&f.out, "out", "reagent-policy", "folder for the trained weights (tiny: loadable by reagent demo --model; else the backend's checkpoint: adapter/ or model/)")
	fs.StringVar(&f.suites, "suites", "arith", "comma-separated training suites (train split)")
	fs.StringVar(&f.strategy, "strategy", "r", "reward: baseline (rule only), r (rule + λ·RRM score) or u (two-stage Reagent-U groups)")
	fs.StringVar(&f.algo, "algo", "grpo", "grpo or ppo")
	fs.StringVar(&f.device, "device", "auto", "cpu, cuda or auto: the GPU when the local backend's torch sees one, else the CPU")
	fs.StringVar(&f.metrics, "metrics", "train-metrics.jsonl", "append one JSON line of metrics per step to this file (reagent ui --train-metrics reads it)")
	fs.StringVar(&f.db, "db", "", "also keep every rollout in this audit store")
	fs.StringVar(&f.python, "python", ppo.Python(), "Python with torch, for the local backend (default: $REAGENT_PYTHON, else python3)")
	fs.IntVar(&f.steps, "steps", 5, "training iterations")
	fs.IntVar(&f.tasks, "tasks", 4, "tasks per iteration")
	fs.IntVar(&f.pool, "task-pool", 0, "train on the first N tasks of the split only (0: all)")
	fs.IntVar(&f.group, "group", 4, "samples per task (the GRPO group; Reagent-U doubles it)")
	fs.IntVar(&f.maxSteps, "max-steps", 4, "agent steps per rollout")
	fs.IntVar(&f.seed, "seed", 1, "seed for task order and the backend")
	fs.Float64Var(&f.lr, "lr", 2e-5, "learning rate")
	fs.Float64Var(&f.lambda, "lambda", 0.3, "λ in R = R_rule + λ·score (strategies r and u)")
	fs.Float64Var(&f.temperature, "temperature", 0.7, "sampling temperature of the rollouts")
	fs.Float64Var(&f.topP, "top-p", 0.95, "top-p of the rollouts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	strategy, err := rollout.ParseStrategy(f.strategy)
	if err != nil || strategy == rollout.C {
		return usagef("train: --strategy must be baseline, r or u (Reagent-C needs no training: use reagent rollout --strategy c)")
	}
	if f.algo != "grpo" && f.algo != "ppo" {
		return usagef("train: --algo must be grpo or ppo")
	}
	if f.init != "" && f.model != "tiny" {
		return usagef("train: --init starts the tiny model only; --model %s starts from its own weights", f.model)
	}
	if f.steps < 1 || f.tasks < 1 || f.group < 1 || f.maxTokens < 1 {
		return usagef("train: --steps, --tasks, --group and --max-tokens must be at least 1")
	}

	var tasks []suite.Task
	for _, name := range strings.Split(f.suites, ",") {
		ts, err := suite.Generate(strings.TrimSpace(name), suite.Train, suite.WithSeed(int64(f.seed)))
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		tasks = append(tasks, ts...)
	}
	if f.pool > 0 && f.pool < len(tasks) {
		tasks = tasks[:f.pool]
	}

	client, stop, err := startBackend(ctx, &f)
	if err != nil {
		return err
	}
	defer stop()

	store, closeStore, err := trainStore(ctx, f.db)
	if err != nil {
		return err
	}
	defer closeStore()

	env, err := suite.StartEnv(ctx, tasks)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer env.Close()

	health, err := client.Health(ctx)
	if err != nil {
		return fmt.Errorf("train: backend: %w", err)
	}
	modelName := health.Model
	llm, err := openai.New(openai.WithBaseURL(client.BaseURL()+"/v1"), openai.WithToken("local"), openai.WithModel(modelName))
	if err != nil {
		return fmt.Errorf("train: policy client: %w", err)
	}
	var judge rrm.Judge = rrm.NewHeuristic()
	comb := reward.NewCombiner(reward.WithLambda(f.lambda))
	if strategy == rollout.Baseline {
		comb = reward.NewCombiner(reward.WithLambda(0))
	}
	metricsFile, err := os.OpenFile(f.metrics, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: metrics file: %w", err)
	}
	defer metricsFile.Close()
	traceOpts, flushTraces, err := tracing(ctx, c)
	if err != nil {
		return err
	}
	defer flushTraces()
	logger := slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	bar := progress.New(c.Stderr, f.steps, "train")

	var results []ppo.StepResult
	results, err = ppo.Loop(ctx, client, ppo.LoopConfig{
		Steps: f.steps,
		Algo:  f.algo,
		// Multi-turn runs (and Reagent-U's critique-conditioned ones) can
		// outgrow a small model's context: train on their first tokens.
		Train: &ppo.TrainConfig{LR: f.lr, Temperature: f.temperature, Truncate: true},
		Rollout: func(ctx context.Context, step int) ([]*trajectory.Trajectory, error) {
			batch := pickTasks(tasks, step, f.tasks)
			tag := fmt.Sprintf("train-%d-step-%d", f.seed, step)
			_, err := rollout.Collect(ctx, llm, env, batch,
				rollout.WithStrategy(strategy), rollout.WithGroupSize(f.group), rollout.WithLambda(f.lambda),
				rollout.WithMaxSteps(f.maxSteps), rollout.WithModelName(modelName), rollout.WithTag(tag),
				rollout.WithCallOptions(llms.WithTemperature(f.temperature), llms.WithTopP(f.topP), llms.WithMaxTokens(f.maxTokens)),
				rollout.WithStore(store), rollout.WithJudge(judge), rollout.WithLogger(logger), rollout.WithMiddleware(traceOpts...))
			if err != nil {
				return nil, err
			}
			if err := store.Flush(ctx); err != nil {
				return nil, err
			}
			return store.List(ctx, audit.Query{Metadata: map[string]string{rollout.MetaTag: tag}})
		},
		Reward:          reagent.RewardFunc(comb, true),
		CheckpointEvery: f.steps,
		CheckpointDir:   mustAbs(f.out),
		Logger:          logger,
		OnStep: func(r ppo.StepResult) {
			line := map[string]any{
				"step": r.Step, "backend_step": r.Metrics.Step, "algo": r.Metrics.Algo, "strategy": string(strategy),
				"reward_mean": r.Metrics.RewardMean, "policy_loss": r.Metrics.PolicyLoss, "value_loss": r.Metrics.ValueLoss,
				"kl": r.Metrics.KL, "entropy": r.Metrics.Entropy, "clip_fraction": r.Metrics.ClipFraction,
				"grad_norm": r.Metrics.GradNorm, "tokens": r.Metrics.Tokens, "tokens_per_second": r.Metrics.TokensPerSecond,
				"samples": r.Report.Samples, "truncated": r.Metrics.TruncatedSamples, "groups": r.Report.Groups, "no_reward": r.Report.NoReward, "skipped": r.Skipped,
			}
			b, _ := json.Marshal(line)
			fmt.Fprintf(metricsFile, "%s\n", b)
			bar.Add(1)
		},
	})
	bar.Done()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, r := range results {
		status := ""
		if r.Skipped {
			status = " (skipped: too few usable samples)"
		}
		fmt.Fprintf(c.Stdout, "step %d: reward %.3f, policy loss %.4f, KL %.5f, %d samples in %d groups%s\n",
			r.Step, r.Metrics.RewardMean, r.Metrics.PolicyLoss, r.Metrics.KL, r.Report.Samples, r.Report.Groups, status)
	}
	if health.Kind != "tiny" {
		if err := checkHFCheckpoint(f.out); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		fmt.Fprintf(c.Stdout, "trained %s: checkpoint in %s (resume: reagent train --model %s --out %s); metrics in %s\n",
			modelName, f.out, f.model, f.out, f.metrics)
		return nil
	}
	if _, err := tinylm.Load(f.out); err != nil {
		return fmt.Errorf("train: the trained weights do not load: %w", err)
	}
	fmt.Fprintf(c.Stdout, "trained weights in %s (try: reagent demo --model %s); metrics in %s\n", f.out, f.out, f.metrics)
	return nil
}

// startBackend connects to the backend, starting a local one when asked.
func startBackend(ctx context.Context, f *trainFlags) (*ppo.Client, func(), error) {
	if f.backend != "local" {
		cl, err := ppo.NewClient(f.backend)
		if err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		if _, err := cl.Health(ctx); err != nil {
			return nil, nil, fmt.Errorf("train: backend %s: %w", f.backend, err)
		}
		return cl, func() {}, nil
	}
	common := []ppo.LocalOption{ppo.WithPython(f.python), ppo.WithDevice(f.device), ppo.WithAlgo(f.algo), ppo.WithSeed(f.seed),
		ppo.WithLR(f.lr), ppo.WithCheckpointDir(mustAbs(f.out)), ppo.WithArgs("--threads", fmt.Sprint(f.threads))}
	if f.model != "tiny" {
		local, err := ppo.StartLocal(ctx, append(common, ppo.WithModel(mustAbs(f.model)),
			ppo.WithArgs("--lora-rank", fmt.Sprint(f.loraRank)))...)
		if err != nil {
			return nil, nil, fmt.Errorf("train: starting the backend with --model %s: %w", f.model, err)
		}
		return local.Client, func() { _ = local.Stop() }, nil
	}
	initDir := f.init
	cleanup := func() {}
	if initDir == "" {
		dir, err := os.MkdirTemp("", "reagent-init-*")
		if err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		if err := tinylm.ExportDefault(dir); err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		initDir, cleanup = dir, func() { os.RemoveAll(dir) }
	}
	local, err := ppo.StartLocal(ctx, append(common, ppo.WithModel("tiny"), ppo.WithArgs("--init", mustAbs(initDir)))...)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("train: starting the backend: %w", err)
	}
	return local.Client, func() { _ = local.Stop(); cleanup() }, nil
}

// checkHFCheckpoint checks that dir holds a backend checkpoint of a Hugging
// Face model: its state and the trained adapter (LoRA) or full weights.
func checkHFCheckpoint(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
		return fmt.Errorf("no checkpoint was written to %s: %w", dir, err)
	}
	for _, sub := range []string{"adapter", "model"} {
		if _, err := os.Stat(filepath.Join(dir, sub, "config.json")); err == nil {
			return nil
		}
		if _, err := os.Stat(filepath.Join(dir, sub, "adapter_config.json")); err == nil {
			return nil
		}
	}
	return fmt.Errorf("the checkpoint in %s holds neither adapter/ nor model/ weights", dir)
}

// trainStore opens the audit store for rollouts: the given one, or a
// temporary SQLite file.
func trainStore(ctx context.Context, dsn string) (audit.Store, func(), error) {
	if dsn != "" {
		s, err := openStore(ctx, dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		return s, func() { s.Close() }, nil
	}
	dir, err := os.MkdirTemp("", "reagent-train-*")
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	s, err := audit.OpenSQLite(filepath.Join(dir, "rollouts.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }, nil
}

// pickTasks returns the n tasks of one iteration, walking the list in order
// so every task is seen before any repeats.
func pickTasks(tasks []suite.Task, step, n int) []suite.Task {
	out := make([]suite.Task, 0, n)
	for i := range n {
		out = append(out, tasks[(step*n+i)%len(tasks)])
	}
	return out
}

func mustAbs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/reagent-go/reagent/metrics"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/reagent/rewardsvc"
	"github.com/reagent-go/reagent/rrm"
)

const serveRewardUsage = `serve-reward [--addr HOST:PORT] [--judge heuristic|openai] [flags]

Serves Reagent-R rewards with OpenRLHF's remote reward model contract:

  POST /  {"query": [...], "prompts": [...], "labels": [...]}
       -> {"rewards": [...], "scores": [...], "extra_logs": {...}}

reward = R_rule(answer, label) + λ·RRM score (the RRM score alone for a null
label); scores are the rule rewards; extra_logs hold rule_reward, rrm_score
and critique per query. A malformed request gets 400; a failed judgment
fails the batch with 503, never with made-up rewards. GET /health reports
readiness. OpenRLHF: --remote_rm_url http://HOST:PORT/. verl: use
ppo/verl_reward.py as the custom reward function.`

func runServeReward(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "serve-reward", serveRewardUsage)
	addr := fs.String("addr", "127.0.0.1:8092", "listen address (port 0 picks a free port)")
	var jf judgeFlags
	fs.StringVar(&jf.judge, "judge", "heuristic", "reasoning reward model: heuristic or openai")
	fs.StringVar(&jf.baseURL, "base-url", c.Getenv("REAGENT_JUDGE_BASE_URL"), "openai judge: API base URL including /v1 (default $REAGENT_JUDGE_BASE_URL)")
	fs.StringVar(&jf.model, "model", c.Getenv("REAGENT_JUDGE_MODEL"), "openai judge: model name (default $REAGENT_JUDGE_MODEL)")
	fs.StringVar(&jf.apiKeyEnv, "api-key-env", "OPENAI_API_KEY", "openai judge: environment variable holding the API key")
	fs.IntVar(&jf.retries, "retries", 3, "openai judge: retries per judgment")
	fs.DurationVar(&jf.timeout, "timeout", 60*time.Second, "openai judge: timeout per request")
	lambda := fs.Float64("lambda", reward.DefaultLambda, "λ in R = R_rule + λ·score (0: rule reward only, no judge calls)")
	rule := fs.String("rule", reward.RuleAuto, "rule reward: auto, text, exact, f1 or numeric")
	concurrency := fs.Int("concurrency", 8, "judgments in flight per request")
	maxBatch := fs.Int("max-batch", 4096, "queries per request")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *concurrency < 1 || *maxBatch < 1 || *lambda < 0 {
		return usagef("serve-reward: --concurrency and --max-batch must be positive, --lambda not negative")
	}
	jf.concurrency = *concurrency
	var judge rrm.Judge
	name := "none"
	if *lambda > 0 || jf.judge != "none" {
		j, n, err := newJudge(c, &jf)
		if err != nil {
			return err
		}
		judge, name = j, n
	}
	log := slog.New(slog.NewTextHandler(c.Stderr, nil))
	reg, err := metrics.New(metrics.WithRuntimeMetrics(), metrics.WithConstLabels(map[string]string{"service": "serve-reward"}))
	if err != nil {
		return fmt.Errorf("serve-reward: metrics: %w", err)
	}
	if judge != nil {
		judge = observedJudge{inner: judge, reg: reg}
	}
	api, err := rewardsvc.Handler(judge, rewardsvc.WithLambda(*lambda), rewardsvc.WithRule(*rule),
		rewardsvc.WithConcurrency(*concurrency), rewardsvc.WithMaxBatch(*maxBatch), rewardsvc.WithLogger(log),
		rewardsvc.WithJudgeName(name))
	if err != nil {
		return usagef("serve-reward: %v", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve-reward: %w", err)
	}
	h, err := reg.Serve(api)
	if err != nil {
		return fmt.Errorf("serve-reward: metrics: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(c.Stdout, "serving rewards on http://%s/ (judge %s, λ %g, rule %s)\n", ln.Addr(), name, *lambda, *rule)
	if err := serveUntilDone(ctx, srv, ln, 10*time.Second); err != nil {
		return fmt.Errorf("serve-reward: %w", err)
	}
	return nil
}

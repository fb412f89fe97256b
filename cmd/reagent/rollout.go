package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/reagent/rollout"
	"github.com/reagent-go/reagent/reagent/suite"
	"github.com/reagent-go/reagent/rrm"
)

const rolloutUsage = `rollout --suite S --base-url URL --model M --db DSN [flags]

Runs the agent over a task suite against an OpenAI-compatible policy
endpoint with a Reagent strategy, judges and rewards every run, and stores
the runs in the audit database as training groups (metadata: suite, task,
strategy, split, sample, round, rule_reward, reward, rrm_score). A rerun
with the same suite, strategy, model and tag skips the work already stored.

--suite is a built-in suite (arith, lookup, web; comma-separated for
several) or a JSONL file of tasks {id, question, answer, suite, tools}.
The web suite drives a real Chromium.

Strategies: baseline (run once, rule reward), c (Reagent-C: answer; when
the RRM scores the answer below --refine-below, critique and answer again;
report the refined answer unless it is judged worse), r (Reagent-R: reward =
rule + λ·RRM score), u (Reagent-U: G first answers and their G refined
answers pooled in one group, reward = rule + λ·score).`

const evalUsage = `eval --suite S --base-url URL --model M [flags]

Evaluates the agent on a suite's test split and prints the results per
suite: success rate (a rule reward of 1), mean reward, mean RRM score and
judge errors. --db stores the runs and resumes an interrupted evaluation;
without it nothing is stored. --strategy c evaluates Reagent-C (the
reported answer is scored: the refined one, or the first when the RRM did
not flag it or judged the refinement worse; see --refine-below and
--keep-better).`

// rolloutFlags are the flags shared by rollout and eval.
type rolloutFlags struct {
	suites, strategy, split   string
	baseURL, model, apiKeyEnv string
	db                        *string
	judge                     judgeFlags
	group, concurrency, limit int
	seed                      int64
	lambda, temperature, topP float64
	refineBelow               float64
	keepBetter                bool
	maxTokens, maxSteps       int
	onJudgeError, agent, tag  string
	timeout                   time.Duration
	jsonOut                   bool
}

func (f *rolloutFlags) register(fs *flag.FlagSet, c *cli, eval bool) {
	defStrategy, defSplit := "baseline", "train"
	if eval {
		defSplit = "test"
	}
	fs.StringVar(&f.suites, "suite", "", "built-in suite (arith, lookup, web; comma-separated) or a tasks .jsonl file")
	fs.StringVar(&f.strategy, "strategy", defStrategy, "baseline, c, r or u")
	fs.StringVar(&f.split, "split", defSplit, "train or test")
	fs.StringVar(&f.baseURL, "base-url", c.Getenv("REAGENT_POLICY_BASE_URL"), "policy endpoint, OpenAI-compatible, including /v1 (default $REAGENT_POLICY_BASE_URL)")
	fs.StringVar(&f.model, "model", c.Getenv("REAGENT_POLICY_MODEL"), "policy model name (default $REAGENT_POLICY_MODEL)")
	fs.StringVar(&f.apiKeyEnv, "api-key-env", "OPENAI_API_KEY", "environment variable holding the policy endpoint's API key")
	f.db = dbFlag(fs, c)
	fs.StringVar(&f.judge.judge, "judge", "heuristic", "reasoning reward model: heuristic, openai, or none (baseline only)")
	fs.StringVar(&f.judge.baseURL, "judge-base-url", c.Getenv("REAGENT_JUDGE_BASE_URL"), "openai judge: API base URL including /v1 (default $REAGENT_JUDGE_BASE_URL)")
	fs.StringVar(&f.judge.model, "judge-model", c.Getenv("REAGENT_JUDGE_MODEL"), "openai judge: model name (default $REAGENT_JUDGE_MODEL)")
	fs.StringVar(&f.judge.apiKeyEnv, "judge-api-key-env", "OPENAI_API_KEY", "openai judge: environment variable holding the API key")
	fs.IntVar(&f.judge.retries, "judge-retries", 3, "openai judge: retries per judgment")
	fs.DurationVar(&f.judge.timeout, "judge-timeout", 60*time.Second, "openai judge: timeout per request")
	group := 1
	if !eval {
		group = 8
	}
	fs.IntVar(&f.group, "group", group, "samples per task (G); Reagent-U stores 2G")
	fs.IntVar(&f.concurrency, "concurrency", 4, "samples run at once")
	fs.IntVar(&f.limit, "limit", 0, "use at most this many tasks per suite (0: all)")
	fs.Int64Var(&f.seed, "seed", 1, "seed of the built-in suites")
	fs.Float64Var(&f.lambda, "lambda", reward.DefaultLambda, "λ in R = R_rule + λ·score (strategies r and u)")
	fs.Float64Var(&f.refineBelow, "refine-below", reagent.DefaultRefineBelow, "strategy c: refine a first answer only when the RRM scores it below this (2: refine every answer, as the paper does)")
	fs.BoolVar(&f.keepBetter, "keep-better", true, "strategy c: report the first answer when the refined one is judged worse (false: always the refined one, as the paper does)")
	fs.StringVar(&f.onJudgeError, "on-judge-error", "drop", "a sample whose judgment failed: drop or rule-only")
	fs.Float64Var(&f.temperature, "temperature", 0.7, "policy sampling temperature")
	fs.Float64Var(&f.topP, "top-p", 0.95, "policy nucleus sampling")
	fs.IntVar(&f.maxTokens, "max-tokens", 0, "policy max tokens per call (0: the server's default)")
	fs.IntVar(&f.maxSteps, "max-steps", rollout.DefaultMaxSteps, "agent steps per run")
	fs.StringVar(&f.agent, "agent", rollout.AgentToolCalling, "agent: tools (native tool calling) or react")
	fs.StringVar(&f.tag, "tag", "", "name of this collection, to keep it apart from others over the same tasks")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "policy endpoint timeout per call")
	fs.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON instead of a table")
}

func runRollout(ctx context.Context, c *cli, args []string) error {
	return rolloutCommand(ctx, c, args, false)
}

func runEval(ctx context.Context, c *cli, args []string) error {
	return rolloutCommand(ctx, c, args, true)
}

func rolloutCommand(ctx context.Context, c *cli, args []string, eval bool) (err error) {
	name, usage := "rollout", rolloutUsage
	if eval {
		name, usage = "eval", evalUsage
	}
	var f rolloutFlags
	fs := newFlags(c, name, usage)
	f.register(fs, c, eval)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	strategy, err := rollout.ParseStrategy(f.strategy)
	if err != nil {
		return usagef("%s: %v", name, err)
	}
	split, err := suite.ParseSplit(f.split)
	if err != nil {
		return usagef("%s: %v", name, err)
	}
	onErr, err := reward.ParseJudgeErrorPolicy(f.onJudgeError)
	if err != nil {
		return usagef("%s: %v", name, err)
	}
	switch {
	case f.suites == "":
		return usagef("%s: --suite is required (arith, lookup, web or a .jsonl file)", name)
	case f.baseURL == "":
		return usagef("%s: --base-url is required: the policy's OpenAI-compatible endpoint, e.g. http://127.0.0.1:8091/v1", name)
	case f.model == "":
		return usagef("%s: --model is required: the policy model name", name)
	case !eval && *f.db == "":
		return usagef("rollout: --db is required: the runs are stored there as training groups")
	case math.IsNaN(f.refineBelow):
		return usagef("%s: --refine-below must be a number", name)
	case f.group < 1 || f.concurrency < 1 || f.limit < 0 || f.maxSteps < 1 || f.lambda < 0:
		return usagef("%s: --group, --concurrency and --max-steps must be positive; --limit and --lambda not negative", name)
	}

	var tasks []suite.Task
	for _, s := range strings.Split(f.suites, ",") {
		s = strings.TrimSpace(s)
		opts := []suite.GenOption{suite.WithSeed(f.seed)}
		if f.limit > 0 {
			opts = append(opts, suite.WithCount(f.limit))
		}
		ts, err := suite.Load(s, split, opts...)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		tasks = append(tasks, ts...)
	}

	var judge rrm.Judge
	switch {
	case f.judge.judge == "none" && strategy != rollout.Baseline:
		return usagef("%s: strategy %s needs a judge (--judge heuristic or openai)", name, strategy)
	case f.judge.judge != "none":
		f.judge.concurrency = f.concurrency
		j, _, err := newJudge(c, &f.judge)
		if err != nil {
			return err
		}
		judge = j
	}
	key := c.Getenv(f.apiKeyEnv)
	if key == "" {
		key = "unused" // local servers ignore it; the client needs one
	}
	llm, err := openai.New(openai.WithBaseURL(f.baseURL), openai.WithToken(key), openai.WithModel(f.model),
		openai.WithHTTPClient(&http.Client{Timeout: f.timeout}))
	if err != nil {
		return fmt.Errorf("%s: policy model: %w", name, err)
	}
	callOpts := []llms.CallOption{llms.WithTemperature(f.temperature), llms.WithTopP(f.topP)}
	if f.maxTokens > 0 {
		callOpts = append(callOpts, llms.WithMaxTokens(f.maxTokens))
	}

	env, err := suite.StartEnv(ctx, tasks, suite.WithEnvLogger(slog.New(slog.NewTextHandler(c.Stderr, nil))))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer env.Close()

	opts := []rollout.Option{
		rollout.WithStrategy(strategy), rollout.WithGroupSize(f.group), rollout.WithConcurrency(f.concurrency),
		rollout.WithLambda(f.lambda), rollout.WithOnJudgeError(onErr), rollout.WithMaxSteps(f.maxSteps),
		rollout.WithCallOptions(callOpts...), rollout.WithAgent(f.agent), rollout.WithModelName(f.model),
		rollout.WithTag(f.tag), rollout.WithProgress(c.Stderr),
		rollout.WithRefineBelow(f.refineBelow), rollout.WithKeepBetter(f.keepBetter),
		rollout.WithLogger(slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	}
	if judge != nil {
		opts = append(opts, rollout.WithJudge(judge))
	}
	traceOpts, flushTraces, err := tracing(ctx, c)
	if err != nil {
		return err
	}
	defer flushTraces()
	opts = append(opts, rollout.WithMiddleware(traceOpts...))
	if *f.db != "" {
		st, err := openStore(ctx, *f.db)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer func() {
			if cerr := st.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("%s: closing the store: %w", name, cerr)
			}
		}()
		opts = append(opts, rollout.WithStore(st))
	}
	sum, cerr := rollout.Collect(ctx, llm, env, tasks, opts...)
	if sum != nil {
		if f.jsonOut {
			enc := json.NewEncoder(c.Stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(sum); err != nil {
				return err
			}
		} else if err := sum.WriteTable(c.Stdout); err != nil {
			return err
		}
	}
	if cerr != nil {
		return fmt.Errorf("%s: %w", name, cerr)
	}
	return nil
}

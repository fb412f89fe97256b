// Command reagent-example walks through Reagent's strategies on the
// built-in arith suite, against any OpenAI-compatible policy endpoint (the
// tiny model from `reagent serve-model`, vLLM, Ollama, OpenAI):
//
//	go run ./examples/reagent --base-url http://127.0.0.1:8091/v1 --model tiny
//
// It runs Reagent-C on one question (answer, critique, refined answer),
// collects a small Reagent-U rollout into a SQLite audit database, prints
// the summary and the GRPO advantages of one group, and exports the
// collection as a verl parquet file.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	lcagents "github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/reagent-go/reagent/agents"
	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/export"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/reagent/rollout"
	"github.com/reagent-go/reagent/reagent/suite"
	"github.com/reagent-go/reagent/rrm"
)

func main() {
	if err := runExample(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "reagent-example:", err)
		os.Exit(1)
	}
}

func runExample(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("reagent-example", flag.ContinueOnError)
	baseURL := fs.String("base-url", "http://127.0.0.1:8091/v1", "policy endpoint (OpenAI-compatible, with /v1)")
	model := fs.String("model", "tiny", "policy model name")
	dir := fs.String("dir", ".", "where to write reagent-example.db and train.parquet")
	tasksN := fs.Int("tasks", 4, "arith tasks to collect")
	if err := fs.Parse(args); err != nil {
		return err
	}
	llm, err := openai.New(openai.WithBaseURL(*baseURL), openai.WithModel(*model), openai.WithToken("unused"))
	if err != nil {
		return err
	}
	tasks, err := suite.Generate(suite.Arith, suite.Train, suite.WithCount(*tasksN))
	if err != nil {
		return err
	}
	env, err := suite.StartEnv(ctx, tasks) // the calculator; lookup and web start local servers
	if err != nil {
		return err
	}
	defer env.Close()
	judge := rrm.NewHeuristic() // offline; rrm.NewOpenAI(...) for an Agent-RRM model

	// 1. Reagent-C on one task: the executor is wrapped once, and Refine
	// reruns it with the critique of the first answer in the prompt.
	task := tasks[0]
	tools, err := env.Tools(task)
	if err != nil {
		return err
	}
	agent := agents.NewToolCalling(llm, tools, agents.WithSystemPrompt(env.SystemPrompt(task)),
		agents.WithCallOptions(llms.WithTemperature(0.7)))
	exec := middleware.Wrap(lcagents.NewExecutor(agent, lcagents.WithMaxIterations(13)))
	res, err := reagent.Refine(ctx, exec, judge, task.Question)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Q: %s (reference %s)\n", task.Question, task.Answer)
	for i, at := range res.Attempts {
		fmt.Fprintf(out, "o%d: %q, RRM score %s, rule reward %.2f\n", i+1, at.Trajectory.FinalAnswer, score(at),
			reward.Numeric(at.Trajectory.FinalAnswer, task.Answer))
		if at.Assessment != nil && at.Assessment.OK() {
			fmt.Fprintf(out, "critique: %s\n", at.Assessment.Critique)
		}
	}
	// Refine refines only an answer the RRM flags (a score below
	// reagent.DefaultRefineBelow) and keeps the first answer when the
	// refined one is judged worse: Result is the answer Reagent-C reports.
	fmt.Fprintf(out, "Reagent-C reports o%d (%s)\n", res.Chosen+1, res.Choice)
	if res.Stopped != "" {
		fmt.Fprintf(out, "refinement stopped: %s\n", res.Stopped)
	}
	fmt.Fprintln(out)

	// 2. A Reagent-U collection: G first answers and G refined answers per
	// task in one group, reward = rule + 0.3·score, stored for training.
	store, err := audit.OpenSQLite(filepath.Join(*dir, "reagent-example.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	sum, err := rollout.Collect(ctx, llm, env, tasks,
		rollout.WithStrategy(rollout.U), rollout.WithGroupSize(2), rollout.WithJudge(judge),
		rollout.WithStore(store), rollout.WithModelName(*model), rollout.WithConcurrency(2))
	if err != nil {
		return err
	}
	if err := sum.WriteTable(out); err != nil {
		return err
	}

	// 3. The stored groups: GRPO advantages over the pooled 2G samples, and
	// a verl parquet file.
	runs, err := store.List(ctx, audit.Query{Metadata: map[string]string{reagent.MetaStrategy: "u", reagent.MetaTask: task.ID}})
	if err != nil {
		return err
	}
	comb := reward.NewCombiner()
	var results []reward.Result
	var rounds []string
	for _, r := range runs {
		if res, ok := reagent.Reward(r, comb, false); ok {
			results = append(results, res)
			rounds = append(rounds, r.Metadata[reagent.MetaRound])
		}
	}
	adv, kept := reagent.Advantages(results)
	fmt.Fprintf(out, "\ngroup of %s: %d samples\n", task.ID, len(results))
	for i, r := range results {
		if kept[i] {
			fmt.Fprintf(out, "  round %s  reward %.3f  advantage %+.3f\n", rounds[i], r.Reward, adv[i])
		}
	}
	all, err := store.List(ctx, audit.Query{})
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(*dir, "train.parquet"))
	if err != nil {
		return err
	}
	rep, err := export.Write(f, export.Verl, all)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s -> %s\n", rep, f.Name())
	return nil
}

func score(a reagent.Attempt) string {
	if s, ok := a.Score(); ok {
		return fmt.Sprintf("%.2f", s)
	}
	return "n/a"
}

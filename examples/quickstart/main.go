// Quickstart: a langchaingo agent executor with a calculator, wrapped by
// reagent in one line. Every run is recorded, judged by the offline
// heuristic RRM and appended to a tamper-evident SQLite audit trail.
//
//	OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=any REAGENT_MODEL=my-model \
//	    go run ./examples/quickstart "What is 17*23?"
//
// Any OpenAI-compatible endpoint with tool calling works (vLLM, Ollama,
// llama.cpp, a hosted API). Offline, serve the embedded policy:
//
//	go run ./cmd/reagent serve-model --addr 127.0.0.1:8000 &
//	OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=any REAGENT_MODEL=tiny go run ./examples/quickstart
//
// The agent is reagent's tool-calling agent (agents.NewToolCalling), run by
// langchaingo's executor: its prompt is the system note, the question and
// the tool schemas, which fits the embedded policy's 640-token context (a
// langchaingo MRKL prompt does not). The embedded policy is a small model
// trained on reagent's arith suite: it answers "What is 17*23?"-style
// questions, not open ones.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	lcagents "github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/agents"
	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/tools/calculator"
)

func main() {
	if err := runExample(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func runExample(ctx context.Context, args []string) error {
	baseURL, key, model := os.Getenv("OPENAI_BASE_URL"), os.Getenv("OPENAI_API_KEY"), os.Getenv("REAGENT_MODEL")
	if baseURL == "" || key == "" || model == "" {
		return fmt.Errorf(`set the model endpoint first:
  OPENAI_BASE_URL  an OpenAI-compatible base URL ending in /v1 (e.g. http://127.0.0.1:8000/v1)
  OPENAI_API_KEY   its API key (any non-empty string for a local server)
  REAGENT_MODEL    the model name the endpoint serves
(no endpoint at hand? run "go run ./cmd/reagent serve-model --addr 127.0.0.1:8000" and use
 OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=any REAGENT_MODEL=tiny: the embedded policy, offline)`)
	}
	question := "What is 17*23?"
	if len(args) > 0 {
		question = strings.Join(args, " ")
	}

	llm, err := openai.New(openai.WithBaseURL(baseURL), openai.WithToken(key), openai.WithModel(model))
	if err != nil {
		return fmt.Errorf("model client: %w", err)
	}
	store, err := audit.OpenSQLite("reagent.db")
	if err != nil {
		return err
	}
	defer store.Close()

	agent := agents.NewToolCalling(llm, []tools.Tool{calculator.New()},
		agents.WithSystemPrompt("You solve arithmetic problems. Call the calculator with the expression, then answer with the number only."),
		agents.WithCallOptions(llms.WithTemperature(0)))
	exec := middleware.Wrap(lcagents.NewExecutor(agent, lcagents.WithMaxIterations(8)), // the one line
		run.WithStore(store), run.WithJudge(rrm.NewHeuristic()), run.WithSyncJudge(true), run.WithModelName(model))
	defer exec.Shutdown(ctx)

	h := run.NewHandle()
	out, err := chains.Run(run.ContextWithHandle(ctx, h), exec, question)
	if err != nil {
		fmt.Fprintln(os.Stderr, "the agent did not finish:", err)
	}
	fmt.Println("answer:", out)
	if t := h.Trajectory(); t != nil {
		fmt.Printf("run %s: %s in %d steps\n", t.ID, t.Status, len(t.Steps))
		if a, ok := t.LastAssessment(); ok && a.OK() {
			fmt.Printf("RRM score %.2f: %s\n", a.Score, a.Critique)
		}
	}
	fmt.Println("recorded in reagent.db; try: go run ./cmd/reagent audit show --db reagent.db --last 1")
	return nil
}

// Command judge scores one hand-built agent run with a reasoning reward
// model: the offline heuristic judge by default, or an OpenAI-compatible
// Agent-RRM when REAGENT_JUDGE_BASE_URL is set (for example
// http://localhost:8000/v1; REAGENT_JUDGE_MODEL names the model and
// OPENAI_API_KEY holds the key, if the server needs one).
//
//	go run ./examples/judge
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := runExample(ctx, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "judge example:", err)
		os.Exit(1)
	}
}

func runExample(ctx context.Context, out io.Writer, getenv func(string) string) error {
	var judge rrm.Judge = rrm.NewHeuristic()
	if base := getenv("REAGENT_JUDGE_BASE_URL"); base != "" {
		opts := []rrm.Option{rrm.WithBaseURL(base)}
		if m := getenv("REAGENT_JUDGE_MODEL"); m != "" {
			opts = append(opts, rrm.WithModel(m))
		}
		judge = rrm.NewOpenAI(opts...)
	}

	a := judge.Judge(ctx, sampleRun())
	if !a.OK() {
		return fmt.Errorf("judgment failed: %s", a.Error)
	}
	fmt.Fprintf(out, "judge:    %s %s (%v)\n", a.Judge, a.Model, a.Latency.Round(time.Microsecond))
	fmt.Fprintf(out, "score:    %.2f\n", a.Score)
	fmt.Fprintf(out, "critique: %s\n\n", a.Critique)
	fmt.Fprintf(out, "think:\n%s\n", a.Think)
	for _, n := range a.Notes {
		fmt.Fprintln(out, "note:", n)
	}
	return nil
}

// sampleRun is a run in which the agent ignored a failed lookup and made up
// a population figure: the kind of flaw an RRM should catch.
func sampleRun() *trajectory.Trajectory {
	start := time.Now()
	return &trajectory.Trajectory{
		SchemaVersion: trajectory.SchemaVersion,
		ID:            "example-1",
		Task:          "What is the population of Lagos?",
		Agent:         "react",
		Tools: []trajectory.ToolSpec{
			{Name: "search", Description: "Web search: returns the top result snippets."},
			{Name: "calculator", Description: "Evaluates an arithmetic expression."},
		},
		Steps: []trajectory.Step{
			{Index: 0, Thought: "I should look this up.", Calls: []trajectory.ToolCall{{
				Tool: "search", Input: "Lagos population", Error: "upstream timeout", Observation: "error: upstream timeout",
			}}},
			{Index: 1, Thought: "The search failed, but I remember roughly.", Final: true, Answer: "Lagos has about 21,300,000 inhabitants."},
		},
		FinalAnswer: "Lagos has about 21,300,000 inhabitants.",
		Status:      trajectory.StatusFinished,
		StartedAt:   start,
		EndedAt:     start.Add(3 * time.Second),
	}
}

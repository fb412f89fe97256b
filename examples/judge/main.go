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
	"os"
	"time"

	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var judge rrm.Judge = rrm.NewHeuristic()
	if base := os.Getenv("REAGENT_JUDGE_BASE_URL"); base != "" {
		opts := []rrm.Option{rrm.WithBaseURL(base)}
		if m := os.Getenv("REAGENT_JUDGE_MODEL"); m != "" {
			opts = append(opts, rrm.WithModel(m))
		}
		judge = rrm.NewOpenAI(opts...)
	}

	a := judge.Judge(ctx, sampleRun())
	if !a.OK() {
		fmt.Fprintln(os.Stderr, "judgment failed:", a.Error)
		os.Exit(1)
	}
	fmt.Printf("judge:    %s %s (%v)\n", a.Judge, a.Model, a.Latency.Round(time.Microsecond))
	fmt.Printf("score:    %.2f\n", a.Score)
	fmt.Printf("critique: %s\n\n", a.Critique)
	fmt.Printf("think:\n%s\n", a.Think)
	for _, n := range a.Notes {
		fmt.Println("note:", n)
	}
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

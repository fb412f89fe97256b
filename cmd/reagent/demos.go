package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/reagent-go/reagent/reagent/suite"
	"github.com/reagent-go/reagent/trajectory"
)

// sftLine is one supervised fine-tuning sample, the form the backend's SFT
// recipe reads.
type sftLine struct {
	Messages  []trajectory.Message `json:"messages"`
	Trainable []bool               `json:"trainable"`
	Task      string               `json:"task"`
	Kind      string               `json:"kind"`
}

// runDemos writes demonstrations of the built-in suites (ideal runs and
// critique-refined second attempts) as SFT JSONL.
func runDemos(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "demos", "demos --out FILE [--suites arith,lookup,web] [--split train] [--count N] [--seed S] [--refined=true]")
	out := fs.String("out", "", "JSONL file to write (required)")
	suites := fs.String("suites", "arith,lookup", "comma-separated suites (web needs Chromium)")
	split := fs.String("split", "train", "train or test")
	count := fs.Int("count", 0, "tasks per suite (0: the suite's default)")
	seed := fs.Int64("seed", 1, "generation seed")
	refined := fs.Bool("refined", true, "also write the critique-refined second attempts (Reagent-C data)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("demos: --out is required")
	}
	sp, err := suite.ParseSplit(*split)
	if err != nil {
		return usagef("demos: %v", err)
	}
	var tasks []suite.Task
	for _, name := range strings.Split(*suites, ",") {
		ts, err := suite.Generate(strings.TrimSpace(name), sp, suite.WithSeed(*seed), suite.WithCount(*count))
		if err != nil {
			return fmt.Errorf("demos: %w", err)
		}
		tasks = append(tasks, ts...)
	}
	env, err := suite.StartEnv(ctx, tasks)
	if err != nil {
		return fmt.Errorf("demos: %w", err)
	}
	defer env.Close()

	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("demos: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	written := 0
	write := func(t suite.Task, kind string, chat trajectory.Chat) error {
		if len(chat.Messages) == 0 {
			return nil
		}
		written++
		return enc.Encode(sftLine{Messages: chat.Messages, Trainable: chat.Trainable, Task: t.ID, Kind: kind})
	}
	for _, t := range tasks {
		d, err := env.Demonstrate(ctx, t)
		if err != nil {
			f.Close()
			return fmt.Errorf("demos: task %s: %w", t.ID, err)
		}
		if err := write(t, "ideal", d.Ideal); err != nil {
			f.Close()
			return fmt.Errorf("demos: %w", err)
		}
		if *refined {
			if err := write(t, "refined", d.Refined); err != nil {
				f.Close()
				return fmt.Errorf("demos: %w", err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("demos: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("demos: %w", err)
	}
	fmt.Fprintf(c.Stdout, "wrote %d demonstrations of %d tasks to %s\n", written, len(tasks), *out)
	return nil
}

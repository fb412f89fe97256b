// Command train-injection trains reagent's prompt-injection classifier
// (package injectclf) on the sets scripts/injectdata/build.py writes, and
// evaluates it, alone and combined with the rule-based detector, on the
// held-out set.
//
//	go run ./guardrails/injectclf/cmd/train-injection -data .cache/injection-data -out guardrails/injectclf/model.bin
//	go run ./guardrails/injectclf/cmd/train-injection -data .cache/injection-data -eval
package main

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/injectclf"
)

var opts injectclf.TrainOptions

func main() {
	data := flag.String("data", ".cache/injection-data", "folder with train.jsonl and heldout.jsonl")
	out := flag.String("out", "", "write the trained model here (train mode)")
	evalOnly := flag.Bool("eval", false, "only evaluate the embedded model on the held-out set")
	valid := flag.Int("valid", 0, "percent of the training set kept aside to report validation figures")
	epochs := flag.Int("epochs", 6, "training epochs")
	flag.Float64Var(&opts.L2, "l2", 0, "L2 penalty (0: the default)")
	flag.Float64Var(&opts.Rate, "rate", 0, "learning rate (0: the default)")
	flag.Float64Var(&opts.NegWeight, "negw", 0, "weight of benign samples (0: the default)")
	flag.IntVar(&opts.Window, "window", 0, "window length (0: the default)")
	flag.Parse()
	if err := run(context.Background(), *data, *out, *evalOnly, *valid, *epochs); err != nil {
		fmt.Fprintln(os.Stderr, "train-injection:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data, out string, evalOnly bool, valid, epochs int) error {
	held, err := injectclf.ReadSamplesFile(filepath.Join(data, "heldout.jsonl"))
	if err != nil {
		return err
	}
	var m *injectclf.Model
	if evalOnly {
		if m, err = injectclf.Default(); err != nil {
			return err
		}
	} else {
		if out == "" {
			return fmt.Errorf("-out is required to train (or pass -eval)")
		}
		train, err := injectclf.ReadSamplesFile(filepath.Join(data, "train.jsonl"))
		if err != nil {
			return err
		}
		var fit, val []injectclf.Sample
		for _, s := range train {
			h := fnv.New32a()
			h.Write([]byte(s.Text))
			if int(h.Sum32()%100) < valid {
				val = append(val, s)
			} else {
				fit = append(fit, s)
			}
		}
		slog.Info("training", "samples", len(fit), "validation", len(val))
		m, err = injectclf.Train(ctx, fit, injectclf.TrainOptions{Epochs: epochs, L2: opts.L2, Rate: opts.Rate, NegWeight: opts.NegWeight, Window: opts.Window, Progress: func(e int, loss float64) {
			slog.Info("epoch", "n", e, "loss", fmt.Sprintf("%.4f", loss))
		}})
		if err != nil {
			return err
		}
		if len(val) > 0 {
			vr := injectclf.Evaluate(val, m.Score, 0.5)
			fmt.Printf("validation (training sources): recall %.1f%%, false positives %.2f%%\n", 100*vr.Recall.Rate(), 100*vr.FalsePos.Rate())
		}
		b, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return fmt.Errorf("writing the model: %w", err)
		}
		slog.Info("model written", "path", out, "bytes", len(b))
	}
	fmt.Println("\n## Classifier: recall and false positives by threshold (held-out)")
	fmt.Println("| threshold | recall | false positives |\n|---|---|---|")
	for _, t := range []float64{0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9} {
		r := injectclf.Evaluate(held, m.Score, t)
		fmt.Printf("| %.2f | %.1f%% | %.2f%% |\n", t, 100*r.Recall.Rate(), 100*r.FalsePos.Rate())
	}
	if os.Getenv("INJECTCLF_DUMP") != "" {
		for _, s := range held {
			fmt.Fprintf(os.Stderr, "DUMP\t%d\t%.3f\t%s\t%s\t%q\n", s.Label, m.Score(s.Text), s.Source, s.Family, s.Text)
		}
	}
	fmt.Println("\n## Rules only (guardrails.DetectRules)")
	injectclf.Evaluate(held, func(s string) float64 { return guardrails.DetectRules(s).Score }, 0.5).Table(os.Stdout)
	fmt.Println("## Classifier only")
	injectclf.Evaluate(held, m.Score, 0.5).Table(os.Stdout)
	fmt.Println("## Rules + classifier (guardrails.DetectInjection)")
	injectclf.Evaluate(held, func(s string) float64 { return guardrails.DetectInjectionWith(m, s).Score }, 0.5).Table(os.Stdout)
	return nil
}

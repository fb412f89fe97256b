// Command train-injection trains reagent's prompt-injection classifier
// (package injectclf) on the sets scripts/injectdata/build.py writes, and
// evaluates it, alone and combined with the rule-based detector, on the
// held-out set.
//
//	go run ./guardrails/injectclf/cmd/train-injection -data .cache/injection-data -out guardrails/injectclf/model.bin
//	go run ./guardrails/injectclf/cmd/train-injection -data .cache/injection-data -eval
//
// With INJECTCLF_DUMP=1 it also writes every held-out test-part sample's
// scores (INJECTCLF_DUMP=dev: the dev part's, and every figure is then on
// the dev part) to standard error (tab-separated: label, classifier, source, family,
// language, text, combined), to read the errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/injectclf"
)

var opts injectclf.TrainOptions

func main() {
	data := flag.String("data", ".cache/injection-data", "folder with train.jsonl and heldout.jsonl")
	out := flag.String("out", "", "write the trained model here (train mode)")
	evalOnly := flag.Bool("eval", false, "only evaluate the embedded model on the held-out set")
	valid := flag.Int("valid", 0, "percent of the training set kept aside to report validation figures")
	calib := flag.String("calib", "",
		"training sources left out of a first run to set the operating point (comma-separated; empty: use the held-out set's dev part)")
	target := flag.Float64("target-fpr", 0.01, "classifier false-positive rate wanted on the calibration pages")
	epochs := flag.Int("epochs", 6, "training epochs")
	flag.Float64Var(&opts.L2, "l2", 0, "L2 penalty (0: the default)")
	flag.Float64Var(&opts.Rate, "rate", 0, "learning rate (0: the default)")
	flag.Float64Var(&opts.NegWeight, "negw", 0, "weight of benign samples (0: the default)")
	flag.IntVar(&opts.Window, "window", 0, "window length (0: the default)")
	flag.IntVar(&opts.Stride, "stride", 0, "bytes between windows (0: the default)")
	flag.Func("bits", "log2 of the weight table (default 20)", func(v string) error {
		_, err := fmt.Sscan(v, &opts.Bits)
		return err
	})
	flag.Func("grams", "byte n-gram lengths, comma-separated (default 3,4,5)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			var k int
			if _, err := fmt.Sscan(f, &k); err != nil {
				return err
			}
			opts.Grams = append(opts.Grams, k)
		}
		return nil
	})
	flag.IntVar(&opts.Words, "words", 0, "word features: 1 words, 2 words and pairs, -1 none (0: the default)")
	flag.Uint64Var(&opts.Seed, "seed", 0, "shuffling seed (0: the default)")
	flag.IntVar(&opts.Runs, "runs", 0, "models trained with consecutive seeds and averaged (0: the default)")
	flag.Parse()
	if err := run(context.Background(), *data, *out, *calib, *evalOnly, *valid, *target, *epochs); err != nil {
		fmt.Fprintln(os.Stderr, "train-injection:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data, out, calib string, evalOnly bool, valid int, target float64, epochs int) error {
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
		topt := injectclf.TrainOptions{Epochs: epochs, L2: opts.L2, Rate: opts.Rate, NegWeight: opts.NegWeight, Window: opts.Window,
			Stride: opts.Stride, Bits: opts.Bits, Grams: opts.Grams, Words: opts.Words, Seed: opts.Seed, Runs: opts.Runs,
			Progress: func(e int, loss float64) { slog.Info("epoch", "n", e, "loss", fmt.Sprintf("%.4f", loss)) }}
		// The operating point: train once without the calibration sources,
		// and shift the bias so that the benign pages of those unseen
		// sources are flagged at about the target rate.
		shift := 0.0
		if calib != "" {
			cs := map[string]bool{}
			for _, c := range strings.Split(calib, ",") {
				cs[strings.TrimSpace(c)] = true
			}
			var rest, held []injectclf.Sample
			for _, s := range fit {
				if cs[s.Source] {
					held = append(held, s)
				} else {
					rest = append(rest, s)
				}
			}
			slog.Info("calibration run", "train", len(rest), "calibration", len(held))
			cm, err := injectclf.Train(ctx, rest, topt)
			if err != nil {
				return err
			}
			shift = injectclf.Calibrate(cm, held, target)
			r := injectclf.Evaluate(held, cm.WithBias(shift).Score, 0.5)
			slog.Info("calibration", "bias-shift", fmt.Sprintf("%.3f", shift), "recall", fmt.Sprintf("%.3f", r.Recall.Rate()),
				"false-positives", fmt.Sprintf("%.4f", r.FalsePos.Rate()))
		}
		slog.Info("training", "samples", len(fit), "validation", len(val))
		m, err = injectclf.Train(ctx, fit, topt)
		if err != nil {
			return err
		}
		// The operating point: the bias shift that flags about target of the
		// benign pages of the held-out set's dev part (training languages).
		dev, _ := injectclf.DevTest(held)
		devIn, _ := injectclf.Split(dev, injectclf.Languages(train))
		if calib == "" {
			// The dev part's benign pages and those of calib.jsonl (benign
			// sources used nowhere else), when the data has it.
			cal := devIn
			if extra, err := injectclf.ReadSamplesFile(filepath.Join(data, "calib.jsonl")); err == nil {
				extraIn, _ := injectclf.Split(extra, injectclf.Languages(train))
				cal = append(slices.Clip(devIn), extraIn...)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			shift = injectclf.Calibrate(m, cal, target)
			slog.Info("operating point from the held-out dev part and calib.jsonl", "samples", len(cal), "bias-shift", fmt.Sprintf("%.3f", shift))
		}
		m = m.WithBias(shift)
		combined := func(s string) float64 { return guardrails.DetectInjectionWith(m, s).Score }
		dr := injectclf.Evaluate(devIn, combined, 0.5)
		slog.Info("dev part, rules + classifier", "recall", fmt.Sprintf("%.3f", dr.Recall.Rate()),
			"attacks", fmt.Sprintf("%d/%d", dr.Recall.Hit, dr.Recall.Total),
			"false-positives", fmt.Sprintf("%d/%d", dr.FalsePos.Hit, dr.FalsePos.Total))
		if extra, err := injectclf.ReadSamplesFile(filepath.Join(data, "calib.jsonl")); err == nil {
			extraIn, _ := injectclf.Split(extra, injectclf.Languages(train))
			cr, kr := injectclf.Evaluate(extraIn, m.Score, 0.5), injectclf.Evaluate(extraIn, combined, 0.5)
			slog.Info("calib.jsonl, benign pages flagged", "classifier", fmt.Sprintf("%d/%d", cr.FalsePos.Hit, cr.FalsePos.Total),
				"rules + classifier", fmt.Sprintf("%d/%d", kr.FalsePos.Hit, kr.FalsePos.Total))
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
	train, err := injectclf.ReadSamplesFile(filepath.Join(data, "train.jsonl"))
	if err != nil {
		return err
	}
	dev, test := injectclf.DevTest(held)
	if os.Getenv("INJECTCLF_DUMP") == "dev" { // read the dev part's errors, not the test part's
		test = dev
	}
	fmt.Printf("\nHeld-out set: %d samples; %d in the dev part (operating point), %d in the test part (all figures below).\n",
		len(held), len(held)-len(test), len(test))
	held = test
	in, outside := injectclf.Split(held, injectclf.Languages(train))
	if os.Getenv("INJECTCLF_DUMP") != "" {
		for _, s := range held {
			fmt.Fprintf(os.Stderr, "DUMP\t%d\t%.3f\t%s\t%s\t%s\t%q\t%.3f\n", s.Label, m.Score(s.Text), s.Source, s.Family, s.Lang, s.Text, guardrails.DetectInjectionWith(m, s.Text).Score)
		}
	}
	fmt.Printf("Test part: %d samples in the training set's languages, %d in other languages.\n", len(in), len(outside))
	fmt.Println("\n## Classifier alone: recall and false positives by threshold (held-out, training languages)")
	fmt.Println("| threshold | recall | false positives |\n|---|---|---|")
	for _, t := range []float64{0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9} {
		r := injectclf.Evaluate(in, m.Score, t)
		fmt.Printf("| %.2f | %.1f%% | %.2f%% |\n", t, 100*r.Recall.Rate(), 100*r.FalsePos.Rate())
	}
	detectors := []struct {
		name  string
		score func(string) float64
	}{
		{"Rules only (guardrails.DetectRules)", func(s string) float64 { return guardrails.DetectRules(s).Score }},
		{"Classifier only", m.Score},
		{"Rules + classifier (guardrails.DetectInjection)", func(s string) float64 { return guardrails.DetectInjectionWith(m, s).Score }},
	}
	fmt.Println("\n## Summary at threshold 0.50")
	fmt.Println("| detector | recall, training languages | false positives, training languages | recall, other languages | recall, all |\n|---|---|---|---|---|")
	for _, d := range detectors {
		a, o, all := injectclf.Evaluate(in, d.score, 0.5), injectclf.Evaluate(outside, d.score, 0.5), injectclf.Evaluate(held, d.score, 0.5)
		fmt.Printf("| %s | %d/%d (%.1f%%) | %d/%d (%.2f%%) | %d/%d (%.1f%%) | %d/%d (%.1f%%) |\n", d.name,
			a.Recall.Hit, a.Recall.Total, 100*a.Recall.Rate(), a.FalsePos.Hit, a.FalsePos.Total, 100*a.FalsePos.Rate(),
			o.Recall.Hit, o.Recall.Total, 100*o.Recall.Rate(), all.Recall.Hit, all.Recall.Total, 100*all.Recall.Rate())
	}
	if side, err := injectclf.ReadSamplesFile(filepath.Join(data, "security-readmes.jsonl")); err == nil {
		for _, d := range detectors {
			r := injectclf.Evaluate(side, d.score, 0.5)
			fmt.Printf("\n%s on the attack tools' own READMEs (they quote attacks): %d/%d pages flagged", d.name, r.FalsePos.Hit, r.FalsePos.Total)
		}
		fmt.Println()
	}
	reports := make([]injectclf.Report, len(detectors))
	for i, d := range detectors {
		reports[i] = injectclf.Evaluate(held, d.score, 0.5)
	}
	for _, g := range []string{"family", "lang", "source"} {
		fmt.Printf("\n## Test part by %s: attacks detected (benign flagged) — rules | classifier | combined\n\n", g)
		fmt.Printf("| %s | rules | classifier | rules + classifier |\n|---|---|---|---|\n", g)
		keys := map[string]bool{}
		for k := range reports[0].RecallBy {
			keys[k] = true
		}
		for k := range reports[0].FalsePosBy {
			keys[k] = true
		}
		var ks []string
		for k := range keys {
			if strings.HasPrefix(k, g+":") {
				ks = append(ks, k)
			}
		}
		sort.Strings(ks)
		for _, k := range ks {
			fmt.Printf("| %s", strings.TrimPrefix(k, g+":"))
			for _, r := range reports {
				a, b := r.RecallBy[k], r.FalsePosBy[k]
				cell := ""
				if a.Total > 0 {
					cell = fmt.Sprintf("%d/%d (%.0f%%)", a.Hit, a.Total, 100*a.Rate())
				}
				if b.Total > 0 {
					if cell != "" {
						cell += " "
					}
					cell += fmt.Sprintf("benign %d/%d flagged", b.Hit, b.Total)
				}
				fmt.Printf(" | %s", cell)
			}
			fmt.Println(" |")
		}
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/export"
	"github.com/reagent-go/reagent/reagent/reward"
)

const exportUsage = `export --db DSN --format verl|openrlhf|art|sft --out FILE [flags]

Writes collected runs (from reagent rollout) for a trainer:
  verl      parquet, one row per task prompt: {data_source, prompt, ability,
            reward_model: {style, ground_truth}, extra_info}; style "rule"
            with the reference answer, or "model" for a production run
            (score responses with reagent serve-reward, the RRM alone)
  openrlhf  JSONL, one line per run: {input, label, datasource, output,
            reward}; --input_key input --label_key label
  art       JSONL, one ART TrajectoryGroup per line, runs grouped by their
            rollout group, else by task (--group-by task|METADATA_KEY)
  sft       chat JSONL, one run per line: {messages, trainable, tools}
            (assistant messages carry "weight": 1 or 0)

Rewards are recomputed from each run's rule reward and its last judgment:
R = R_rule + λ·score, λ from the run (or --lambda). A run whose judgment
failed is left out (--on-judge-error drop) or kept with the rule reward
alone (rule-only); never scored 0. A production run (no reference
answer) is rewarded with the RRM score of its last judgment alone, marked
"reward_source": "rrm" (Reagent-R with the rule term absent); one never
judged, or whose judgment failed, is left out and counted. The report says
how many runs went in and why the others did not. Filters select runs by
their metadata.`

func runExport(ctx context.Context, c *cli, args []string) (err error) {
	fs := newFlags(c, "export", exportUsage)
	db := dbFlag(fs, c)
	format := fs.String("format", "", "verl, openrlhf, art or sft")
	out := fs.String("out", "", "output file (- for stdout)")
	suiteF := fs.String("suite", "", "only runs of this suite")
	strategy := fs.String("strategy", "", "only runs of this strategy (baseline, c, r, u)")
	split := fs.String("split", "", "only runs of this split (train, test)")
	model := fs.String("model", "", "only runs of this policy model")
	tag := fs.String("tag", "", "only runs of this rollout tag")
	minReward := fs.String("min-reward", "", "only runs whose reward is at least this (e.g. 1: successful runs, for SFT)")
	lambda := fs.Float64("lambda", -1, "λ for the rewards (default: the λ each run was collected with)")
	onErr := fs.String("on-judge-error", "drop", "a run whose judgment failed: drop or rule-only")
	failed := fs.Bool("include-failed", false, "keep runs that broke (the policy endpoint failed)")
	groupBy := fs.String("group-by", "", `ART groups: "" (rollout group, else task), "task", or a metadata key (e.g. customer)`)
	noRRM := fs.Bool("no-rrm-reward", false, "leave out runs without a reference answer instead of rewarding them with their RRM score")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f, err := export.ParseFormat(*format)
	switch {
	case *db == "":
		return usagef("export: --db is required")
	case *format == "":
		return usagef("export: --format is required (verl, openrlhf, art or sft)")
	case err != nil:
		return usagef("export: %v", err)
	case *out == "":
		return usagef("export: --out is required (a file, or - for stdout)")
	}
	policy, err := reward.ParseJudgeErrorPolicy(*onErr)
	if err != nil {
		return usagef("export: %v", err)
	}
	comb := reward.NewCombiner(reward.WithOnJudgeError(policy))
	override := *lambda >= 0
	if override {
		comb.Lambda = *lambda
	}
	opts := []export.Option{export.WithReward(reagent.RewardFunc(comb, override))}
	if *minReward != "" {
		v, err := strconv.ParseFloat(*minReward, 64)
		if err != nil {
			return usagef("export: --min-reward %q is not a number", *minReward)
		}
		opts = append(opts, export.WithMinReward(v))
	}
	if *failed {
		opts = append(opts, export.WithFailedRuns())
	}
	if *noRRM {
		opts = append(opts, export.WithoutRRMRewards())
	}
	opts = append(opts, export.WithGroupBy(*groupBy))

	st, err := openStore(ctx, *db, audit.WithCreate(false))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("export: closing the store: %w", cerr)
		}
	}()
	md := map[string]string{}
	for k, v := range map[string]string{reagent.MetaSuite: *suiteF, reagent.MetaStrategy: *strategy, reagent.MetaSplit: *split,
		reagent.MetaModel: *model, "rollout_tag": *tag} {
		if v != "" {
			md[k] = v
		}
	}
	runs, err := st.List(ctx, audit.Query{Metadata: md})
	if err != nil {
		return fmt.Errorf("export: reading runs: %w", err)
	}
	if len(runs) == 0 {
		return fmt.Errorf("export: no runs in %s match the filters", *db)
	}

	report := c.Stdout
	var w io.Writer
	var commit func() error
	if *out == "-" {
		w, report, commit = c.Stdout, c.Stderr, func() error { return nil }
	} else {
		// Write next to the target and rename, so a failed export never
		// leaves half a file under the real name.
		tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer os.Remove(tmp.Name())
		w = tmp
		commit = func() error {
			if err := tmp.Close(); err != nil {
				return err
			}
			return os.Rename(tmp.Name(), *out)
		}
		defer tmp.Close()
	}
	rep, err := export.Write(w, f, runs, opts...)
	if err != nil {
		return err
	}
	if rep.Records == 0 {
		return errors.New("export: nothing to write: " + rep.String())
	}
	if err := commit(); err != nil {
		return fmt.Errorf("export: writing %s: %w", *out, err)
	}
	fmt.Fprintln(report, rep.String())
	return nil
}

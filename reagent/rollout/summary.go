package rollout

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/suite"
)

// Summary is the outcome of a collection, one row per suite.
type Summary struct {
	Strategy Strategy `json:"strategy"`
	Model    string   `json:"model,omitempty"`
	Rows     []*Row   `json:"rows"`
	bySuite  map[string]*Row
}

// Row summarises one suite. A sample is one chain (one run, or a first run
// and its refinement); success means a rule reward of 1.
type Row struct {
	Suite   string `json:"suite"`
	Tasks   int    `json:"tasks"`
	Samples int    `json:"samples"`
	// Runs counts the runs (attempts) of the samples, stored or resumed.
	Runs int `json:"runs"`
	// Resumed counts samples found finished in the store and not run again.
	Resumed int `json:"resumed"`
	// FirstSuccess and FinalSuccess are the success rates of the first and
	// the reported attempt of each sample (Reagent-C: the refined attempt,
	// or the first when it was not flagged or the refinement was judged
	// worse; Reagent-U: the refined attempt); they differ only for
	// strategies that refine.
	FirstSuccess float64 `json:"first_success"`
	FinalSuccess float64 `json:"final_success"`
	// MeanReward averages the reward of every run that was not dropped.
	MeanReward float64 `json:"mean_reward"`
	// MeanScore averages the RRM score of every judged run.
	MeanScore float64 `json:"mean_score"`
	Judged    int     `json:"judged"`
	// JudgeErrors counts runs whose judgment failed (never read as a
	// score); Unjudged those with no judgment at all (no judge, a run that
	// broke). Dropped and RuleOnly say what the reward policy did with runs
	// that needed a score and had none.
	JudgeErrors int `json:"judge_errors"`
	Unjudged    int `json:"unjudged"`
	Dropped     int `json:"dropped"`
	RuleOnly    int `json:"rule_only"`
	// Failed counts runs that broke (the model endpoint failed).
	Failed int `json:"failed"`
	// Incomplete counts samples whose refinement stopped early for want of
	// a critique or because a run broke (an answer the RRM did not flag is
	// not incomplete).
	Incomplete int `json:"incomplete"`
	// Refined counts samples whose first answer was refined; KeptFirst
	// those among them whose refined answer was judged worse, so that an
	// earlier one is reported; NotFlagged those whose first answer scored
	// at or above the refine threshold.
	Refined    int `json:"refined"`
	KeptFirst  int `json:"kept_first"`
	NotFlagged int `json:"not_flagged"`

	tasks               map[string]bool
	firstOK, finalOK    int
	rewardSum, scoreSum float64
	rewarded            int
}

func newSummary(c *config) *Summary {
	return &Summary{Strategy: c.strategy, Model: c.modelName, bySuite: map[string]*Row{}}
}

func (s *Summary) add(t suite.Task, r *unitResult) {
	row := s.bySuite[t.Suite]
	if row == nil {
		row = &Row{Suite: t.Suite, tasks: map[string]bool{}}
		s.bySuite[t.Suite] = row
		s.Rows = append(s.Rows, row)
		sort.Slice(s.Rows, func(i, j int) bool { return s.Rows[i].Suite < s.Rows[j].Suite })
	}
	if !row.tasks[t.ID] {
		row.tasks[t.ID] = true
		row.Tasks++
	}
	row.Samples++
	if r.resumed {
		row.Resumed++
	}
	switch {
	case r.choice == reagent.ChoiceNotFlagged:
		row.NotFlagged++
	case r.stopped != "":
		row.Incomplete++
	}
	if len(r.attempts) > 1 {
		row.Refined++
	}
	if r.choice == reagent.ChoiceKeptEarlier {
		row.KeptFirst++
	}
	chosen := r.chosen
	if chosen < 0 || chosen >= len(r.attempts) {
		chosen = len(r.attempts) - 1
	}
	for i, a := range r.attempts {
		row.Runs++
		if a.failed {
			row.Failed++
		}
		if i == 0 && a.rule == 1 {
			row.firstOK++
		}
		if i == chosen && a.rule == 1 {
			row.finalOK++
		}
		switch {
		case a.reward.Judged:
			row.Judged++
			row.scoreSum += a.reward.Score
		case a.judgeFailed:
			row.JudgeErrors++
		default:
			row.Unjudged++
		}
		if a.reward.Dropped {
			row.Dropped++
		} else {
			row.rewarded++
			row.rewardSum += a.reward.Reward
		}
		if a.reward.RuleOnly {
			row.RuleOnly++
		}
	}
	row.FirstSuccess = ratio(row.firstOK, row.Samples)
	row.FinalSuccess = ratio(row.finalOK, row.Samples)
	row.MeanReward = mean(row.rewardSum, row.rewarded)
	row.MeanScore = mean(row.scoreSum, row.Judged)
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func mean(sum float64, n int) float64 {
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// Total returns the rows added up over every suite.
func (s *Summary) Total() Row {
	var t Row
	t.Suite = "total"
	for _, r := range s.Rows {
		t.Tasks += r.Tasks
		t.Samples += r.Samples
		t.Runs += r.Runs
		t.Resumed += r.Resumed
		t.Judged += r.Judged
		t.JudgeErrors += r.JudgeErrors
		t.Unjudged += r.Unjudged
		t.Dropped += r.Dropped
		t.RuleOnly += r.RuleOnly
		t.Failed += r.Failed
		t.Incomplete += r.Incomplete
		t.Refined += r.Refined
		t.KeptFirst += r.KeptFirst
		t.NotFlagged += r.NotFlagged
		t.firstOK += r.firstOK
		t.finalOK += r.finalOK
		t.rewardSum += r.rewardSum
		t.scoreSum += r.scoreSum
		t.rewarded += r.rewarded
	}
	t.FirstSuccess = ratio(t.firstOK, t.Samples)
	t.FinalSuccess = ratio(t.finalOK, t.Samples)
	t.MeanReward = mean(t.rewardSum, t.rewarded)
	t.MeanScore = mean(t.scoreSum, t.Judged)
	return t
}

// WriteTable prints the summary as an aligned table.
func (s *Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "suite\tstrategy\ttasks\tsamples\truns\tresumed\tsuccess@1\tsuccess\tmean reward\tmean RRM\tjudge errors\tdropped\tfailed\trefined\tkept first\t\n")
	rows := append([]*Row(nil), s.Rows...)
	if len(rows) > 1 {
		t := s.Total()
		rows = append(rows, &t)
	}
	for _, r := range rows {
		score := "-"
		if r.Judged > 0 {
			score = fmt.Sprintf("%.3f", r.MeanScore)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.1f%%\t%.1f%%\t%.3f\t%s\t%d\t%d\t%d\t%d\t%d\t\n",
			r.Suite, s.Strategy, r.Tasks, r.Samples, r.Runs, r.Resumed, 100*r.FirstSuccess, 100*r.FinalSuccess,
			r.MeanReward, score, r.JudgeErrors, r.Dropped, r.Failed, r.Refined, r.KeptFirst)
	}
	return tw.Flush()
}

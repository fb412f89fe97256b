// Package export writes collected trajectories in the formats of
// reinforcement-learning trainers: verl parquet datasets, OpenRLHF JSONL,
// ART trajectory groups, and chat JSONL with a trainable mask for
// supervised fine-tuning.
package export

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/reagent-go/reagent/run"

	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/trajectory"
)

// Format names an export format.
type Format string

// Formats.
const (
	// Verl is a parquet file with one row per task prompt: {data_source,
	// prompt, ability, reward_model: {style, ground_truth}, extra_info}.
	Verl Format = "verl"
	// OpenRLHF is JSONL with one line per run: the prompt under "input" and
	// the reference under "label" (OpenRLHF's --input_key/--label_key), plus
	// the response messages and the reward.
	OpenRLHF Format = "openrlhf"
	// ART is JSONL with one ART TrajectoryGroup per line (runs grouped by
	// GroupID): {trajectories: [{messages_and_choices, tools, reward,
	// metrics, metadata, logs}]}.
	ART Format = "art"
	// SFT is chat JSONL, one run per line: OpenAI-shape messages (assistant
	// messages carry "weight") and the trainable mask.
	SFT Format = "sft"
)

// Formats lists the export formats.
func Formats() []Format { return []Format{Verl, OpenRLHF, ART, SFT} }

// ParseFormat reads a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == strings.ToLower(s) {
			return f, nil
		}
	}
	return "", fmt.Errorf("export: unknown format %q (want verl, openrlhf, art or sft)", s)
}

// RewardFunc returns a run's reward, or false when it has none (a dropped
// sample).
type RewardFunc func(*trajectory.Trajectory) (float64, bool)

// Option configures Write.
type Option func(*config)

type config struct {
	reward    RewardFunc
	minReward *float64
	failed    bool
	noRRM     bool
	groupBy   string
}

// Where an exported run's reward came from, written as "reward_source" in
// every record that carries a reward.
const (
	// SourceRule is a collected run's reward: R_rule against its reference
	// answer, plus λ·score when it was judged (Reagent-R).
	SourceRule = "rule"
	// SourceRRM is a production run's reward: it has no reference answer,
	// so the reward is the RRM score of its last judgment alone (Reagent-R
	// with the rule term absent).
	SourceRRM = "rrm"
)

// WithoutRRMRewards leaves out runs that have no reference answer instead
// of rewarding them with their RRM score (SourceRRM).
func WithoutRRMRewards() Option { return func(c *config) { c.noRRM = true } }

// WithGroupBy sets how ART groups are formed: "" (default) by the rollout
// group, else by the task; "task" by the task text; any other value names
// a metadata key (runs without it are grouped by task).
func WithGroupBy(key string) Option { return func(c *config) { c.groupBy = key } }

// leftOut is why a run has no reward.
type leftOut int

const (
	keptRun     leftOut = iota
	noReward            // a collected run whose reward was dropped (its judgment failed)
	noJudgment          // no reference answer and no RRM judgment
	judgeFailed         // no reference answer and the judgment failed
)

// rewardOf finds a run's reward: the configured RewardFunc (rule reward and
// λ·score) for collected runs, else, for a run with no reference answer
// (no rule reward), the RRM score of its last judgment.
func (c *config) rewardOf(t *trajectory.Trajectory) (float64, string, leftOut) {
	if r, ok := c.reward(t); ok {
		return r, SourceRule, keptRun
	}
	if _, collected := t.Metadata[reagent.MetaRuleReward]; collected || t.Metadata[reagent.MetaAnswer] != "" || c.noRRM {
		return 0, "", noReward
	}
	a := reward.FinalAssessment(t)
	switch {
	case a == nil:
		return 0, "", noJudgment
	case !a.OK():
		return 0, "", judgeFailed
	}
	return a.Score, SourceRRM, keptRun
}

// count records why a run was left out.
func (r *Report) count(why leftOut) {
	switch why {
	case noReward:
		r.NoReward++
	case noJudgment:
		r.NoJudgment++
	case judgeFailed:
		r.JudgeFailed++
	}
}

// WithReward sets how a run's reward is found (default: the rollout
// collector's metadata and the run's last assessment, λ from the metadata,
// failed judgments dropped; see reagent.RewardFunc).
func WithReward(f RewardFunc) Option {
	return func(c *config) {
		if f != nil {
			c.reward = f
		}
	}
}

// WithMinReward keeps only runs whose reward is at least r (for example the
// successful runs, for rejection-sampling SFT). Runs without a reward are
// then left out too.
func WithMinReward(r float64) Option { return func(c *config) { c.minReward = &r } }

// WithFailedRuns keeps runs that broke (status error or cancelled, such as
// a model endpoint that failed); they are left out by default.
func WithFailedRuns() Option { return func(c *config) { c.failed = true } }

// Report says what Write wrote and what it left out.
type Report struct {
	Format Format `json:"format"`
	Runs   int    `json:"runs"`
	// Records is the number of rows (verl) or lines written.
	Records int `json:"records"`
	// Groups is the number of ART groups written.
	Groups int `json:"groups,omitempty"`
	// NoReward counts runs left out because they had no reward (ART, and
	// every format under WithMinReward); OpenRLHF lines omit the reward.
	NoReward int `json:"no_reward"`
	// BelowMin counts runs under the WithMinReward threshold.
	BelowMin int `json:"below_min,omitempty"`
	// Failed counts runs left out because they broke.
	Failed int `json:"failed"`
	// NoAnswer counts runs without a reference answer, left out of verl.
	NoAnswer int `json:"no_answer,omitempty"`
	// Duplicates counts runs whose prompt was already a verl row.
	Duplicates int `json:"duplicates,omitempty"`
	// Empty counts runs with no assistant message, which teach nothing.
	Empty int `json:"empty,omitempty"`
	// NoJudgment counts runs left out with neither a reference answer nor
	// an RRM judgment: nothing says how good they were.
	NoJudgment int `json:"no_judgment,omitempty"`
	// JudgeFailed counts runs without a reference answer whose judgment
	// failed: never scored 0 in its place.
	JudgeFailed int `json:"judge_failed,omitempty"`
	// FromRRM counts written runs whose reward is their RRM score alone
	// (SourceRRM: production runs without a reference answer).
	FromRRM int `json:"from_rrm,omitempty"`
	// Singletons counts ART groups of one trajectory, which carry no
	// group-relative advantage (use WithGroupBy to group such runs).
	Singletons int `json:"singletons,omitempty"`
}

// String is a one-line summary.
func (r Report) String() string {
	s := fmt.Sprintf("%s: %d runs -> %d records", r.Format, r.Runs, r.Records)
	if r.Groups > 0 {
		s += fmt.Sprintf(" in %d groups", r.Groups)
	}
	var left []string
	for _, p := range []struct {
		n    int
		what string
	}{{r.NoReward, "without a reward"}, {r.BelowMin, "below the minimum reward"}, {r.Failed, "failed runs"},
		{r.NoAnswer, "without a reference answer"}, {r.Duplicates, "duplicate prompts"}, {r.Empty, "without an assistant message"},
		{r.NoJudgment, "with neither a reference answer nor an RRM judgment"}, {r.JudgeFailed, "without a reference answer whose judgment failed"}} {
		if p.n > 0 {
			left = append(left, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(left) > 0 {
		s += " (left out: " + strings.Join(left, ", ") + ")"
	}
	if r.FromRRM > 0 {
		s += fmt.Sprintf("; %d rewarded by their RRM score alone (no reference answer)", r.FromRRM)
	}
	if r.Singletons > 0 {
		s += fmt.Sprintf("; %d groups of one run (no group-relative advantage: record each task several times, or group by a metadata key with --group-by)", r.Singletons)
	}
	return s
}

// Write writes runs to w in format f.
func Write(w io.Writer, f Format, runs []*trajectory.Trajectory, opts ...Option) (Report, error) {
	cfg := &config{reward: reagent.RewardFunc(reward.NewCombiner(), false)}
	for _, o := range opts {
		o(cfg)
	}
	rep := Report{Format: f}
	var kept []*trajectory.Trajectory
	for _, t := range runs {
		if t == nil {
			continue
		}
		rep.Runs++
		if !cfg.failed && (t.Status.Broken()) {
			rep.Failed++
			continue
		}
		if cfg.minReward != nil {
			r, _, why := cfg.rewardOf(t)
			if why != keptRun {
				rep.count(why)
				continue
			}
			if r < *cfg.minReward {
				rep.BelowMin++
				continue
			}
		}
		kept = append(kept, t)
	}
	var err error
	switch f {
	case Verl:
		err = writeVerl(w, kept, cfg, &rep)
	case OpenRLHF:
		err = writeOpenRLHF(w, kept, cfg, &rep)
	case ART:
		err = writeART(w, kept, cfg, &rep)
	case SFT:
		err = writeSFT(w, kept, cfg, &rep)
	default:
		return rep, fmt.Errorf("export: unknown format %q", f)
	}
	if err != nil {
		return rep, fmt.Errorf("export %s: %w", f, err)
	}
	return rep, nil
}

// Message is a chat message in the OpenAI shape, with tool calls nested as
// {id, type: "function", function: {name, arguments}}.
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	// Weight is set on assistant messages of SFT lines: 1 to train on the
	// message, 0 not to (OpenAI's fine-tuning format).
	Weight *int `json:"weight,omitempty"`
}

// ToolCall is a tool call in the OpenAI shape.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function of a ToolCall.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Messages converts reagent messages to the OpenAI shape.
func Messages(in []trajectory.Message) []Message {
	out := make([]Message, len(in))
	for i, m := range in {
		out[i] = Message{Role: m.Role, Content: m.Content, Name: m.Name, ToolCallID: m.ToolCallID}
		for _, c := range m.ToolCalls {
			out[i].ToolCalls = append(out[i].ToolCalls, ToolCall{ID: c.ID, Type: "function", Function: FunctionCall{Name: c.Name, Arguments: c.Arguments}})
		}
	}
	return out
}

// Chat returns the run's chat view (Trajectory.Chat) for training. When the
// recorded prompt already holds an injected critique (the middleware puts
// it in the first model call's messages), the second copy that the chat
// view adds as a user message is removed, so the model is trained on
// exactly the prompt it saw.
func Chat(t *trajectory.Trajectory) trajectory.Chat {
	c := t.Chat()
	if len(t.Steps) == 0 {
		return c
	}
	crit := t.Steps[0].Critique
	if crit == "" {
		return c
	}
	injected := run.CritiquePrefix + crit
	seen := false
	for _, m := range c.Messages {
		if m.Role == "system" && m.Content == injected {
			seen = true
			break
		}
	}
	if !seen {
		return c
	}
	dup := "Critique of your reasoning so far: " + crit
	out := trajectory.Chat{}
	for i, m := range c.Messages {
		if m.Role == "user" && m.Content == dup {
			continue
		}
		out.Messages = append(out.Messages, m)
		out.Trainable = append(out.Trainable, c.Trainable[i])
	}
	return out
}

// promptOf splits a chat into its prompt (the messages before the first
// trainable one) and the response (the rest).
func promptOf(c trajectory.Chat) (prompt, response []trajectory.Message) {
	for i, tr := range c.Trainable {
		if tr {
			return c.Messages[:i], c.Messages[i:]
		}
	}
	return c.Messages, nil
}

func hasTrainable(c trajectory.Chat) bool {
	for _, tr := range c.Trainable {
		if tr {
			return true
		}
	}
	return false
}

// writeJSONLine writes v as one line, leaving <, > and & as they are.
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

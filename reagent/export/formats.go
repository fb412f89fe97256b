package export

import (
	"encoding/json"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"

	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/trajectory"
)

// VerlRow is one row of a verl dataset.
type VerlRow struct {
	DataSource  string        `parquet:"data_source" json:"data_source"`
	Prompt      []VerlMessage `parquet:"prompt,list" json:"prompt"`
	Ability     string        `parquet:"ability" json:"ability"`
	RewardModel VerlReward    `parquet:"reward_model" json:"reward_model"`
	ExtraInfo   VerlExtra     `parquet:"extra_info" json:"extra_info"`
}

// VerlMessage is a prompt message of a verl row.
type VerlMessage struct {
	Role    string `parquet:"role" json:"role"`
	Content string `parquet:"content" json:"content"`
}

// VerlReward says how verl scores a response: style "rule" with the
// reference answer as ground truth (reagent's reward service and
// ppo/verl_reward.py add the RRM score), or style "model" with no ground
// truth for a production run: the reward model (reagent serve-reward, the
// RRM alone) scores every response.
type VerlReward struct {
	Style       string `parquet:"style" json:"style"`
	GroundTruth string `parquet:"ground_truth" json:"ground_truth"`
}

// VerlExtra is the extra_info of a verl row; verl hands it to
// compute_score.
type VerlExtra struct {
	Split        string   `parquet:"split" json:"split"`
	Index        int64    `parquet:"index" json:"index"`
	TaskID       string   `parquet:"task_id" json:"task_id"`
	Question     string   `parquet:"question" json:"question"`
	Suite        string   `parquet:"suite" json:"suite"`
	Rule         string   `parquet:"rule" json:"rule"`
	Tools        []string `parquet:"tools,list" json:"tools"`
	TrajectoryID string   `parquet:"trajectory_id" json:"trajectory_id"`
	// RewardSource is SourceRule or SourceRRM (see VerlReward).
	RewardSource string `parquet:"reward_source" json:"reward_source"`
}

// verlRows builds one row per task from first attempts (round 0): refined
// attempts' prompts hold a critique of another run and are left out.
func verlRows(runs []*trajectory.Trajectory, cfg *config, rep *Report) []VerlRow {
	var rows []VerlRow
	seen := map[string]bool{}
	for _, t := range runs {
		answer := t.Metadata[reagent.MetaAnswer]
		style, source := "rule", SourceRule
		if answer == "" {
			if cfg.noRRM {
				rep.NoAnswer++
				continue
			}
			// A production run: verl's reward model (the RRM) scores the
			// responses; the run itself must have been judged, so that
			// every exported run is one the RRM could score.
			if _, src, why := cfg.rewardOf(t); why != keptRun || src != SourceRRM {
				if why == keptRun {
					why = noReward
				}
				rep.count(why)
				continue
			}
			style, source = "model", SourceRRM
		}
		key := t.Metadata[reagent.MetaTask]
		if key == "" {
			key = "task:" + t.Task
		}
		if t.Round > 0 || seen[key] {
			rep.Duplicates++
			continue
		}
		prompt, _ := promptOf(Chat(t))
		if len(prompt) == 0 {
			rep.Empty++
			continue
		}
		seen[key] = true
		suite := t.Metadata[reagent.MetaSuite]
		row := VerlRow{
			DataSource:  "reagent/" + orDefault(suite, "custom"),
			Ability:     "agent",
			RewardModel: VerlReward{Style: style, GroundTruth: answer},
			ExtraInfo: VerlExtra{
				Split:        t.Metadata[reagent.MetaSplit],
				Index:        int64(len(rows)),
				TaskID:       t.Metadata[reagent.MetaTask],
				Question:     t.Task,
				Suite:        suite,
				Rule:         t.Metadata[reagent.MetaRule],
				Tools:        []string{},
				TrajectoryID: t.ID,
				RewardSource: source,
			},
		}
		if source == SourceRRM {
			rep.FromRRM++
		}
		if suite == "arith" || suite == "arith2" {
			row.Ability = "math"
		}
		for _, s := range t.Tools {
			row.ExtraInfo.Tools = append(row.ExtraInfo.Tools, s.Name)
		}
		for _, m := range prompt {
			row.Prompt = append(row.Prompt, VerlMessage{Role: m.Role, Content: m.Content})
		}
		rows = append(rows, row)
	}
	return rows
}

func writeVerl(w io.Writer, runs []*trajectory.Trajectory, cfg *config, rep *Report) error {
	rows := verlRows(runs, cfg, rep)
	pw := parquet.NewGenericWriter[VerlRow](w, parquet.Compression(&parquet.Zstd))
	if _, err := pw.Write(rows); err != nil {
		return err
	}
	if err := pw.Close(); err != nil {
		return err
	}
	rep.Records = len(rows)
	return nil
}

// OpenRLHFLine is one line of the OpenRLHF export.
type OpenRLHFLine struct {
	// Input is the prompt (system and user messages): --input_key input
	// with --apply_chat_template.
	Input []Message `json:"input"`
	// Label is the reference answer: --label_key label; OpenRLHF sends it
	// to the remote reward service.
	Label      string    `json:"label"`
	DataSource string    `json:"datasource"`
	Output     []Message `json:"output"`
	// Reward is omitted when the run has none (a dropped sample).
	Reward *float64 `json:"reward,omitempty"`
	// RewardSource is SourceRule or SourceRRM, with Reward.
	RewardSource string            `json:"reward_source,omitempty"`
	TrajectoryID string            `json:"trajectory_id"`
	GroupID      string            `json:"group_id,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

func writeOpenRLHF(w io.Writer, runs []*trajectory.Trajectory, cfg *config, rep *Report) error {
	for _, t := range runs {
		c := Chat(t)
		if !hasTrainable(c) {
			rep.Empty++
			continue
		}
		prompt, response := promptOf(c)
		line := OpenRLHFLine{
			Input:        Messages(prompt),
			Label:        t.Metadata[reagent.MetaAnswer],
			DataSource:   orDefault(t.Metadata[reagent.MetaSuite], "custom"),
			Output:       Messages(response),
			TrajectoryID: t.ID,
			GroupID:      t.GroupID,
			Metadata:     t.Metadata,
		}
		if r, src, why := cfg.rewardOf(t); why == keptRun {
			line.Reward, line.RewardSource = &r, src
			if src == SourceRRM {
				rep.FromRRM++
			}
		} else {
			rep.count(why)
		}
		if err := writeJSONLine(w, line); err != nil {
			return err
		}
		rep.Records++
	}
	return nil
}

// ARTGroup is one ART TrajectoryGroup.
type ARTGroup struct {
	Trajectories []ARTTrajectory `json:"trajectories"`
}

// ARTTrajectory is one trajectory of an ART group. MessagesAndChoices holds
// plain messages for the prompt and tool results and OpenAI Choice objects
// for the model's own turns, which ART trains on.
type ARTTrajectory struct {
	MessagesAndChoices []any              `json:"messages_and_choices"`
	Tools              []Tool             `json:"tools,omitempty"`
	Reward             float64            `json:"reward"`
	Metrics            map[string]float64 `json:"metrics"`
	Metadata           map[string]string  `json:"metadata"`
	Logs               []string           `json:"logs"`
}

// ARTChoice is an OpenAI chat-completion Choice.
type ARTChoice struct {
	FinishReason string  `json:"finish_reason"`
	Index        int     `json:"index"`
	Logprobs     any     `json:"logprobs"`
	Message      Message `json:"message"`
}

// Tool is a tool definition in the OpenAI shape.
type Tool struct {
	Type     string       `json:"type"`
	Function ToolFunction `json:"function"`
}

// ToolFunction is the function of a Tool.
type ToolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

func toolsOf(t *trajectory.Trajectory) []Tool {
	var out []Tool
	for _, s := range t.Tools {
		tool := Tool{Type: "function", Function: ToolFunction{Name: s.Name, Description: s.Description}}
		if len(s.Parameters) > 0 && json.Valid(s.Parameters) {
			tool.Function.Parameters = s.Parameters
		}
		out = append(out, tool)
	}
	return out
}

func writeART(w io.Writer, runs []*trajectory.Trajectory, cfg *config, rep *Report) error {
	var order []string
	groups := map[string]*ARTGroup{}
	for i, t := range runs {
		r, src, why := cfg.rewardOf(t)
		if why != keptRun {
			rep.count(why)
			continue
		}
		c := Chat(t)
		if !hasTrainable(c) {
			rep.Empty++
			continue
		}
		if src == SourceRRM {
			rep.FromRRM++
		}
		at := ARTTrajectory{
			Tools:    toolsOf(t),
			Reward:   r,
			Metrics:  map[string]float64{"round": float64(t.Round), "steps": float64(len(t.Steps))},
			Metadata: map[string]string{"trajectory_id": t.ID, "group_id": t.GroupID},
			Logs:     []string{},
		}
		for k, v := range t.Metadata {
			at.Metadata[k] = v
		}
		at.Metadata["reward_source"] = src
		if tr, ok := reagent.TrainingOf(t); ok {
			at.Metrics[reagent.MetaRuleReward] = tr.RuleReward
			if tr.Score != nil {
				at.Metrics[reagent.MetaScore] = *tr.Score
			}
		}
		msgs := Messages(c.Messages)
		for j, m := range msgs {
			if !c.Trainable[j] {
				at.MessagesAndChoices = append(at.MessagesAndChoices, m)
				continue
			}
			finish := "stop"
			if len(m.ToolCalls) > 0 {
				finish = "tool_calls"
			}
			at.MessagesAndChoices = append(at.MessagesAndChoices, ARTChoice{FinishReason: finish, Message: m})
		}
		key := groupKey(t, cfg.groupBy, i)
		g := groups[key]
		if g == nil {
			g = &ARTGroup{}
			groups[key] = g
			order = append(order, key)
		}
		g.Trajectories = append(g.Trajectories, at)
	}
	for _, k := range order {
		if len(groups[k].Trajectories) == 1 {
			rep.Singletons++
		}
		if err := writeJSONLine(w, groups[k]); err != nil {
			return err
		}
		rep.Records++
		rep.Groups++
	}
	return nil
}

// SFTLine is one line of the SFT export.
type SFTLine struct {
	Messages  []Message `json:"messages"`
	Trainable []bool    `json:"trainable"`
	Tools     []Tool    `json:"tools,omitempty"`
	Reward    *float64  `json:"reward,omitempty"`
	// RewardSource is SourceRule or SourceRRM, with Reward.
	RewardSource string            `json:"reward_source,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

func writeSFT(w io.Writer, runs []*trajectory.Trajectory, cfg *config, rep *Report) error {
	for _, t := range runs {
		c := Chat(t)
		if !hasTrainable(c) {
			rep.Empty++
			continue
		}
		line := SFTLine{Messages: Messages(c.Messages), Trainable: c.Trainable, Tools: toolsOf(t), Metadata: t.Metadata}
		for i := range line.Messages {
			if line.Messages[i].Role == "assistant" {
				wt := 0
				if c.Trainable[i] {
					wt = 1
				}
				line.Messages[i].Weight = &wt
			}
		}
		if r, src, why := cfg.rewardOf(t); why == keptRun {
			line.Reward, line.RewardSource = &r, src
			if src == SourceRRM {
				rep.FromRRM++
			}
		}
		if err := writeJSONLine(w, line); err != nil {
			return err
		}
		rep.Records++
	}
	return nil
}

// groupKey is the ART group of run i: its rollout group (by default, when
// it has one), its task, or a metadata value.
func groupKey(t *trajectory.Trajectory, by string, i int) string {
	switch by {
	case "":
		if t.GroupID != "" {
			return "g\x00" + t.GroupID
		}
	case "task":
	default:
		if v := t.Metadata[by]; v != "" {
			return "m\x00" + v
		}
	}
	if t.Task != "" {
		return "t\x00" + t.Task
	}
	return "r\x00" + strconv.Itoa(i)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

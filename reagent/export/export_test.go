package export_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lcagents "github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/agents"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/internal/policytest"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/reagent/export"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/tools/calculator"
	"github.com/reagent-go/reagent/trajectory"
)

// collected runs Reagent-C on two arithmetic questions through the real
// middleware, agent, calculator and heuristic judge (only the policy
// endpoint is scripted) and labels the runs as the rollout collector does.
func collected(t *testing.T) []*trajectory.Trajectory {
	t.Helper()
	policy := llmtest.NewFunc(t, policytest.Arith("It is 7."))
	llm, err := openai.New(openai.WithBaseURL(policy.URL), openai.WithToken("t"), openai.WithModel("policy"))
	require.NoError(t, err)
	exec := middleware.Wrap(lcagents.NewExecutor(agents.NewToolCalling(llm, []tools.Tool{calculator.New()},
		agents.WithSystemPrompt("You solve arithmetic problems."))))
	var runs []*trajectory.Trajectory
	for i, q := range []struct{ question, answer string }{{"What is 6 * 7?", "42"}, {"What is 5 + 5?", "10"}} {
		res, err := reagent.Refine(context.Background(), exec, rrm.NewHeuristic(), q.question,
			reagent.WithMetadata(map[string]string{
				reagent.MetaSuite: "arith", reagent.MetaTask: "arith-" + string(rune('a'+i)), reagent.MetaSplit: "train",
				reagent.MetaAnswer: q.answer, reagent.MetaRule: "numeric", reagent.MetaLambda: "0.3",
			}))
		require.NoError(t, err)
		require.Len(t, res.Attempts, 2)
		for _, at := range res.Attempts {
			tr := at.Trajectory.Clone()
			tr.Assessments = append(tr.Assessments, *at.Assessment)
			rule := "0"
			if tr.FinalAnswer == q.answer {
				rule = "1"
			}
			tr.Metadata[reagent.MetaRuleReward] = rule
			runs = append(runs, tr)
		}
	}
	return runs
}

func TestExportFormatsReadBack(t *testing.T) {
	runs := collected(t)
	// A broken run and a run whose judgment failed (dropped by default).
	broken := runs[0].Clone()
	broken.ID, broken.Status, broken.GroupID = "broken", trajectory.StatusError, "g-broken"
	dropped := runs[1].Clone()
	dropped.ID = "dropped"
	dropped.Assessments = append(dropped.Assessments, trajectory.Assessment{Status: trajectory.AssessmentError, Error: "judge timeout"})
	all := append(append([]*trajectory.Trajectory{}, runs...), broken, dropped)
	dir := t.TempDir()

	t.Run("verl", func(t *testing.T) {
		path := filepath.Join(dir, "train.parquet")
		f, err := os.Create(path)
		require.NoError(t, err)
		rep, err := export.Write(f, export.Verl, all)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		assert.Equal(t, 2, rep.Records, "one row per task")
		assert.Equal(t, 1, rep.Failed)

		rows, err := parquet.ReadFile[export.VerlRow](path)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		r := rows[0]
		assert.Equal(t, "reagent/arith", r.DataSource)
		assert.Equal(t, "math", r.Ability)
		assert.Equal(t, export.VerlReward{Style: "rule", GroundTruth: "42"}, r.RewardModel)
		require.Len(t, r.Prompt, 2)
		assert.Equal(t, export.VerlMessage{Role: "system", Content: "You solve arithmetic problems."}, r.Prompt[0])
		assert.Equal(t, export.VerlMessage{Role: "user", Content: "What is 6 * 7?"}, r.Prompt[1])
		assert.Equal(t, "arith-a", r.ExtraInfo.TaskID)
		assert.Equal(t, []string{"calculator"}, r.ExtraInfo.Tools)
		assert.Equal(t, int64(1), rows[1].ExtraInfo.Index)
		assert.Equal(t, "10", rows[1].RewardModel.GroundTruth)

		// The schema uses parquet's LIST type for the prompt, which
		// pyarrow and pandas read as a list of {role, content} dicts.
		pf, err := os.Open(path)
		require.NoError(t, err)
		defer pf.Close()
		st, _ := pf.Stat()
		file, err := parquet.OpenFile(pf, st.Size())
		require.NoError(t, err)
		schema := file.Schema().String()
		assert.Contains(t, schema, "prompt (LIST)")
		for _, col := range []string{"data_source", "ability", "reward_model", "ground_truth", "extra_info", "style"} {
			assert.Contains(t, schema, col)
		}
	})

	t.Run("openrlhf", func(t *testing.T) {
		var buf bytes.Buffer
		rep, err := export.Write(&buf, export.OpenRLHF, all)
		require.NoError(t, err)
		assert.Equal(t, 5, rep.Records)
		assert.Equal(t, 1, rep.NoReward)
		lines := readLines[export.OpenRLHFLine](t, &buf)
		require.Len(t, lines, 5)
		first, refined := lines[0], lines[1]
		assert.Equal(t, "42", first.Label)
		assert.Equal(t, "arith", first.DataSource)
		require.Len(t, first.Input, 2)
		assert.Equal(t, "user", first.Input[1].Role)
		require.NotNil(t, first.Reward)
		assert.Less(t, *first.Reward, 1.0, "a wrong guess: rule 0 plus 0.3 times a low score")
		require.NotNil(t, refined.Reward)
		assert.Greater(t, *refined.Reward, 1.0)
		// The refined run's prompt carries the critique once, as the model saw it.
		var critiques int
		for _, m := range refined.Input {
			if strings.Contains(m.Content, "Critique") {
				critiques++
			}
		}
		assert.Equal(t, 1, critiques)
		require.NotEmpty(t, refined.Output)
		assert.Equal(t, "calculator", refined.Output[0].ToolCalls[0].Function.Name)
		assert.Equal(t, "function", refined.Output[0].ToolCalls[0].Type)
		assert.Equal(t, "tool", refined.Output[1].Role)
		assert.Equal(t, "42", refined.Output[1].Content)
		assert.Nil(t, lines[4].Reward, "the dropped run has no reward")
	})

	t.Run("art", func(t *testing.T) {
		var buf bytes.Buffer
		rep, err := export.Write(&buf, export.ART, all)
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Groups, "grouped by GroupID")
		assert.Equal(t, 1, rep.NoReward)
		assert.Equal(t, 1, rep.Failed)
		type artTrajectory struct {
			MessagesAndChoices []map[string]any   `json:"messages_and_choices"`
			Tools              []export.Tool      `json:"tools"`
			Reward             float64            `json:"reward"`
			Metrics            map[string]float64 `json:"metrics"`
			Metadata           map[string]string  `json:"metadata"`
		}
		type artGroup struct {
			Trajectories []artTrajectory `json:"trajectories"`
		}
		var groups []artGroup
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			var g artGroup
			require.NoError(t, json.Unmarshal(sc.Bytes(), &g))
			groups = append(groups, g)
		}
		require.Len(t, groups, 2)
		require.Len(t, groups[0].Trajectories, 2, "o1 and o2 of one task share a group")
		tr := groups[0].Trajectories[1]
		assert.Equal(t, "calculator", tr.Tools[0].Function.Name)
		assert.Equal(t, 1.0, tr.Metrics["rule_reward"])
		assert.Equal(t, 1.0, tr.Metrics["round"])
		assert.Equal(t, groups[0].Trajectories[0].Metadata["group_id"], tr.Metadata["group_id"])
		// Model turns are Choices, everything else plain messages.
		var choices int
		for _, mc := range tr.MessagesAndChoices {
			if msg, ok := mc["message"].(map[string]any); ok {
				choices++
				assert.Equal(t, "assistant", msg["role"])
				assert.Contains(t, []any{"stop", "tool_calls"}, mc["finish_reason"])
			} else {
				assert.NotEqual(t, "assistant", mc["role"])
			}
		}
		assert.Equal(t, 2, choices)
	})

	t.Run("sft", func(t *testing.T) {
		var buf bytes.Buffer
		rep, err := export.Write(&buf, export.SFT, all, export.WithMinReward(1))
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Records, "only the successful refined runs")
		assert.Equal(t, 2, rep.BelowMin)
		assert.Equal(t, 1, rep.NoReward)
		lines := readLines[export.SFTLine](t, &buf)
		require.Len(t, lines, 2)
		l := lines[0]
		require.Len(t, l.Trainable, len(l.Messages))
		for i, m := range l.Messages {
			if m.Role == "assistant" {
				require.NotNil(t, m.Weight)
				assert.Equal(t, 1, *m.Weight)
				assert.True(t, l.Trainable[i])
			} else {
				assert.Nil(t, m.Weight)
				assert.False(t, l.Trainable[i])
			}
		}
		assert.Equal(t, "42", l.Messages[len(l.Messages)-1].Content)
		assert.Contains(t, rep.String(), "2 below the minimum reward")
	})

	_, err := export.ParseFormat("csv")
	assert.Error(t, err)
	f, err := export.ParseFormat("ART")
	require.NoError(t, err)
	assert.Equal(t, export.ART, f)
	_, err = export.Write(&bytes.Buffer{}, export.Format("csv"), all)
	assert.Error(t, err)
}

func readLines[T any](t *testing.T, buf *bytes.Buffer) []T {
	t.Helper()
	var out []T
	sc := bufio.NewScanner(buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&v))
		out = append(out, v)
	}
	return out
}

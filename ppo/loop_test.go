package ppo

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/reagent-go/reagent/trajectory"
)

// TestLoopAgainstBackend runs three real rollout → train steps: the agent
// samples from the backend's own OpenAI endpoint (through go-openai), so the
// policy that answers is the one being trained.
func TestLoopAgainstBackend(t *testing.T) {
	l := startTiny(t, WithLR(5e-3))
	cfg := openai.DefaultConfig("unused")
	cfg.BaseURL = l.Client.BaseURL() + "/v1"
	llm := openai.NewClientWithConfig(cfg)
	const task = "Say something."
	rollout := func(ctx context.Context, step int) ([]*trajectory.Trajectory, error) {
		msgs := []trajectory.Message{{Role: "user", Content: task}}
		resp, err := llm.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
			Model: "tiny", N: 8, Temperature: 1, MaxTokens: 3, Seed: &step,
			Messages: []openai.ChatCompletionMessage{{Role: "user", Content: task}},
		})
		if err != nil {
			return nil, err
		}
		var out []*trajectory.Trajectory
		for i, ch := range resp.Choices {
			out = append(out, &trajectory.Trajectory{
				ID: fmt.Sprintf("s%d-%d", step, i), GroupID: fmt.Sprint("step-", step), Task: task,
				Status: trajectory.StatusFinished, FinalAnswer: ch.Message.Content,
				Steps: []trajectory.Step{{Final: true, Answer: ch.Message.Content, LLMCalls: []trajectory.LLMCall{
					{Messages: msgs, Completion: ch.Message.Content, StopReason: string(ch.FinishReason)}}}},
			})
		}
		// One run whose judge failed: it must be dropped, not scored 0.
		out = append(out, &trajectory.Trajectory{ID: "nojudge", GroupID: "step", Task: task, Metadata: map[string]string{"judge": "error"}})
		return out, nil
	}
	reward := func(tr *trajectory.Trajectory) (float64, bool) {
		if tr.Metadata["judge"] == "error" {
			return 0, false
		}
		if a := tr.FinalAnswer; a != "" && a[0] >= 'A' && a[0] <= 'Z' {
			return 1, true
		}
		return 0, true
	}
	var seen []int
	dir := filepath.Join(t.TempDir(), "ck")
	res, err := Loop(context.Background(), l.Client, LoopConfig{
		Steps: 3, Algo: GRPO, Rollout: rollout, Reward: reward, CheckpointEvery: 2, CheckpointDir: dir,
		Train: &TrainConfig{Temperature: 1}, OnStep: func(r StepResult) { seen = append(seen, r.Metrics.Step) },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[1 2 3]" {
		t.Errorf("backend steps seen %v, want [1 2 3]", seen)
	}
	for _, r := range res {
		if r.Report.Samples != 8 || r.Report.NoReward != 1 || r.Metrics.Samples != 8 {
			t.Errorf("step %d: report %+v, metrics samples %d", r.Step, r.Report, r.Metrics.Samples)
		}
	}
	st, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil || !strings.Contains(string(st), `"step": 3`) {
		t.Errorf("checkpoint after the last step: %s, %v", st, err)
	}
	if _, err := Loop(context.Background(), l.Client, LoopConfig{Steps: 0, Rollout: rollout, Reward: reward}); err == nil {
		t.Error("Loop accepted Steps 0")
	}
}

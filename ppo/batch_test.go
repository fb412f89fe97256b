package ppo

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/reagent-go/reagent/trajectory"
)

// run builds a two-step trajectory: a tool call with its observation, then
// a final answer.
func run(id, group, answer string) *trajectory.Trajectory {
	return &trajectory.Trajectory{
		SchemaVersion: trajectory.SchemaVersion,
		ID:            id,
		GroupID:       group,
		Task:          "What is the capital of France?",
		Status:        trajectory.StatusFinished,
		FinalAnswer:   answer,
		Steps: []trajectory.Step{
			{Index: 0, LLMCalls: []trajectory.LLMCall{{
				Messages:   []trajectory.Message{{Role: "system", Content: "Use tools."}, {Role: "user", Content: "What is the capital of France?"}},
				Completion: "I will search.",
				ToolCalls:  []trajectory.ToolCallSpec{{ID: "c1", Name: "search", Arguments: `{"q":"capital of France"}`}},
			}}, Calls: []trajectory.ToolCall{{ID: "c1", Tool: "search", Input: `{"q":"capital of France"}`, Observation: "Paris is the capital."}}},
			{Index: 1, Final: true, Answer: answer, LLMCalls: []trajectory.LLMCall{{Completion: "Final Answer: " + answer}}},
		},
	}
}

func rewardFromMetadata(t *trajectory.Trajectory) (float64, bool) {
	if t.FinalAnswer == "" {
		return 0, false // e.g. the judge failed: no reward, not 0
	}
	if t.FinalAnswer == "Paris" {
		return 1, true
	}
	if t.FinalAnswer == "NaN" {
		return math.NaN(), true
	}
	return 0, true
}

func TestBuildGroups(t *testing.T) {
	noAssistant := &trajectory.Trajectory{ID: "empty", GroupID: "g1", Task: "x", FinalAnswer: "Paris"}
	badCall := run("bad-call", "g1", "Paris")
	badCall.Steps[0].LLMCalls[0].ToolCalls[0].Name = ""
	trajs := []*trajectory.Trajectory{
		run("a1", "g1", "Paris"),
		run("b1", "g2", "Lyon"),
		run("a2", "g1", "Lyon"),
		nil,
		run("a3", "g1", ""), // reward unavailable
		run("b2", "g2", "Paris"),
		run("c1", "", "Paris"),
		run("n1", "g1", "NaN"),
		noAssistant,
		badCall,
	}
	groups, rep := BuildGroups(trajs, rewardFromMetadata)
	if len(groups) != 3 {
		t.Fatalf("got %d groups, want 3 (g1, g2, and c1 alone)", len(groups))
	}
	ids := func(g Group) string {
		var s []string
		for _, x := range g.Samples {
			s = append(s, fmt.Sprintf("%s=%g", x.TrajectoryID, x.Reward))
		}
		return g.ID + ":" + strings.Join(s, ",")
	}
	for i, want := range []string{"g1:a1=1,a2=0", "g2:b1=0,b2=1", ":c1=1"} {
		if got := ids(groups[i]); got != want {
			t.Errorf("group %d = %s, want %s", i, got, want)
		}
	}
	want := Report{Trajectories: 10, Samples: 5, Groups: 3, NoReward: 1, BadReward: 1, Invalid: 2, Nil: 1, Singletons: 1, Ungrouped: 1}
	got := rep
	got.Reasons = nil
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("report = %+v\nwant     %+v", got, want)
	}
	if rep.Dropped() != 5 || len(rep.Reasons) != 5 {
		t.Errorf("dropped %d with %d reasons, want 5 and 5: %v", rep.Dropped(), len(rep.Reasons), rep.Reasons)
	}
	// The sample is the chat view with its mask: prompt and tool output are
	// not trainable, the model's turns are.
	s := groups[0].Samples[0]
	var roles []string
	for i, m := range s.Messages {
		roles = append(roles, fmt.Sprintf("%s/%v", m.Role, s.Trainable[i]))
	}
	if got, want := strings.Join(roles, " "), "system/false user/false assistant/true tool/false assistant/true"; got != want {
		t.Errorf("messages = %s, want %s", got, want)
	}
	if s.Messages[2].ToolCalls[0].Name != "search" || s.Messages[3].Content != "Paris is the capital." {
		t.Errorf("tool call or observation lost: %+v", s.Messages)
	}
	if err := (TrainRequest{Algo: GRPO, Groups: groups}).Validate(); err != nil {
		t.Errorf("built groups do not validate: %v", err)
	}
}

func TestSampleValidate(t *testing.T) {
	ok := Sample{Messages: []trajectory.Message{{Role: "user", Content: "q"}, {Role: "assistant", Content: "a"}}, Reward: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]Sample{
		"not finite":          {Messages: ok.Messages, Reward: math.Inf(1)},
		"no messages":         {Reward: 1},
		"role":                {Messages: []trajectory.Message{{Role: "bot"}}},
		"trainable":           {Messages: ok.Messages, Trainable: []bool{true}},
		"cannot be trainable": {Messages: ok.Messages, Trainable: []bool{true, true}},
		"no trainable":        {Messages: ok.Messages, Trainable: []bool{false, false}},
		"only assistant":      {Messages: []trajectory.Message{{Role: "user", ToolCalls: []trajectory.ToolCallSpec{{Name: "f"}}}, {Role: "assistant"}}},
		"empty tool name":     {Messages: []trajectory.Message{{Role: "assistant", ToolCalls: []trajectory.ToolCallSpec{{}}}}},
	}
	for want, s := range cases {
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%s) = %v, want an error containing %q", want, err, want)
		}
	}
	if err := (TrainRequest{Algo: "dpo", Groups: []Group{{Samples: []Sample{ok}}}}).Validate(); err == nil {
		t.Error("algo dpo accepted")
	}
	if err := (TrainRequest{}).Validate(); err == nil {
		t.Error("empty request accepted")
	}
	if err := (TrainRequest{Groups: []Group{{}}}).Validate(); err == nil {
		t.Error("empty group accepted")
	}
}

func BenchmarkBuildGroups(b *testing.B) {
	// Baseline: building the chat views alone, which BuildGroups must do;
	// reported as BuildGroups time / baseline time.
	var trajs []*trajectory.Trajectory
	for i := range 256 {
		trajs = append(trajs, run(fmt.Sprint(i), fmt.Sprint(i/8), []string{"Paris", "Lyon"}[i%2]))
	}
	var buildNs, baseNs int64
	for b.Loop() {
		t0 := nowNanos()
		g, _ := BuildGroups(trajs, rewardFromMetadata)
		t1 := nowNanos()
		n := 0
		for _, t := range trajs {
			n += len(t.Chat().Messages)
		}
		t2 := nowNanos()
		if len(g) != 32 || n == 0 {
			b.Fatal("unexpected result")
		}
		buildNs += t1 - t0
		baseNs += t2 - t1
	}
	if baseNs > 0 {
		b.ReportMetric(float64(buildNs)/float64(baseNs), "x-baseline")
	}
}

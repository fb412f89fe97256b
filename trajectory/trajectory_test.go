package trajectory_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/trajectory"
)

func sample() *trajectory.Trajectory {
	score := 0.9
	start := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	return &trajectory.Trajectory{
		ID: "run-1", Task: "What is 17*23?", Agent: "ToolCalling", Status: trajectory.StatusFinished,
		Inputs:   map[string]string{"input": "What is 17*23?"},
		Tools:    []trajectory.ToolSpec{{Name: "calculator", Tags: []string{"read-only"}, Parameters: json.RawMessage(`{"type":"object"}`)}},
		Metadata: map[string]string{"suite": "arith"},
		Steps: []trajectory.Step{
			{Index: 0, Thought: "multiply", StartedAt: start,
				LLMCalls: []trajectory.LLMCall{{Messages: []trajectory.Message{{Role: "system", Content: "be careful"}, {Role: "user", Content: "What is 17*23?"}},
					ToolCalls: []trajectory.ToolCallSpec{{ID: "c1", Name: "calculator", Arguments: `{"expression":"17*23"}`}}, Usage: trajectory.Usage{PromptTokens: 10}}},
				Calls: []trajectory.ToolCall{{ID: "c1", Tool: "calculator", Input: `{"expression":"17*23"}`, Observation: "391"}}},
			{Index: 1, Final: true, Answer: "391", LLMCalls: []trajectory.LLMCall{{Completion: "391"}}},
		},
		FinalAnswer: "391",
		StartedAt:   start,
		Assessments: []trajectory.Assessment{{Judge: "heuristic", Status: trajectory.AssessmentOK, Score: 0.8, Notes: []string{"n"}}},
		Decisions:   []trajectory.Decision{{Guard: "tools", Verdict: trajectory.Allow, Score: &score}},
	}
}

func TestJSONRoundTripCarriesTheSchemaVersion(t *testing.T) {
	in := sample()
	b, err := trajectory.Marshal(in)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"schema_version":1`)
	out, err := trajectory.Unmarshal(b)
	require.NoError(t, err)
	in.SchemaVersion = trajectory.SchemaVersion
	assert.Equal(t, in, out)
}

func TestUnmarshalRejectsWhatItCannotRead(t *testing.T) {
	_, err := trajectory.Unmarshal([]byte(`{"schema_version": 99, "id": "x"}`))
	require.ErrorIs(t, err, trajectory.ErrNewerSchema)
	_, err = trajectory.Unmarshal([]byte(`{"id": "x"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "schema_version")
	_, err = trajectory.Unmarshal([]byte(`[1,2]`))
	require.Error(t, err)
	_, err = trajectory.Unmarshal([]byte(`{"schema_version": 1, "steps": "nope"}`))
	require.Error(t, err)
}

func TestChatViewMasksWhatTheAgentDidNotWrite(t *testing.T) {
	c := sample().Chat()
	roles := make([]string, len(c.Messages))
	for i, m := range c.Messages {
		roles[i] = m.Role
	}
	assert.Equal(t, []string{"system", "user", "assistant", "tool", "assistant"}, roles)
	assert.Equal(t, []bool{false, false, true, false, true}, c.Trainable)
	assert.Equal(t, "c1", c.Messages[3].ToolCallID)
	assert.Equal(t, "calculator", c.Messages[2].ToolCalls[0].Name)
}

func TestChatViewWithoutRecordedPrompt(t *testing.T) {
	tr := &trajectory.Trajectory{Task: "q", Steps: []trajectory.Step{
		{Thought: "look it up", Calls: []trajectory.ToolCall{{Tool: "search", Input: "x", Observation: "y"}}},
		{Final: true, Answer: "y"},
	}}
	c := tr.Chat()
	require.Len(t, c.Messages, 4)
	assert.Equal(t, "q", c.Messages[0].Content)
	assert.Equal(t, "call_0_0", c.Messages[2].ToolCallID)
}

func TestCloneIsDeep(t *testing.T) {
	a := sample()
	b := a.Clone()
	require.Equal(t, a, b)
	b.Steps[0].Calls[0].Observation = "changed"
	b.Metadata["suite"] = "changed"
	b.Tools[0].Tags[0] = "changed"
	*b.Decisions[0].Score = 0
	b.Steps[0].LLMCalls[0].Messages[0].Content = "changed"
	assert.Equal(t, "391", a.Steps[0].Calls[0].Observation)
	assert.Equal(t, "arith", a.Metadata["suite"])
	assert.Equal(t, "read-only", a.Tools[0].Tags[0])
	assert.Equal(t, 0.9, *a.Decisions[0].Score)
	assert.Equal(t, "be careful", a.Steps[0].LLMCalls[0].Messages[0].Content)
}

func TestHelpers(t *testing.T) {
	tr := sample()
	assert.True(t, tr.Ended())
	assert.Len(t, tr.ToolCalls(), 1)
	a, ok := tr.LastAssessment()
	assert.True(t, ok)
	assert.True(t, a.OK())
	assert.True(t, tr.Tools[0].HasTag("read-only"))
	assert.Equal(t, trajectory.Usage{PromptTokens: 3, TotalTokens: 5}, trajectory.Usage{PromptTokens: 1, TotalTokens: 2}.Add(trajectory.Usage{PromptTokens: 2, TotalTokens: 3}))
}

func FuzzUnmarshal(f *testing.F) {
	b, _ := trajectory.Marshal(sample())
	f.Add(b)
	f.Add([]byte(`{"schema_version":1}`))
	f.Add([]byte(`{"schema_version":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := trajectory.Unmarshal(data)
		if err != nil {
			if tr != nil {
				t.Fatal("a failed decode returned a trajectory")
			}
			return
		}
		if tr.SchemaVersion < 1 || tr.SchemaVersion > trajectory.SchemaVersion {
			t.Fatalf("accepted schema version %d", tr.SchemaVersion)
		}
		again, err := trajectory.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := trajectory.Unmarshal(again); err != nil && !errors.Is(err, trajectory.ErrNewerSchema) {
			t.Fatalf("re-encoded trajectory does not decode: %v", err)
		}
		_ = tr.Chat()
		_ = tr.Clone()
	})
}

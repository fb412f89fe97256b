package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/trajectory"
)

func TestEinoExampleRecordsAJudgedGuardedRun(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "call-1", Name: "add", Arguments: `{"a":17,"b":25}`}}, PromptTokens: 40, CompletionTokens: 8},
		llmtest.Reply{Content: "17 + 25 = 42", PromptTokens: 60, CompletionTokens: 6},
	)
	t.Chdir(t.TempDir())
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	t.Setenv("OPENAI_API_KEY", "test")
	t.Setenv("REAGENT_MODEL", "test-model")
	require.NoError(t, runExample(context.Background(), nil))

	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Contains(t, string(reqs[0].Tools), `"add"`, "the agent offered its tool")
	last := reqs[1].Messages[len(reqs[1].Messages)-1]
	assert.Equal(t, "tool", last.Role)
	assert.Equal(t, "42", strings.TrimSpace(last.Content), "the real tool ran")

	store, err := audit.OpenSQLite("reagent.db")
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	runs, err := store.List(ctx, audit.Query{})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	tr := runs[0]
	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	assert.Equal(t, "17 + 25 = 42", tr.FinalAnswer)
	assert.Equal(t, "calculator", tr.Agent)
	assert.Equal(t, "test-model", tr.Model)
	assert.Equal(t, "42", tr.Steps[0].Calls[0].Observation)
	assert.Equal(t, 114, tr.Usage.TotalTokens)
	require.Len(t, tr.Assessments, 1)
	assert.Equal(t, trajectory.AssessmentOK, tr.Assessments[0].Status)
	rep, err := store.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK)
}

func TestEinoExampleSaysWhatToSet(t *testing.T) {
	t.Setenv("OPENAI_BASE_URL", "")
	err := runExample(context.Background(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OPENAI_BASE_URL")
}

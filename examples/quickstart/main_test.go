package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/trajectory"
)

func TestQuickstartRecordsAJudgedRun(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{Content: "Thought: multiply with the calculator.\nAction: calculator\nAction Input: 17*23"},
		llmtest.Reply{Content: "Thought: the calculator said 391.\nFinal Answer: 391"},
	)
	t.Chdir(t.TempDir())
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	t.Setenv("OPENAI_API_KEY", "test")
	t.Setenv("REAGENT_MODEL", "test-model")
	require.NoError(t, runExample(context.Background(), nil))

	store, err := audit.OpenSQLite("reagent.db")
	require.NoError(t, err)
	defer store.Close()
	runs, err := store.List(context.Background(), audit.Query{})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	tr := runs[0]
	assert.Equal(t, "391", tr.FinalAnswer)
	assert.Equal(t, "391", tr.Steps[0].Calls[0].Observation, "the real calculator ran")
	require.Len(t, tr.Assessments, 1)
	assert.Equal(t, trajectory.AssessmentOK, tr.Assessments[0].Status)
}

func TestQuickstartSaysWhatToSet(t *testing.T) {
	t.Setenv("OPENAI_BASE_URL", "")
	err := runExample(context.Background(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OPENAI_BASE_URL")
	assert.Contains(t, err.Error(), "REAGENT_MODEL")
}

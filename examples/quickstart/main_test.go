package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/internal/tinytest"
	"github.com/reagent-go/reagent/trajectory"
)

func TestQuickstartRecordsAJudgedRun(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "c1", Name: "calculator", Arguments: `{"expression":"17*23"}`}}},
		llmtest.Reply{Content: "391"},
	)
	t.Chdir(t.TempDir())
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	t.Setenv("OPENAI_API_KEY", "test")
	t.Setenv("REAGENT_MODEL", "test-model")
	require.NoError(t, runExample(context.Background(), nil))

	tr := onlyRun(t)
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

// TestQuickstartRunsOfflineAsItsHelpSays follows the advice the example
// prints without an endpoint: serve the embedded policy (here in process,
// on loopback, the handler `reagent serve-model` serves) and set the
// variables it names. The run must finish on its own terms: the prompt
// fits the model's context and the answer is judged.
func TestQuickstartRunsOfflineAsItsHelpSays(t *testing.T) {
	t.Setenv("OPENAI_BASE_URL", "")
	help := runExample(context.Background(), nil)
	require.Error(t, help)
	assert.Contains(t, help.Error(), "serve-model")
	vars := map[string]string{}
	for _, f := range strings.Fields(help.Error()) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.ToUpper(k) == k {
			vars[k] = strings.TrimSuffix(v, ":")
		}
	}
	require.Equal(t, "tiny", vars["REAGENT_MODEL"], "the help names the embedded model")
	require.NotEmpty(t, vars["OPENAI_API_KEY"])

	t.Chdir(t.TempDir())
	t.Setenv("OPENAI_BASE_URL", tinytest.Serve(t)) // the address serve-model would listen on
	t.Setenv("OPENAI_API_KEY", vars["OPENAI_API_KEY"])
	t.Setenv("REAGENT_MODEL", vars["REAGENT_MODEL"])
	require.NoError(t, runExample(context.Background(), nil))

	tr := onlyRun(t)
	t.Logf("answer %q, status %s, error %q", tr.FinalAnswer, tr.Status, tr.Error)
	assert.False(t, tr.Status.Broken(), "the run broke: %s", tr.Error)
	assert.NotContains(t, tr.Error, "exceeds the model's context")
	assert.Equal(t, trajectory.StatusFinished, tr.Status)
	require.Len(t, tr.Assessments, 1)
	assert.Equal(t, trajectory.AssessmentOK, tr.Assessments[0].Status)
}

// onlyRun returns the one run the example stored in reagent.db.
func onlyRun(t *testing.T) *trajectory.Trajectory {
	t.Helper()
	store, err := audit.OpenSQLite("reagent.db")
	require.NoError(t, err)
	defer store.Close()
	runs, err := store.List(context.Background(), audit.Query{})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	return runs[0]
}

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

func TestGuardedExample(t *testing.T) {
	var out bytes.Buffer
	dbPath := filepath.Join(t.TempDir(), "audit.db")
	runs, err := runExample(context.Background(), &out, dbPath)
	require.NoError(t, err)
	require.Len(t, runs, 3)

	blocked := runs[0].Steps[0].Calls[0]
	assert.True(t, blocked.Blocked)
	assert.Equal(t, "network", blocked.BlockedBy)
	assert.Contains(t, blocked.Observation, "cloud-metadata")

	paid := runs[1].Steps[0].Calls[0]
	assert.False(t, paid.Blocked)
	assert.Equal(t, "transfer accepted", paid.Observation)
	var approved, gated bool
	for _, d := range runs[1].Decisions {
		approved = approved || (d.Guard == "tools" && d.Verdict == trajectory.Escalate && d.Resolution == "approved" && d.ResolvedBy == "alice@example.com")
		gated = gated || (d.Guard == "rrm-gate" && d.Score != nil)
	}
	assert.True(t, approved, "the webhook approved the escalation")
	assert.True(t, gated, "the RRM gate judged the risky transfer")

	injected := runs[2].Steps[0].Calls[0]
	assert.True(t, injected.Blocked)
	assert.Equal(t, "prompt-injection", injected.BlockedBy)
	assert.NotContains(t, injected.Observation, "acct-666", "the injected text never reached the model")

	assert.Contains(t, out.String(), "transfers executed: [{\"to\":\"acct-1\",\"amount\":25}]")

	// Every decision is in the audit trail, and the chain verifies.
	store, err := audit.OpenSQLite(dbPath)
	require.NoError(t, err)
	defer store.Close()
	for _, r := range runs {
		got, err := store.Get(context.Background(), r.ID)
		require.NoError(t, err)
		assert.Len(t, got.Decisions, len(r.Decisions))
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// pausedDB makes a SQLite audit database holding one run paused at a
// "wire" call, and returns its path and the request ID.
func pausedDB(t *testing.T) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	d, err := approval.NewDurable(s)
	require.NoError(t, err)
	ctx, r := run.New(run.WithStore(s)).Start(context.Background(), "pay", run.WithRunID("run-p"))
	r.SetResumeState(func() (json.RawMessage, error) { return json.RawMessage(`{}`), nil })
	req := approval.Request{ID: approval.NewRequestID(), Event: trajectory.EventToolCall, Tool: "wire", Input: "send $5\x1b[2J", RunID: "run-p", Step: 1,
		Escalations: []approval.Escalation{{Guard: "tools", Reason: "wire needs approval"}}}
	_, err = d.Approve(ctx, req)
	require.Error(t, err)
	r.End(err)
	require.NoError(t, s.Close())
	return path, req.ID
}

func TestApproveListsAndDecides(t *testing.T) {
	db, id := pausedDB(t)
	env := map[string]string{"REAGENT_DB": db, "USER": "alice"}

	out, _, err := runCLI(runApprove, env)
	require.NoError(t, err)
	assert.Contains(t, out, id)
	assert.Contains(t, out, "run run-p step 1")
	assert.Contains(t, out, "[tools] wire needs approval")
	assert.NotContains(t, out, "\x1b", "tool input cannot drive the terminal")

	// Flags after the ID work too.
	out, _, err = runCLI(runApprove, env, id, "--deny", "--reason", "not this month")
	require.NoError(t, err)
	assert.Contains(t, out, "denied request "+id)
	assert.Contains(t, out, "by alice")

	_, _, err = runCLI(runApprove, env, id)
	require.ErrorIs(t, err, approval.ErrDecided, "a request decides once")
	out, _, err = runCLI(runApprove, env)
	require.NoError(t, err)
	assert.Equal(t, "no pending approval requests\n", out)

	s, err := audit.OpenSQLite(db)
	require.NoError(t, err)
	defer s.Close()
	d, err := approval.NewDurable(s)
	require.NoError(t, err)
	_, dec, err := d.Lookup(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, dec)
	assert.Equal(t, approval.Decision{RequestID: id, Approved: false, By: "alice", Reason: "not this month", DecidedAt: dec.DecidedAt}, *dec)
	rep, err := s.Verify(context.Background())
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
}

func TestApproveBadInput(t *testing.T) {
	db, id := pausedDB(t)
	env := map[string]string{"REAGENT_DB": db}
	var ue *usageError
	_, _, err := runCLI(runApprove, map[string]string{}, id)
	require.ErrorAs(t, err, &ue, "no --db")
	_, _, err = runCLI(runApprove, env, id)
	require.ErrorAs(t, err, &ue, "nobody named to decide")
	_, _, err = runCLI(runApprove, env, "--by", "bob", id, "other")
	require.ErrorAs(t, err, &ue, "two IDs")
	_, _, err = runCLI(runApprove, env, "--deny")
	require.ErrorAs(t, err, &ue, "--deny without an ID")
	_, _, err = runCLI(runApprove, env, "--by", "bob", "no-such-request")
	require.ErrorIs(t, err, approval.ErrUnknownRequest)
	_, _, err = runCLI(runApprove, map[string]string{"REAGENT_DB": filepath.Join(t.TempDir(), "missing.db")}, "--by", "bob", id)
	require.Error(t, err, "a missing database is not created")
	assert.False(t, errors.As(err, &ue))

	// Nothing was decided by the failed commands.
	out, _, err := runCLI(runApprove, env)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out, id), out)
}

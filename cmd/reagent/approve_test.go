package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
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
	return pausedCallDB(t, "send $5\x1b[2J")
}

// pausedCallDB is pausedDB for a wire call with input, stored by a
// Durable with opts.
func pausedCallDB(t *testing.T, input string, opts ...approval.DurableOption) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	d, err := approval.NewDurable(s, opts...)
	require.NoError(t, err)
	ctx, r := run.New(run.WithStore(s)).Start(context.Background(), "pay", run.WithRunID("run-p"))
	r.SetResumeState(func() (json.RawMessage, error) { return json.RawMessage(`{}`), nil })
	req := approval.Request{ID: approval.NewRequestID(), Event: trajectory.EventToolCall, Tool: "wire", Input: input, RunID: "run-p", Step: 1,
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

func TestApproveSecretCalls(t *testing.T) {
	const awsKey = "AKIAZ7Q3K5LMNPRT2WXY"
	key := make([]byte, approval.SealKeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	b64 := base64.StdEncoding.EncodeToString(key)

	// Sealed: listed redacted; approving checks the key in the
	// environment, when there is one.
	db, id := pausedCallDB(t, "send $5 with "+awsKey, approval.WithSealKey(key))
	env := map[string]string{"REAGENT_DB": db, "USER": "alice"}
	out, _, err := runCLI(runApprove, env)
	require.NoError(t, err)
	assert.Contains(t, out, "[REDACTED:aws-access-key]")
	assert.NotContains(t, out, awsKey)
	assert.Contains(t, out, "sealed: resuming needs the approval key REAGENT_APPROVAL_KEY")
	other := make([]byte, approval.SealKeySize)
	_, _, err = runCLI(runApprove, map[string]string{"REAGENT_DB": db, "USER": "alice", approval.EnvSealKey: base64.StdEncoding.EncodeToString(other)}, id)
	require.ErrorIs(t, err, approval.ErrSealKey, "a key that does not open it: not approved")
	_, _, err = runCLI(runApprove, map[string]string{"REAGENT_DB": db, approval.EnvSealKey: "not a key"}, "--by", "bob", id)
	require.ErrorContains(t, err, approval.EnvSealKey)
	out, _, err = runCLI(runApprove, map[string]string{"REAGENT_DB": db, "USER": "alice", approval.EnvSealKey: b64}, id)
	require.NoError(t, err)
	assert.Contains(t, out, "approved request "+id)
	assert.NotContains(t, out, awsKey)

	// Sealed, no key here: approved, with a note.
	db, id = pausedCallDB(t, "send $5 with "+awsKey, approval.WithSealKey(key))
	out, _, err = runCLI(runApprove, map[string]string{"REAGENT_DB": db, "USER": "alice"}, id)
	require.NoError(t, err)
	assert.Contains(t, out, "needs the approval key (REAGENT_APPROVAL_KEY)")

	// Stored without a key: cannot resume, so it can only be denied.
	db, id = pausedCallDB(t, "send $5 with "+awsKey)
	env = map[string]string{"REAGENT_DB": db, "USER": "alice", approval.EnvSealKey: b64}
	out, _, err = runCLI(runApprove, env)
	require.NoError(t, err)
	assert.Contains(t, out, "cannot be resumed; deny it")
	_, _, err = runCLI(runApprove, env, id)
	require.ErrorIs(t, err, approval.ErrRedactedOnly)
	out, _, err = runCLI(runApprove, env, "--deny", id)
	require.NoError(t, err)
	assert.Contains(t, out, "denied request "+id)
}

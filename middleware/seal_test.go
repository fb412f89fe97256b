package middleware_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/chains"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/run"
)

// Secrets the paused run carries: in the escalated call's input, and in an
// earlier observation that the resume state replays.
const (
	sealAWSKey = "AKIAZ7Q3K5LMNPRT2WXY"
	sealBearer = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.Zm9vYmFyYmF6cXV4cXV1eA"
)

func sealKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, approval.SealKeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// assertFileHasNoSecret reads the SQLite database and its write-ahead log
// as bytes: no row, index or page of them holds a secret.
func assertFileHasNoSecret(t *testing.T, path string) {
	t.Helper()
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for _, s := range []string{sealAWSKey, sealBearer} {
			assert.False(t, bytes.Contains(data, []byte(s)), "%s holds the plaintext secret %s", f, s)
		}
	}
}

// pauseSecretRun runs the agent until its wire call, which carries a key,
// pauses; the lookup before it saw a bearer token.
func pauseSecretRun(t *testing.T, store audit.Store, ledger string, opts ...approval.DurableOption) string {
	t.Helper()
	srv := llmtest.New(t, react("lookup", "token Bearer "+sealBearer), react("wire", "send $5 with key "+sealAWSKey))
	exec, _ := durableExec(t, srv, store, ledger, opts...)
	_, err := chains.Run(run.ContextWithHandle(context.Background(), run.NewHandle(run.WithRunID("secret-run"))), exec, "pay the bill")
	var pe *run.PauseError
	require.ErrorAs(t, err, &pe)
	require.NoError(t, exec.Shutdown(context.Background()))
	return pe.RequestID
}

func TestSealedApprovalResumesTheExactCall(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path, ledger := filepath.Join(dir, "audit.db"), filepath.Join(dir, "ledger")
	store, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	defer store.Close()
	key := sealKey(t)
	id := pauseSecretRun(t, store, ledger, approval.WithSealKey(key))
	assert.Equal(t, []string{"lookup token Bearer " + sealBearer}, ledgerLines(t, ledger))
	require.NoError(t, store.Flush(ctx))
	assertFileHasNoSecret(t, path)

	// Deciding needs no key; resuming does, and without it nothing runs.
	srv := llmtest.New(t, final("paid"))
	keyless, dk := durableExec(t, srv, store, ledger)
	pending, err := dk.Pending(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Contains(t, pending[0].Request.Input, "[REDACTED:aws-access-key]")
	_, err = dk.Decide(ctx, id, approval.Resolution{Approved: true, By: "alice"})
	require.NoError(t, err)
	_, err = keyless.Resume(ctx, dk, id)
	require.ErrorIs(t, err, approval.ErrSealKey)
	assert.ErrorContains(t, err, approval.EnvSealKey)
	wrong, dw := durableExec(t, srv, store, ledger, approval.WithSealKey(sealKey(t)))
	_, err = wrong.Resume(ctx, dw, id)
	require.ErrorIs(t, err, approval.ErrSealKey)
	assert.Empty(t, srv.Requests(), "no run started")
	assert.Equal(t, []string{"lookup token Bearer " + sealBearer}, ledgerLines(t, ledger), "nothing ran")

	// With the key: the exact call runs, once, after the exact replay.
	exec, d := durableExec(t, srv, store, ledger, approval.WithSealKey(key))
	out, err := exec.Resume(ctx, d, id)
	require.NoError(t, err)
	assert.Equal(t, "paid", out["output"])
	assert.Equal(t, []string{"lookup token Bearer " + sealBearer, "wire send $5 with key " + sealAWSKey}, ledgerLines(t, ledger))
	require.Len(t, srv.Requests(), 1)
	assert.Contains(t, srv.Requests()[0].Messages[0].Content, "Observation: done: token Bearer "+sealBearer, "the replayed observation is the exact one")
	require.NoError(t, exec.Shutdown(ctx))
	assertFileHasNoSecret(t, path)
	rep, err := store.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
}

func TestSecretCallWithoutKeyCannotResume(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path, ledger := filepath.Join(dir, "audit.db"), filepath.Join(dir, "ledger")
	store, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	defer store.Close()
	id := pauseSecretRun(t, store, ledger)
	require.NoError(t, store.Flush(ctx))
	assertFileHasNoSecret(t, path)

	srv := llmtest.New(t, final("paid"))
	exec, d := durableExec(t, srv, store, ledger, approval.WithSealKey(sealKey(t)))
	_, err = d.Decide(ctx, id, approval.Resolution{Approved: true, By: "alice"})
	require.ErrorIs(t, err, approval.ErrRedactedOnly, "Decide refuses an approval the run could not resume from")
	// An approval recorded anyway (by an older reagent, or written into the
	// chain by other code) still does not resume.
	dec, err := json.Marshal(approval.Decision{RequestID: id, Approved: true, By: "older", DecidedAt: time.Now().UTC()})
	require.NoError(t, err)
	require.NoError(t, store.AppendApproval(ctx, audit.KindApprovalDecision, "run-older", dec))
	require.NoError(t, store.Flush(ctx))
	_, err = exec.Resume(ctx, d, id)
	require.ErrorIs(t, err, approval.ErrRedactedOnly)
	assert.ErrorContains(t, err, "deny it")
	assert.Empty(t, srv.Requests())
	assert.Equal(t, []string{"lookup token Bearer " + sealBearer}, ledgerLines(t, ledger), "the wire call never ran")
}

// A request stored before redaction (request and state as given, no
// format version) still resumes, without a key.
func TestLegacyApprovalRecordResumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	store := openStore(t)
	key := sealKey(t)
	id := pauseSecretRun(t, store, ledger, approval.WithSealKey(key))
	_, withKey := durableExec(t, llmtest.New(t), store, ledger, approval.WithSealKey(key))
	exact, _, err := withKey.Unseal(ctx, id)
	require.NoError(t, err)
	exact.Request.ID = "legacy-" + id
	legacy, err := json.Marshal(map[string]any{"request": exact.Request, "host": exact.Host, "state": exact.State})
	require.NoError(t, err)
	require.NoError(t, store.AppendApproval(ctx, audit.KindApprovalRequest, exact.Request.RunID, legacy))
	require.NoError(t, store.Flush(ctx))

	srv := llmtest.New(t, final("paid"))
	exec, d := durableExec(t, srv, store, ledger)
	_, err = d.Decide(ctx, exact.Request.ID, approval.Resolution{Approved: true, By: "alice"})
	require.NoError(t, err)
	out, err := exec.Resume(ctx, d, exact.Request.ID)
	require.NoError(t, err)
	assert.Equal(t, "paid", out["output"])
	assert.Equal(t, []string{"lookup token Bearer " + sealBearer, "wire send $5 with key " + sealAWSKey}, ledgerLines(t, ledger))
	require.NoError(t, exec.Shutdown(ctx))
	rep, err := store.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
}

package einorun_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/trajectory"
)

// FuzzResumeCheckPoint feeds Resume an approved request whose stored eino
// checkpoint is damaged (the seeds are a real one, cut and flipped): Resume
// and eino's Runner must answer with an error (as a result or an event) or,
// for a checkpoint that still decodes, pause again; never panic, and never
// run a call the decision was not given for. Each input gets a fresh store.
func FuzzResumeCheckPoint(f *testing.F) {
	prev := slog.Default() // the chain logs each re-pause; keep the fuzzer's output short
	slog.SetDefault(slog.New(slog.DiscardHandler))
	f.Cleanup(func() { slog.SetDefault(prev) })

	dir := f.TempDir()
	store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	require.NoError(f, err)
	id := pauseRun(f, store, &ledger{path: filepath.Join(dir, "ledger")}, false)
	d, err := approval.NewDurable(store, approval.WithSealKey(testSealKey))
	require.NoError(f, err)
	st, _, err := d.Unseal(context.Background(), id)
	require.NoError(f, err)
	require.NoError(f, store.Close())
	var rs struct {
		CheckPoint  []byte `json:"checkpoint_gzip"`
		InterruptID string `json:"interrupt_id"`
	}
	require.NoError(f, json.Unmarshal(st.State, &rs))
	zr, err := gzip.NewReader(bytes.NewReader(rs.CheckPoint))
	require.NoError(f, err)
	cp, err := io.ReadAll(zr)
	require.NoError(f, err)
	f.Add(cp[:len(cp)/2], rs.InterruptID)
	flipped := append([]byte(nil), cp...)
	flipped[len(flipped)/3] ^= 0x5a
	f.Add(flipped, rs.InterruptID)
	f.Add([]byte{}, "x")
	f.Add([]byte("not gob at all"), rs.InterruptID)
	f.Add([]byte("\x1f\x8b raw: not gzip"), rs.InterruptID)

	f.Fuzz(func(t *testing.T, checkpoint []byte, interruptID string) {
		ctx := context.Background()
		dir := t.TempDir()
		store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
		require.NoError(t, err)
		defer store.Close()
		l := &ledger{path: filepath.Join(dir, "ledger")}
		s := newDurable(t, store, l, newScripted(), false)
		req := approval.Request{ID: "fuzz-request", Event: trajectory.EventToolCall, Tool: "wire",
			Input: `{"text":"fuzz"}`, RunID: "fuzz-run", RequestedAt: time.Unix(0, 0)}
		// Mostly the damage is compressed as the adapter stores it, so that
		// it reaches eino's decoder; input starting "\x1f\x8b raw" is
		// stored as it is (damaged gzip).
		stored := checkpoint
		if !bytes.HasPrefix(checkpoint, []byte("\x1f\x8b raw")) {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			_, _ = w.Write(checkpoint)
			require.NoError(t, w.Close())
			stored = b.Bytes()
		}
		state, err := json.Marshal(map[string]any{"version": 1, "checkpoint_id": "fuzz", "checkpoint_gzip": stored, "interrupt_id": interruptID})
		require.NoError(t, err)
		require.NoError(t, s.d.StoreRequest(ctx, approval.Stored{Request: req, Host: "eino", State: state}))
		_, err = s.d.Decide(ctx, req.ID, approval.Resolution{Approved: true, By: "fuzz"})
		require.NoError(t, err)
		iter, err := s.a.Resume(ctx, s.runner, s.d, req.ID)
		if err != nil {
			return
		}
		got := drainAll(t, iter)
		if got.err == nil {
			// The damage left a decodable checkpoint (a flipped letter of
			// a message): the call it restores is not the approved one
			// (this request's input), so the decision does not apply and
			// the call pauses again.
			require.Len(t, got.interrupts, 1, "answer %q", got.answer)
		}
		require.Empty(t, l.lines(t), "the paused call did not run")
		require.NoError(t, s.rec.Shutdown(ctx))
	})
}

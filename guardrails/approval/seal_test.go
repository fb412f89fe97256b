package approval_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/internal/pgtest"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// Secrets a tool call carries, in its input and in its host's state.
const (
	awsKey      = "AKIAZ7Q3K5LMNPRT2WXY"
	bearerToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.Zm9vYmFyYmF6cXV4cXV1eA"
)

var (
	secretInput = `{"url":"https://api.example.com/pay","headers":{"Authorization":"Bearer ` + bearerToken + `"},"amount":5}`
	secretState = json.RawMessage(`{"plans":[{"actions":[{"tool":"wire"}],"observations":[]}],"inputs":{"input":"pay with key ` + awsKey + `"}}`)
)

// db is one backend for one test: the DSN audit.Open takes and a raw
// connection for looking at (and tampering with) the rows.
type db struct {
	kind, dsn, file string
	raw             *sql.DB
}

func (b *db) q(query string) string {
	if b.kind != "postgres" {
		return query
	}
	n := 0
	var sb strings.Builder
	for _, c := range query {
		if c == '?' {
			n++
			fmt.Fprintf(&sb, "$%d", n)
			continue
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

func backends(t *testing.T, f func(t *testing.T, b *db)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.db")
		raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
		require.NoError(t, err)
		t.Cleanup(func() { _ = raw.Close() })
		f(t, &db{kind: "sqlite", dsn: path, file: path, raw: raw})
	})
	t.Run("postgres", func(t *testing.T) {
		schema := pgtest.New(t, "reagent_seal_")
		raw, err := sql.Open("pgx", schema.DSN)
		require.NoError(t, err)
		t.Cleanup(func() { _ = raw.Close() })
		f(t, &db{kind: "postgres", dsn: schema.DSN, raw: raw})
	})
}

func (b *db) open(t *testing.T) audit.Store {
	t.Helper()
	s, err := audit.Open(context.Background(), b.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// dump returns every value of every row of every table, as text.
func (b *db) dump(t *testing.T) string {
	t.Helper()
	list := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if b.kind == "postgres" {
		list = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := b.raw.Query(list)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Contains(t, tables, "audit_records")
	var out strings.Builder
	for _, table := range tables {
		rows, err := b.raw.Query(`SELECT * FROM ` + table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&out, "%v\n", v)
			}
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out.String()
}

// assertNoSecret fails if any row of the database holds a secret, or the
// SQLite files do.
func (b *db) assertNoSecret(t *testing.T) {
	t.Helper()
	rows := b.dump(t)
	require.Contains(t, rows, "wire", "the dump sees the approval record")
	for _, s := range []string{awsKey, bearerToken} {
		assert.NotContains(t, rows, s, "a %s row holds a plaintext secret", b.kind)
	}
	if b.file != "" {
		for _, f := range []string{b.file, b.file + "-wal"} {
			data, err := os.ReadFile(f)
			if os.IsNotExist(err) {
				continue
			}
			require.NoError(t, err)
			for _, s := range []string{awsKey, bearerToken} {
				assert.False(t, bytes.Contains(data, []byte(s)), "%s holds a plaintext secret", f)
			}
		}
	}
}

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, approval.SealKeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// pauseCall stores a pending request for a wire call of run runID that
// carries input and whose host's state is state.
func pauseCall(t *testing.T, d *approval.Durable, store audit.Store, runID, input string, state json.RawMessage) approval.Request {
	t.Helper()
	ctx, r := run.New(run.WithStore(store)).Start(context.Background(), "pay", run.WithRunID(runID))
	r.SetResumeState(func() (json.RawMessage, error) { return state, nil })
	req := approval.Request{ID: approval.NewRequestID(), Event: trajectory.EventToolCall, Tool: "wire", Input: input, RunID: runID,
		Escalations: []approval.Escalation{{Guard: "tools", Reason: "wire needs approval: " + input}}, RequestedAt: time.Now().UTC()}
	_, err := d.Approve(ctx, req)
	require.Error(t, err, "a durable approver never approves a new request")
	r.End(err)
	return req
}

func verified(t *testing.T, store audit.Store) bool {
	t.Helper()
	rep, err := store.Verify(context.Background())
	require.NoError(t, err)
	return rep.OK
}

func TestSecretCallIsRedactedAndSealed(t *testing.T) {
	backends(t, func(t *testing.T, b *db) {
		ctx := context.Background()
		store := b.open(t)
		key := newKey(t)
		d, err := approval.NewDurable(store, approval.WithSealKey(key))
		require.NoError(t, err)
		req := pauseCall(t, d, store, "run-s", secretInput, secretState)
		require.NoError(t, store.Flush(ctx))
		b.assertNoSecret(t)
		assert.True(t, verified(t, store), "the chain verifies")

		// What people read: redacted, no state, marked sealed.
		pending, err := d.Pending(ctx)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		p := pending[0]
		assert.True(t, p.Redacted)
		assert.True(t, p.Sealed)
		assert.Nil(t, p.State, "the readable form has no state once it is sealed")
		assert.Equal(t, "wire", p.Request.Tool)
		assert.Equal(t, req.ID, p.Request.ID)
		assert.Equal(t, "run-s", p.Request.RunID)
		assert.Contains(t, p.Request.Input, "[REDACTED:bearer-token]")
		assert.NotContains(t, p.Request.Escalations[0].Reason, bearerToken)
		looked, _, err := d.Lookup(ctx, req.ID)
		require.NoError(t, err)
		assert.Equal(t, p, looked)

		// What the host resumes from: exactly the call that paused.
		exact, dec, err := d.Unseal(ctx, req.ID)
		require.NoError(t, err)
		assert.Nil(t, dec)
		assert.Equal(t, secretInput, exact.Request.Input)
		assert.Equal(t, "wire needs approval: "+secretInput, exact.Request.Escalations[0].Reason)
		assert.JSONEq(t, string(secretState), string(exact.State))
		assert.True(t, exact.Sealed)

		// Without the key, or with another one: a clear error, and the
		// request can still be denied.
		for name, opts := range map[string][]approval.DurableOption{
			"no key":    nil,
			"other key": {approval.WithSealKey(newKey(t))},
		} {
			other, err := approval.NewDurable(store, opts...)
			require.NoError(t, err)
			_, _, err = other.Unseal(ctx, req.ID)
			require.ErrorIs(t, err, approval.ErrSealKey, name)
			assert.ErrorContains(t, err, approval.SealKeyID(key), name)
			assert.ErrorContains(t, err, approval.EnvSealKey, name)
		}
		keyless, err := approval.NewDurable(store)
		require.NoError(t, err)
		_, err = keyless.Decide(ctx, req.ID, approval.Resolution{Approved: false, By: "bob"})
		require.NoError(t, err)
		_, dec, err = d.Unseal(ctx, req.ID)
		require.NoError(t, err)
		require.NotNil(t, dec)
		assert.False(t, dec.Approved)
		b.assertNoSecret(t)
		assert.True(t, verified(t, store))
	})
}

func TestSealKeyRotation(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	oldKey, newKeyB := newKey(t), newKey(t)
	d1, err := approval.NewDurable(store, approval.WithSealKey(oldKey))
	require.NoError(t, err)
	first := pauseCall(t, d1, store, "run-1", secretInput, secretState)

	// Rotated: the new key seals, the old one still opens.
	d2, err := approval.NewDurable(store, approval.WithSealKey(newKeyB), approval.WithOldSealKeys(oldKey))
	require.NoError(t, err)
	second := pauseCall(t, d2, store, "run-2", "send "+awsKey, secretState)
	for _, id := range []string{first.ID, second.ID} {
		st, _, err := d2.Unseal(ctx, id)
		require.NoError(t, err)
		assert.Contains(t, st.Request.Input+string(st.State), awsKey)
	}
	// The old key alone opens only what it sealed.
	_, _, err = d1.Unseal(ctx, first.ID)
	require.NoError(t, err)
	_, _, err = d1.Unseal(ctx, second.ID)
	require.ErrorIs(t, err, approval.ErrSealKey)
	assert.ErrorContains(t, err, approval.SealKeyID(newKeyB))

	// Keys come from the environment as base64 or hex.
	env := map[string]string{
		approval.EnvSealKey:     base64.StdEncoding.EncodeToString(newKeyB),
		approval.EnvOldSealKeys: "  " + hex.EncodeToString(newKey(t)) + "," + base64.RawURLEncoding.EncodeToString(oldKey) + " ",
	}
	d3, err := approval.NewDurable(store, approval.WithSealKeyFromEnv(func(k string) string { return env[k] }))
	require.NoError(t, err)
	for _, id := range []string{first.ID, second.ID} {
		_, _, err := d3.Unseal(ctx, id)
		require.NoError(t, err)
	}
	assert.True(t, verified(t, store))
}

func TestSealKeyInputIsChecked(t *testing.T) {
	store := openStore(t)
	_, err := approval.NewDurable(store, approval.WithSealKey([]byte("short")))
	require.ErrorContains(t, err, "32 bytes")
	_, err = approval.NewDurable(store, approval.WithOldSealKeys(newKey(t), make([]byte, 16)))
	require.ErrorContains(t, err, "old seal key 2")

	for _, bad := range []string{"", "   ", "not a key!", base64.StdEncoding.EncodeToString(make([]byte, 16)), strings.Repeat("g", 64)} {
		_, err := approval.ParseSealKey(bad)
		require.Error(t, err, "%q", bad)
		if strings.TrimSpace(bad) != "" {
			assert.NotContains(t, err.Error(), strings.TrimSpace(bad), "the error never repeats the key text")
		}
	}
	k := newKey(t)
	for _, good := range []string{hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)), base64.StdEncoding.EncodeToString(k),
		base64.RawStdEncoding.EncodeToString(k), base64.URLEncoding.EncodeToString(k), "\n" + base64.StdEncoding.EncodeToString(k) + "\n"} {
		got, err := approval.ParseSealKey(good)
		require.NoError(t, err, "%q", good)
		assert.Equal(t, k, got)
	}

	const secretText = "c2VjcmV0LWJ1dC1ub3QtYS1rZXk="
	_, err = approval.NewDurable(store, approval.WithSealKeyFromEnv(func(name string) string {
		if name == approval.EnvSealKey {
			return secretText
		}
		return ""
	}))
	require.ErrorContains(t, err, approval.EnvSealKey)
	assert.NotContains(t, err.Error(), secretText)
	_, err = approval.NewDurable(store, approval.WithSealKeyFromEnv(func(name string) string {
		if name == approval.EnvOldSealKeys {
			return hex.EncodeToString(k) + ",zz"
		}
		return ""
	}))
	require.ErrorContains(t, err, approval.EnvOldSealKeys+", key 2")
	d, err := approval.NewDurable(store, approval.WithSealKeyFromEnv(func(string) string { return "" }))
	require.NoError(t, err, "no key in the environment: no sealing")
	pauseCall(t, d, store, "run-e", "send $5", json.RawMessage(`{}`))
	pending, err := d.Pending(context.Background())
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.False(t, pending[0].Sealed)
}

// sealedPart returns the "sealed" object of an approval-request payload.
func sealedPart(t *testing.T, payload string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(payload), &m))
	s, ok := m["sealed"].(map[string]any)
	require.True(t, ok, "payload has a sealed part: %s", payload)
	return s
}

func TestTamperedOrMovedSealFails(t *testing.T) {
	backends(t, func(t *testing.T, b *db) {
		ctx := context.Background()
		store := b.open(t)
		d, err := approval.NewDurable(store, approval.WithSealKey(newKey(t)))
		require.NoError(t, err)
		a := pauseCall(t, d, store, "run-a", secretInput, secretState)
		c := pauseCall(t, d, store, "run-c", "send $5", json.RawMessage(`{"plans":[]}`))
		require.NoError(t, store.Flush(ctx))
		payloads := map[string]string{}
		seqs := map[string]int64{}
		rows, err := b.raw.Query(b.q(`SELECT seq, run_id, payload FROM audit_records WHERE kind = ?`), string(audit.KindApprovalRequest))
		require.NoError(t, err)
		for rows.Next() {
			var seq int64
			var runID, payload string
			require.NoError(t, rows.Scan(&seq, &runID, &payload))
			payloads[runID], seqs[runID] = payload, seq
		}
		require.NoError(t, rows.Err())
		rows.Close()
		require.Len(t, payloads, 2)
		set := func(runID, payload string) {
			_, err := b.raw.Exec(b.q(`UPDATE audit_records SET payload = ? WHERE seq = ?`), payload, seqs[runID])
			require.NoError(t, err)
		}

		// One byte of the ciphertext flipped.
		data := sealedPart(t, payloads["run-a"])["data"].(string)
		raw, err := base64.StdEncoding.DecodeString(data)
		require.NoError(t, err)
		raw[len(raw)/2] ^= 1
		set("run-a", strings.Replace(payloads["run-a"], data, base64.StdEncoding.EncodeToString(raw), 1))
		_, _, err = d.Unseal(ctx, a.ID)
		require.ErrorIs(t, err, approval.ErrSealBroken)
		assert.False(t, verified(t, store), "the chain sees the edit too")

		// request a's sealed part moved into request c's record.
		set("run-a", payloads["run-a"])
		var cm map[string]any
		require.NoError(t, json.Unmarshal([]byte(payloads["run-c"]), &cm))
		cm["sealed"] = sealedPart(t, payloads["run-a"])
		moved, err := json.Marshal(cm)
		require.NoError(t, err)
		set("run-c", string(moved))
		_, _, err = d.Unseal(ctx, c.ID)
		require.ErrorIs(t, err, approval.ErrSealBroken, "a sealed copy opens only in its own record")
		_, _, err = d.Unseal(ctx, a.ID)
		require.NoError(t, err, "the original record opens again")

		// The readable part says another request id: the seal no longer fits.
		set("run-c", payloads["run-c"])
		set("run-a", strings.Replace(payloads["run-a"], `"id":"`+a.ID+`"`, `"id":"`+c.ID+`x"`, 1))
		_, _, err = d.Unseal(ctx, c.ID+"x")
		require.ErrorIs(t, err, approval.ErrSealBroken)
		set("run-a", payloads["run-a"])
		assert.True(t, verified(t, store), "restored")
	})
}

func TestSecretCallWithoutKeyIsStoredRedactedOnly(t *testing.T) {
	backends(t, func(t *testing.T, b *db) {
		ctx := context.Background()
		store := b.open(t)
		d, err := approval.NewDurable(store)
		require.NoError(t, err)
		secret := pauseCall(t, d, store, "run-s", secretInput, secretState)
		plain := pauseCall(t, d, store, "run-p", "send $5", json.RawMessage(`{"plans":[]}`))
		require.NoError(t, store.Flush(ctx))
		b.assertNoSecret(t)
		assert.True(t, verified(t, store))

		st, _, err := d.Lookup(ctx, secret.ID)
		require.NoError(t, err)
		assert.True(t, st.Redacted)
		assert.False(t, st.Sealed)
		assert.Nil(t, st.State, "a redacted state is not offered as the host's")
		_, _, err = d.Unseal(ctx, secret.ID)
		require.ErrorIs(t, err, approval.ErrRedactedOnly)
		assert.ErrorContains(t, err, approval.EnvSealKey)
		assert.ErrorContains(t, err, "deny it")
		// A key configured now does not help this request.
		withKey, err := approval.NewDurable(store, approval.WithSealKey(newKey(t)))
		require.NoError(t, err)
		_, _, err = withKey.Unseal(ctx, secret.ID)
		require.ErrorIs(t, err, approval.ErrRedactedOnly)
		_, err = d.Decide(ctx, secret.ID, approval.Resolution{Approved: true, By: "bob"})
		require.ErrorIs(t, err, approval.ErrRedactedOnly, "an approval the run could not resume from is refused")
		_, dec, err := d.Lookup(ctx, secret.ID)
		require.NoError(t, err)
		assert.Nil(t, dec, "nothing recorded")
		_, err = d.Decide(ctx, secret.ID, approval.Resolution{Approved: false, By: "bob", Reason: "carried a key"})
		require.NoError(t, err, "it can still be denied")

		// A call without a secret resumes without a key.
		ex, _, err := d.Unseal(ctx, plain.ID)
		require.NoError(t, err)
		assert.Equal(t, "send $5", ex.Request.Input)
		assert.JSONEq(t, `{"plans":[]}`, string(ex.State))
		rd, _, err := d.Lookup(ctx, plain.ID)
		require.NoError(t, err)
		assert.Equal(t, ex, rd, "nothing redacted: the readable form is the exact one")
		assert.True(t, verified(t, store))
	})
}

// Records written before redaction (the request and state stored as
// given) still verify, read redacted, and unseal exactly.
func TestLegacyRecordsStillResume(t *testing.T) {
	backends(t, func(t *testing.T, b *db) {
		ctx := context.Background()
		store := b.open(t)
		log := store.(audit.ApprovalLog)
		legacy, err := json.Marshal(map[string]any{
			"request": approval.Request{ID: "legacy-1", Event: trajectory.EventToolCall, Tool: "wire", Input: secretInput, RunID: "run-l",
				Escalations: []approval.Escalation{{Guard: "tools", Reason: "wire needs approval"}}},
			"host": "langchaingo", "state": secretState,
		})
		require.NoError(t, err)
		require.NoError(t, log.AppendApproval(ctx, audit.KindApprovalRequest, "run-l", legacy))
		plain := `{"request":{"id":"legacy-2","event":"tool_call","tool":"wire","input":"send $5","run_id":"run-l","step":0,"escalations":[],"requested_at":"2026-01-01T00:00:00Z"},"host":"langchaingo","state":{"plans":[]}}`
		require.NoError(t, log.AppendApproval(ctx, audit.KindApprovalRequest, "run-l", json.RawMessage(plain)))
		require.NoError(t, store.Flush(ctx))
		assert.True(t, verified(t, store))

		for _, key := range [][]byte{nil, newKey(t)} {
			var opts []approval.DurableOption
			if key != nil {
				opts = append(opts, approval.WithSealKey(key))
			}
			d, err := approval.NewDurable(store, opts...)
			require.NoError(t, err)
			pending, err := d.Pending(ctx)
			require.NoError(t, err)
			require.Len(t, pending, 2)
			assert.True(t, pending[0].Redacted, "read redacted")
			assert.NotContains(t, pending[0].Request.Input, bearerToken)
			assert.Nil(t, pending[0].State)
			assert.False(t, pending[1].Redacted)
			assert.JSONEq(t, `{"plans":[]}`, string(pending[1].State))

			ex, _, err := d.Unseal(ctx, "legacy-1")
			require.NoError(t, err)
			assert.Equal(t, secretInput, ex.Request.Input)
			assert.JSONEq(t, string(secretState), string(ex.State))
			assert.False(t, ex.Sealed)
		}
	})
}

func TestNotificationIsRedacted(t *testing.T) {
	got := make(chan []byte, 1)
	secret := []byte("k")
	srv := httptestServer(t, secret, got)
	store := openStore(t)
	d, err := approval.NewDurable(store, approval.WithNotify(srv, secret, 0), approval.WithSealKey(newKey(t)))
	require.NoError(t, err)
	pauseCall(t, d, store, "run-n", secretInput, secretState)
	body := <-got
	assert.Contains(t, string(body), "wire")
	assert.NotContains(t, string(body), bearerToken, "the approval service gets the redacted call")
}

// httptestServer is an approval service that passes on each signed body
// it receives.
func httptestServer(t *testing.T, secret []byte, got chan<- []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || !approval.VerifySignature(secret, body, r.Header.Get(approval.SignatureHeader)) {
			http.Error(w, "bad request", http.StatusUnauthorized)
			return
		}
		got <- body
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The records go through the store's own redactor: values registered on it
// are masked, and a store with redaction turned off stores the call as
// its trajectories, unredacted (a sealed copy is still kept with a key).
func TestRecordsUseTheStoresRedactor(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	store.Redactor().AddSecrets("correct-horse-battery")
	d, err := approval.NewDurable(store)
	require.NoError(t, err)
	req := pauseCall(t, d, store, "run-r", "login with correct-horse-battery", json.RawMessage(`{}`))
	st, _, err := d.Lookup(ctx, req.ID)
	require.NoError(t, err)
	assert.True(t, st.Redacted)
	assert.NotContains(t, st.Request.Input, "correct-horse-battery")

	off, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "off.db"), audit.WithRedactor(nil))
	require.NoError(t, err)
	defer off.Close()
	d, err = approval.NewDurable(off, approval.WithSealKey(newKey(t)))
	require.NoError(t, err)
	req = pauseCall(t, d, off, "run-o", secretInput, secretState)
	st, _, err = d.Lookup(ctx, req.ID)
	require.NoError(t, err)
	assert.False(t, st.Redacted)
	assert.True(t, st.Sealed)
	assert.Equal(t, secretInput, st.Request.Input, "redaction off: as the store's trajectories")
	assert.Nil(t, st.State, "sealed: no readable state")
}

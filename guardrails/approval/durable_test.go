package approval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

func openStore(t testing.TB) *audit.SQLite {
	t.Helper()
	s, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// pause stores a pending request for a tool call of a fresh run.
func pause(t testing.TB, d *approval.Durable, store audit.Store) approval.Request {
	t.Helper()
	rec := run.New(run.WithStore(store))
	ctx, r := rec.Start(context.Background(), "pay", run.WithRunID("run-1"))
	r.SetResumeState(func() (json.RawMessage, error) { return json.RawMessage(`{"plans":[]}`), nil })
	req := approval.Request{ID: approval.NewRequestID(), Event: trajectory.EventToolCall, Tool: "wire", Input: "send $5", RunID: "run-1",
		Escalations: []approval.Escalation{{Guard: "tools", Reason: "wire needs approval"}}, Deadline: time.Now().Add(time.Minute)}
	res, err := d.Approve(ctx, req)
	require.Error(t, err, "a durable approver never approves a new request")
	assert.False(t, res.Approved)
	r.End(err)
	return req
}

func TestDurableStoresDecidesOnce(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	d, err := approval.NewDurable(store, approval.WithClock(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }))
	require.NoError(t, err)
	req := pause(t, d, store)

	pending, err := d.Pending(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, req.ID, pending[0].Request.ID)
	assert.True(t, pending[0].Request.Deadline.IsZero(), "nobody waits for a durable request")
	assert.JSONEq(t, `{"plans":[]}`, string(pending[0].State))
	assert.Equal(t, "langchaingo", pending[0].Host)

	_, err = d.Decide(ctx, req.ID, approval.Resolution{Approved: true})
	require.ErrorContains(t, err, "who made it")
	_, err = d.Decide(ctx, "nope", approval.Resolution{Approved: true, By: "bob"})
	require.ErrorIs(t, err, approval.ErrUnknownRequest)

	dec, err := d.Decide(ctx, req.ID, approval.Resolution{Approved: false, By: "bob", Reason: "too much"})
	require.NoError(t, err)
	assert.Equal(t, "2026-01-02T03:04:05Z", dec.DecidedAt.Format(time.RFC3339))
	_, err = d.Decide(ctx, req.ID, approval.Resolution{Approved: true, By: "eve"})
	require.ErrorIs(t, err, approval.ErrDecided, "the first decision stands")

	st, got, err := d.Lookup(ctx, req.ID)
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.False(t, got.Approved)
	assert.Equal(t, "bob", got.By)
	assert.Equal(t, "wire", st.Request.Tool)
	pending, err = d.Pending(ctx)
	require.NoError(t, err)
	assert.Empty(t, pending)

	rep, err := store.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
	assert.EqualValues(t, 3, rep.Records, "request, paused run, decision")
}

func TestDurableFailsClosed(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	d, err := approval.NewDurable(store)
	require.NoError(t, err)

	_, err = approval.NewDurable(nil)
	require.Error(t, err)

	// No run in the context: nothing to pause.
	_, err = d.Approve(ctx, approval.Request{ID: "a", Event: trajectory.EventToolCall, Tool: "wire"})
	require.ErrorContains(t, err, "no run")
	// A final answer cannot pause.
	_, err = d.Approve(ctx, approval.Request{ID: "b", Event: trajectory.EventFinalAnswer})
	require.ErrorContains(t, err, "only tool calls")
	// A host without resume state cannot pause.
	rctx, r := run.New().Start(ctx, "t")
	_, err = d.Approve(rctx, approval.Request{ID: "c", Event: trajectory.EventToolCall, Tool: "wire"})
	require.ErrorContains(t, err, "cannot resume")
	r.End(nil)
	pending, err := d.Pending(ctx)
	require.NoError(t, err)
	assert.Empty(t, pending, "nothing was stored for calls that could not pause")
}

func TestContextWithDecisionAnswersTheSameCallOnce(t *testing.T) {
	store := openStore(t)
	d, err := approval.NewDurable(store)
	require.NoError(t, err)
	st := approval.Stored{Request: approval.Request{ID: "r1", Tool: "wire", Input: "send $5"}}
	ctx := approval.ContextWithDecision(context.Background(), st, approval.Decision{RequestID: "r1", Approved: true, By: "alice"})

	// Another call is not answered by the decision (and, without a run,
	// cannot pause).
	_, err = d.Approve(ctx, approval.Request{ID: "x", Event: trajectory.EventToolCall, Tool: "wire", Input: "send $500"})
	require.Error(t, err)
	res, err := d.Approve(ctx, approval.Request{ID: "y", Event: trajectory.EventToolCall, Tool: "wire", Input: "send $5"})
	require.NoError(t, err)
	assert.Equal(t, approval.Resolution{Approved: true, By: "alice"}, res)
	_, err = d.Approve(ctx, approval.Request{ID: "z", Event: trajectory.EventToolCall, Tool: "wire", Input: "send $5"})
	require.Error(t, err, "a decision answers one call only")
}

func TestDecisionHandler(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	d, err := approval.NewDurable(store)
	require.NoError(t, err)
	req := pause(t, d, store)
	secret := []byte("s3cret")
	srv := httptest.NewServer(approval.DecisionHandler(secret, d))
	defer srv.Close()

	post := func(body string, sign bool) *http.Response {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader([]byte(body)))
		require.NoError(t, err)
		if sign {
			hr.Header.Set(approval.SignatureHeader, approval.Sign(secret, []byte(body)))
		}
		resp, err := http.DefaultClient.Do(hr)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	ok := `{"id":"` + req.ID + `","approved":true,"by":"carol","reason":"fine"}`
	assert.Equal(t, http.StatusUnauthorized, post(ok, false).StatusCode)
	assert.Equal(t, http.StatusBadRequest, post(`{"id":"`+req.ID+`","by":"carol"}`, true).StatusCode)
	assert.Equal(t, http.StatusBadRequest, post(`{"id":"`+req.ID+`","approved":true}`, true).StatusCode)
	assert.Equal(t, http.StatusNotFound, post(`{"id":"other","approved":true,"by":"carol"}`, true).StatusCode)
	resp := post(ok, true)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get(approval.SignatureHeader))
	assert.Equal(t, http.StatusConflict, post(ok, true).StatusCode)

	_, dec, err := d.Lookup(ctx, req.ID)
	require.NoError(t, err)
	require.NotNil(t, dec)
	assert.True(t, dec.Approved)
	assert.Equal(t, "carol", dec.By)
}

func TestDurableNotifiesAndTakesTheSignedDecision(t *testing.T) {
	ctx := context.Background()
	secret := []byte("shared")
	store := openStore(t)
	var d *approval.Durable
	decisions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		approval.DecisionHandler(secret, d).ServeHTTP(w, r)
	}))
	defer decisions.Close()
	// The approval service: it gets the signed request and answers later,
	// on its own connection, by POSTing the decision.
	got := make(chan approval.Request, 1)
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		if !approval.VerifySignature(secret, buf.Bytes(), r.Header.Get(approval.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var req approval.Request
		if err := json.Unmarshal(buf.Bytes(), &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- req
	}))
	defer service.Close()
	var err error
	d, err = approval.NewDurable(store, approval.WithNotify(service.URL, secret, 0))
	require.NoError(t, err)

	req := pause(t, d, store)
	notified := <-got
	assert.Equal(t, req.ID, notified.ID)
	assert.Equal(t, "wire", notified.Tool)

	body := []byte(`{"id":"` + notified.ID + `","approved":true,"by":"service"}`)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, decisions.URL, bytes.NewReader(body))
	require.NoError(t, err)
	hr.Header.Set(approval.SignatureHeader, approval.Sign(secret, body))
	resp, err := http.DefaultClient.Do(hr)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, dec, err := d.Lookup(ctx, req.ID)
	require.NoError(t, err)
	require.NotNil(t, dec)
	assert.Equal(t, "service", dec.By)
}

func TestDurableNotifyFailureStillPauses(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	store := openStore(t)
	d, err := approval.NewDurable(store, approval.WithNotify(down.URL, []byte("k"), 0))
	require.NoError(t, err)
	req := pause(t, d, store)
	pending, err := d.Pending(context.Background())
	require.NoError(t, err)
	require.Len(t, pending, 1, "the request is stored whether or not the notification arrives")
	assert.Equal(t, req.ID, pending[0].Request.ID)

	_, err = approval.NewDurable(store, approval.WithNotify("ftp://x", []byte("k"), 0))
	require.ErrorContains(t, err, "http")
	_, err = approval.NewDurable(store, approval.WithNotify(down.URL, nil, 0))
	require.ErrorContains(t, err, "secret")
}

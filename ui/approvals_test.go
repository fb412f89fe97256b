package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

const approvalsToken = "approvals-test-token-0123456789"

// approvalsNow is the UI's clock in these tests: requests are asked
// minutes before it.
var approvalsNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// pauseRun stores a pending durable request for a tool call of a fresh
// run, as a host adapter does when a guard escalates.
func pauseRun(t testing.TB, d *approval.Durable, store audit.Store, runID, tool, input string, asked time.Time) approval.Request {
	t.Helper()
	ctx, r := run.New(run.WithStore(store)).Start(context.Background(), "pay the invoice", run.WithRunID(runID))
	r.SetResumeState(func() (json.RawMessage, error) { return json.RawMessage(`{"plans":[]}`), nil })
	req := approval.Request{ID: approval.NewRequestID(), Event: trajectory.EventToolCall, Tool: tool, Input: input, RunID: runID, Step: 1,
		Task: "pay the invoice", RequestedAt: asked,
		Escalations: []approval.Escalation{{Guard: "tools", Reason: tool + " needs a person's approval"}}}
	_, err := d.Approve(ctx, req)
	require.Error(t, err, "a durable approver pauses a new request")
	r.End(err)
	return req
}

type approvalsFixture struct {
	url   string
	store *audit.SQLite
	d     *approval.Durable
	reqs  []approval.Request
}

// newApprovalsServer serves a UI with the approvals page over a SQLite
// store holding three pending requests (the third with a hostile input).
func newApprovalsServer(t testing.TB, opts ...Option) approvalsFixture {
	t.Helper()
	store, _ := newStore(t, sampleRuns(3))
	d, err := approval.NewDurable(store)
	require.NoError(t, err)
	f := approvalsFixture{store: store, d: d}
	f.reqs = append(f.reqs,
		pauseRun(t, d, store, "pay-1", "wire", `{"to":"ACME","amount":500}`, approvalsNow.Add(-90*time.Minute)),
		pauseRun(t, d, store, "pay-2", "wire", `{"to":"Initech","amount":20}`, approvalsNow.Add(-5*time.Minute)),
		pauseRun(t, d, store, "pay-3", "shell", evilObservation, approvalsNow.Add(-30*time.Second)))
	srv, err := New(store, append([]Option{WithToken(approvalsToken), WithApprovals(d), WithApproverName("alice"),
		WithClock(func() time.Time { return approvalsNow })}, opts...)...)
	require.NoError(t, err)
	f.url = serve(t, srv)
	return f
}

// session is a browser-like client: a cookie jar signed in with the token,
// holding the approvals page's CSRF cookie and form token.
type session struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

func newSession(t testing.TB, base string) *session {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	s := &session{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	r := s.get("/?token=" + approvalsToken)
	require.Equal(t, http.StatusSeeOther, r.status, "the token sets the session cookie")
	page := s.get("/approvals")
	require.Equal(t, http.StatusOK, page.status, page.body)
	s.csrf = formToken(t, page.body)
	return s
}

// formToken returns the csrf field of the page's decision forms (the same
// in each).
func formToken(t testing.TB, body string) string {
	t.Helper()
	var tok string
	for _, in := range findAll(parseHTML(t, body), func(n *html.Node) bool { return n.Data == "input" && attr(n, "name") == "csrf" }) {
		if tok == "" {
			tok = attr(in, "value")
		}
		require.Equal(t, tok, attr(in, "value"), "one token per session")
	}
	return tok
}

func (s *session) do(req *http.Request) response {
	s.t.Helper()
	resp, err := s.c.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (s *session) get(path string) response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	require.NoError(s.t, err)
	return s.do(req)
}

// decide posts a decision form as the approvals page does, with the
// headers set by edit (nil: a same-origin browser POST).
func (s *session) decide(id string, form url.Values, edit func(*http.Request)) response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/approvals/"+url.PathEscape(id), strings.NewReader(form.Encode()))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if edit != nil {
		edit(req)
	}
	return s.do(req)
}

func (s *session) form(decision, reason string) url.Values {
	return url.Values{"decision": {decision}, "reason": {reason}, "csrf": {s.csrf}}
}

func pendingIDs(t testing.TB, body string) []string {
	t.Helper()
	var ids []string
	for _, tr := range findAll(parseHTML(t, body), byClass("pending")) {
		ids = append(ids, attr(tr, "data-request"))
	}
	return ids
}

func TestApprovalsPageListsPending(t *testing.T) {
	f := newApprovalsServer(t)
	s := newSession(t, f.url)
	page := s.get("/approvals")
	require.Equal(t, http.StatusOK, page.status)
	assert.Equal(t, []string{f.reqs[0].ID, f.reqs[1].ID, f.reqs[2].ID}, pendingIDs(t, page.body), "oldest first")
	assert.Equal(t, "same-origin", page.header.Get("Referrer-Policy"), "the form's POST must name its origin")
	doc := parseHTML(t, page.body)
	meta := findAll(doc, func(n *html.Node) bool { return n.Data == "meta" && attr(n, "name") == "referrer" })
	require.Len(t, meta, 1)
	assert.Equal(t, "same-origin", attr(meta[0], "content"))
	assert.NotEmpty(t, s.csrf)

	rows := findAll(doc, byClass("pending"))
	first := text(rows[0])
	assert.Contains(t, first, "pay-1")
	assert.Contains(t, first, "wire")
	assert.Contains(t, first, `"amount": 500`, "the input, indented")
	assert.Contains(t, first, "tools")
	assert.Contains(t, first, "wire needs a person's approval")
	assert.Contains(t, first, "1h 30m ago")
	assert.Contains(t, text(rows[1]), "5m ago")
	assert.Contains(t, text(rows[2]), "30s ago")
	forms := findAll(rows[0], byTag("form"))
	require.Len(t, forms, 1)
	assert.Equal(t, "post", attr(forms[0], "method"))
	assert.Equal(t, "/approvals/"+f.reqs[0].ID, attr(forms[0], "action"))
	assert.Contains(t, page.body, "alice (reagent ui, token ", "the page says how decisions are signed")

	// A hostile input stays text.
	assert.Equal(t, evilObservation, text(findAll(rows[2], byClass("input"))[0]))
	assert.Empty(t, findAll(doc, func(n *html.Node) bool { return n.Data == "script" || n.Data == "img" }))

	// The layout links to the page; the run list shows the paused runs.
	assert.Len(t, findAll(doc, byID("nav-approvals")), 1)
	list := s.get("/")
	assert.Contains(t, listedIDs(t, list.body), "pay-1")
	assert.Len(t, findAll(parseHTML(t, list.body), byID("nav-approvals")), 1)
	assert.Len(t, findAll(parseHTML(t, list.body), func(n *html.Node) bool {
		return n.Data == "meta" && attr(n, "name") == "referrer" && attr(n, "content") == "no-referrer"
	}), 1, "other pages keep no-referrer")
}

func TestApprovalsApproveAndDeny(t *testing.T) {
	ctx := context.Background()
	f := newApprovalsServer(t)
	s := newSession(t, f.url)
	require.NoError(t, f.store.Flush(ctx))
	before, err := f.store.Verify(ctx)
	require.NoError(t, err)

	r := s.decide(f.reqs[0].ID, s.form("approve", "  invoice 4711 checked  "), nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	assert.Equal(t, "/approvals?decided="+f.reqs[0].ID, r.header.Get("Location"))

	st, dec, err := f.d.Lookup(ctx, f.reqs[0].ID)
	require.NoError(t, err)
	require.NotNil(t, dec, "the decision is in the store")
	assert.True(t, dec.Approved)
	assert.Equal(t, "invoice 4711 checked", dec.Reason)
	assert.Equal(t, "alice (reagent ui, token "+newAuth(approvalsToken).fingerprint()+")", dec.By)
	assert.Equal(t, "wire", st.Request.Tool)

	page := s.get(r.header.Get("Location"))
	require.Equal(t, http.StatusOK, page.status)
	doc := parseHTML(t, page.body)
	flash := findAll(doc, byID("decided"))
	require.Len(t, flash, 1)
	assert.Equal(t, f.reqs[0].ID, attr(flash[0], "data-request"))
	assert.Equal(t, "true", attr(flash[0], "data-approved"))
	assert.Contains(t, text(flash[0]), "invoice 4711 checked")
	assert.Equal(t, []string{f.reqs[1].ID, f.reqs[2].ID}, pendingIDs(t, page.body))

	// Deny the second; this POST names its origin in Referer only.
	r = s.decide(f.reqs[1].ID, s.form("deny", "unknown payee"), func(req *http.Request) {
		req.Header.Del("Origin")
		req.Header.Del("Sec-Fetch-Site")
		req.Header.Set("Referer", f.url+"/approvals")
	})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	_, dec, err = f.d.Lookup(ctx, f.reqs[1].ID)
	require.NoError(t, err)
	require.NotNil(t, dec)
	assert.False(t, dec.Approved)
	assert.Equal(t, "unknown payee", dec.Reason)

	page = s.get("/approvals")
	decided := findAll(parseHTML(t, page.body), byClass("decided"))
	require.Len(t, decided, 2)
	assert.Equal(t, f.reqs[1].ID, attr(decided[0], "data-request"), "newest decision first")
	assert.Equal(t, "false", attr(decided[0], "data-approved"))
	assert.Equal(t, f.reqs[0].ID, attr(decided[1], "data-request"))
	assert.Contains(t, text(decided[1]), "alice (reagent ui")
	assert.Equal(t, []string{f.reqs[2].ID}, pendingIDs(t, page.body))

	// Both decisions are records of the chain, which still verifies.
	after, err := f.store.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, after.OK, after.String())
	assert.Equal(t, before.Records+2, after.Records)
	var kinds []audit.Kind
	var decisions []approval.Decision
	require.NoError(t, f.store.ApprovalRecords(ctx, func(rec audit.Record) error {
		kinds = append(kinds, rec.Kind)
		if rec.Kind == audit.KindApprovalDecision {
			var d approval.Decision
			require.NoError(t, json.Unmarshal(rec.Payload, &d))
			decisions = append(decisions, d)
		}
		return nil
	}))
	assert.Equal(t, []audit.Kind{audit.KindApprovalRequest, audit.KindApprovalRequest, audit.KindApprovalRequest,
		audit.KindApprovalDecision, audit.KindApprovalDecision}, kinds)
	require.Len(t, decisions, 2)
	assert.Equal(t, f.reqs[0].ID, decisions[0].RequestID)
	assert.Equal(t, f.reqs[1].ID, decisions[1].RequestID)
}

func TestApprovalsDecideOnceAndUnknown(t *testing.T) {
	ctx := context.Background()
	f := newApprovalsServer(t)
	s := newSession(t, f.url)
	require.Equal(t, http.StatusSeeOther, s.decide(f.reqs[0].ID, s.form("deny", "no"), nil).status)

	r := s.decide(f.reqs[0].ID, s.form("approve", "changed my mind"), nil)
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Contains(t, r.body, "already decided")
	_, dec, err := f.d.Lookup(ctx, f.reqs[0].ID)
	require.NoError(t, err)
	assert.False(t, dec.Approved, "the first decision stands")

	r = s.decide("no-such-request", s.form("approve", ""), nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Contains(t, r.body, "no-such-request")
	r = s.decide(strings.Repeat("x", maxRequestID+1), s.form("approve", ""), nil)
	assert.Equal(t, http.StatusNotFound, r.status)

	// GET never decides.
	r = s.get("/approvals/" + f.reqs[1].ID + "?decision=approve&csrf=" + s.csrf)
	assert.Equal(t, http.StatusNotFound, r.status)
	r = s.get("/approvals?decided=" + f.reqs[1].ID)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, findAll(parseHTML(t, r.body), byID("decided")), "a pending request shows no decision")
	pending, err := f.d.Pending(ctx)
	require.NoError(t, err)
	assert.Len(t, pending, 2)
}

func TestApprovalsCSRF(t *testing.T) {
	ctx := context.Background()
	f := newApprovalsServer(t)
	s := newSession(t, f.url)
	other := newSession(t, f.url)
	require.NotEqual(t, s.csrf, other.csrf, "each session has its own token")
	id := f.reqs[0].ID

	cases := []struct {
		name string
		form url.Values
		edit func(*http.Request)
		want string
	}{
		{"no origin or referer", s.form("approve", ""), func(r *http.Request) { r.Header.Del("Origin"); r.Header.Del("Sec-Fetch-Site") }, "no Origin or Referer"},
		{"cross-site fetch", s.form("approve", ""), func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, "cross-site"},
		{"other origin", s.form("approve", ""), func(r *http.Request) {
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Origin", "http://evil.example")
		}, "cross-site"},
		{"null origin", s.form("approve", ""), func(r *http.Request) { r.Header.Set("Origin", "null") }, "not a web origin"},
		{"other referer", s.form("approve", ""), func(r *http.Request) {
			r.Header.Del("Origin")
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Referer", "http://evil.example/approvals")
		}, "another site"},
		{"token missing", url.Values{"decision": {"approve"}}, nil, "no CSRF token"},
		{"token empty", url.Values{"decision": {"approve"}, "csrf": {""}}, nil, "no CSRF token"},
		{"token wrong", url.Values{"decision": {"approve"}, "csrf": {strings.Repeat("ab", 32)}}, nil, "does not match"},
		{"token of another session", url.Values{"decision": {"approve"}, "csrf": {other.csrf}}, nil, "does not match"},
		{"token twice", url.Values{"decision": {"approve"}, "csrf": {s.csrf, s.csrf}}, nil, "no CSRF token"},
		{"bad form and no token", url.Values{"decision": {"maybe"}}, nil, "no CSRF token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.t = t
			r := s.decide(id, c.form, c.edit)
			assert.Equal(t, http.StatusForbidden, r.status, r.body)
			assert.Contains(t, r.body, c.want)
		})
	}
	s.t = t
	// Signed in, but without the CSRF cookie the page sets.
	bare := &session{t: t, base: f.url, c: &http.Client{CheckRedirect: s.c.CheckRedirect}, csrf: s.csrf}
	r := bare.decide(id, bare.form("approve", ""), func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: cookieName, Value: newAuth(approvalsToken).session})
	})
	assert.Equal(t, http.StatusForbidden, r.status, r.body)
	assert.Contains(t, r.body, "no CSRF session")
	_, dec, err := f.d.Lookup(ctx, id)
	require.NoError(t, err)
	assert.Nil(t, dec, "no refused POST recorded anything")

	// The other session's own token works for it.
	require.Equal(t, http.StatusSeeOther, other.decide(id, other.form("approve", ""), nil).status)
}

func TestApprovalsBadForms(t *testing.T) {
	f := newApprovalsServer(t)
	s := newSession(t, f.url)
	id := f.reqs[0].ID
	for name, c := range map[string]struct {
		form   url.Values
		edit   func(*http.Request)
		status int
	}{
		"no decision":     {url.Values{"csrf": {s.csrf}}, nil, http.StatusBadRequest},
		"bad decision":    {url.Values{"decision": {"yes"}, "csrf": {s.csrf}}, nil, http.StatusBadRequest},
		"two decisions":   {url.Values{"decision": {"deny", "approve"}, "csrf": {s.csrf}}, nil, http.StatusBadRequest},
		"unknown field":   {url.Values{"decision": {"approve"}, "by": {"mallory"}, "csrf": {s.csrf}}, nil, http.StatusBadRequest},
		"reason too long": {s.form("approve", strings.Repeat("x", MaxDecisionReason+1)), nil, http.StatusBadRequest},
		"control char":    {s.form("approve", "ok\x00"), nil, http.StatusBadRequest},
		"bad utf-8":       {s.form("approve", "ok\xff"), nil, http.StatusBadRequest},
		"json":            {s.form("approve", ""), func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }, http.StatusUnsupportedMediaType},
		"body too big": {url.Values{"decision": {"approve"}, "csrf": {s.csrf}, "reason": {strings.Repeat("x", maxDecisionBody)}},
			nil, http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			s.t = t
			r := s.decide(id, c.form, c.edit)
			assert.Equal(t, c.status, r.status, r.body)
		})
	}
	s.t = t
	_, dec, err := f.d.Lookup(context.Background(), id)
	require.NoError(t, err)
	assert.Nil(t, dec, "no bad form recorded anything")
}

func TestApprovalsNeedAuth(t *testing.T) {
	f := newApprovalsServer(t)
	s := newSession(t, f.url)
	id := f.reqs[0].ID

	// Without the session cookie or the bearer token: 401, for the page and
	// for a decision, even with a valid CSRF cookie and token.
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := anon.Get(f.url + "/approvals")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	csrfC := ""
	u, err := url.Parse(f.url + "/approvals")
	require.NoError(t, err)
	for _, c := range s.c.Jar.Cookies(u) {
		if c.Name == csrfCookie {
			csrfC = c.Value
		}
	}
	require.NotEmpty(t, csrfC)
	post := func(query string, edit func(*http.Request)) int {
		req, err := http.NewRequest(http.MethodPost, f.url+"/approvals/"+id+query, strings.NewReader(s.form("approve", "").Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", f.url)
		req.AddCookie(&http.Cookie{Name: csrfCookie, Value: csrfC})
		if edit != nil {
			edit(req)
		}
		resp, err := anon.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, post("", nil))
	assert.Equal(t, http.StatusUnauthorized, post("?token="+approvalsToken, nil), "a decision never signs in by query")
	assert.Equal(t, http.StatusUnauthorized, post("", func(r *http.Request) { r.Header.Set("Authorization", "Bearer wrong-token-0123456789") }))
	_, dec, err := f.d.Lookup(context.Background(), id)
	require.NoError(t, err)
	assert.Nil(t, dec)

	// The bearer token authenticates a decision too (with the CSRF pair).
	assert.Equal(t, http.StatusSeeOther, post("", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+approvalsToken) }))
	_, dec, err = f.d.Lookup(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, dec)
	assert.True(t, dec.Approved)
}

func TestApprovalsOptIn(t *testing.T) {
	store, _ := newStore(t, sampleRuns(2))
	d, err := approval.NewDurable(store)
	require.NoError(t, err)
	req := pauseRun(t, d, store, "pay-1", "wire", "send $5", approvalsNow)

	// Without WithApprovals the UI stays read-only: no page, no POST.
	srv, err := New(store, WithToken(approvalsToken))
	require.NoError(t, err)
	base := serve(t, srv)
	s := &session{t: t, base: base, c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+approvalsToken) }
	page := s.do(authed(t, http.MethodGet, base+"/approvals"))
	assert.Equal(t, http.StatusNotFound, page.status)
	list := s.do(authed(t, http.MethodGet, base+"/"))
	assert.Empty(t, findAll(parseHTML(t, list.body), byID("nav-approvals")))
	r := s.decide(req.ID, url.Values{"decision": {"approve"}, "csrf": {"x"}}, bearer)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Equal(t, "GET, HEAD", r.header.Get("Allow"))
	_, dec, err := d.Lookup(context.Background(), req.ID)
	require.NoError(t, err)
	assert.Nil(t, dec)

	// Approvals need a token: nothing else says who decided.
	_, err = New(store, WithApprovals(d))
	require.ErrorContains(t, err, "access token")
	_, err = New(store, WithApprovals(nil), WithToken(approvalsToken))
	require.Error(t, err)
	_, err = New(store, WithApprovals(d), WithToken(approvalsToken), WithApproverName("a\x00b"))
	require.Error(t, err)

	// With approvals, other paths still refuse POST.
	srv, err = New(store, WithToken(approvalsToken), WithApprovals(d))
	require.NoError(t, err)
	base = serve(t, srv)
	s.base = base
	for _, p := range []string{"/", "/chain", "/approvals", "/approvals/", "/approvals/" + req.ID + "/x"} {
		rq := authed(t, http.MethodPost, base+p)
		assert.Equal(t, http.StatusMethodNotAllowed, s.do(rq).status, p)
	}
	rq := authed(t, http.MethodPut, base+"/approvals/"+req.ID)
	assert.Equal(t, http.StatusMethodNotAllowed, s.do(rq).status)
}

func authed(t testing.TB, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+approvalsToken)
	return req
}

func TestFmtAge(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{-time.Second, "0s"}, {0, "0s"}, {59 * time.Second, "59s"}, {time.Minute, "1m"}, {59 * time.Minute, "59m"},
		{90 * time.Minute, "1h 30m"}, {49 * time.Hour, "2d 1h"}} {
		assert.Equal(t, c.want, fmtAge(approvalsNow, approvalsNow.Add(-c.d)), c.d)
	}
	assert.Equal(t, "–", fmtAge(approvalsNow, time.Time{}))
}

func TestApprovalsPageBoundsPending(t *testing.T) {
	store, _ := newStore(t, nil)
	d, err := approval.NewDurable(store)
	require.NoError(t, err)
	var first string
	for i := range maxPendingShown + 3 {
		req := pauseRun(t, d, store, fmt.Sprintf("pay-%d", i), "wire", "x", approvalsNow)
		if i == 0 {
			first = req.ID
		}
	}
	srv, err := New(store, WithToken(approvalsToken), WithApprovals(d))
	require.NoError(t, err)
	base := serve(t, srv)
	page := do(t, authed(t, http.MethodGet, base+"/approvals"))
	require.Equal(t, http.StatusOK, page.status)
	ids := pendingIDs(t, page.body)
	require.Len(t, ids, maxPendingShown)
	assert.Equal(t, first, ids[0], "the oldest are listed")
	more := findAll(parseHTML(t, page.body), byID("more-pending"))
	require.Len(t, more, 1)
	assert.Contains(t, text(more[0]), "3 more pending")
}

// TestApprovalsRefuseUnresumable checks that the page does not record an
// approval the run could not resume from (a call that carried a secret,
// stored without a seal key), and that such a call can still be denied.
func TestApprovalsRefuseUnresumable(t *testing.T) {
	ctx := context.Background()
	f := newApprovalsServer(t)
	req := pauseRun(t, f.d, f.store, "leak-1", "http", `{"auth":"Bearer ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"}`, approvalsNow.Add(-time.Minute))
	s := newSession(t, f.url)
	r := s.decide(req.ID, s.form("approve", ""), nil)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Contains(t, r.body, approval.EnvSealKey)
	_, dec, err := f.d.Lookup(ctx, req.ID)
	require.NoError(t, err)
	assert.Nil(t, dec, "nothing recorded")
	assert.Equal(t, http.StatusSeeOther, s.decide(req.ID, s.form("deny", "carried a token"), nil).status)
}

package ui

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/reagent-go/reagent/trajectory"
)

func blockedRun(t *trajectory.Trajectory) bool {
	for _, c := range t.ToolCalls() {
		if c.Blocked {
			return true
		}
	}
	for _, d := range t.Decisions {
		if d.Verdict == trajectory.Block {
			return true
		}
	}
	return false
}

func TestListFilters(t *testing.T) {
	runs := sampleRuns(40)
	backends(t, runs, func(t *testing.T, base string) { checkFilters(t, base, runs) })
}

func checkFilters(t *testing.T, base string, runs []*trajectory.Trajectory) {
	score := func(r *trajectory.Trajectory) (float64, bool) { return lastOKScore(r) }
	cases := []struct {
		query string
		want  func(*trajectory.Trajectory) bool
	}{
		{"", func(*trajectory.Trajectory) bool { return true }},
		{"status=error", func(r *trajectory.Trajectory) bool { return r.Status == trajectory.StatusError }},
		{"status=max-iterations", func(r *trajectory.Trajectory) bool { return r.Status == trajectory.StatusMaxIterations }},
		{"min_score=0.5", func(r *trajectory.Trajectory) bool { s, ok := score(r); return ok && s >= 0.5 }},
		{"max_score=0.3", func(r *trajectory.Trajectory) bool { s, ok := score(r); return ok && s <= 0.3 }},
		{"min_score=0.2&max_score=0.6", func(r *trajectory.Trajectory) bool { s, ok := score(r); return ok && s >= 0.2 && s <= 0.6 }},
		{"blocked=yes", blockedRun},
		{"blocked=no", func(r *trajectory.Trajectory) bool { return !blockedRun(r) }},
		{"suite=gaia", func(r *trajectory.Trajectory) bool { return r.Metadata["suite"] == "gaia" }},
		{"strategy=reagent-u", func(r *trajectory.Trajectory) bool { return r.Metadata["strategy"] == "reagent-u" }},
		{"since=2026-03-01T09:10&until=2026-03-01T09:20", func(r *trajectory.Trajectory) bool {
			return !r.StartedAt.Before(t0.Add(10*time.Minute)) && r.StartedAt.Before(t0.Add(20*time.Minute))
		}},
		{"status=finished&suite=arith&min_score=0.1&blocked=no", func(r *trajectory.Trajectory) bool {
			s, ok := score(r)
			return r.Status == trajectory.StatusFinished && r.Metadata["suite"] == "arith" && ok && s >= 0.1 && !blockedRun(r)
		}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			var want []string
			for i := len(runs) - 1; i >= 0; i-- {
				if c.want(runs[i]) {
					want = append(want, runs[i].ID)
				}
			}
			require.NotEmpty(t, want, "the sample data should exercise this filter")
			q := "size=500"
			if c.query != "" {
				q += "&" + c.query
			}
			resp := get(t, base+"/?"+q)
			require.Equal(t, http.StatusOK, resp.status, resp.body)
			assert.Equal(t, want, listedIDs(t, resp.body))
			if c.query != "" {
				assert.Less(t, len(want), len(runs), "a filter that keeps everything tests nothing")
			}
		})
	}
}

func TestListBadFilter(t *testing.T) {
	ts, _, _ := newTestServer(t, sampleRuns(3))
	for _, q := range []string{"status=exploded", "min_score=2", "min_score=abc", "min_score=0.8&max_score=0.2", "blocked=maybe",
		"since=yesterday", "since=2026-03-02&until=2026-03-01", "page=0", "size=100000", "suite=" + strings.Repeat("x", 300)} {
		resp := get(t, ts.URL+"/?"+q)
		assert.Equal(t, http.StatusBadRequest, resp.status, q)
		doc := parseHTML(t, resp.body)
		errs := findAll(doc, byID("filter-error"))
		require.Len(t, errs, 1, q)
		assert.Contains(t, text(errs[0]), "bad filter", q)
		assert.Empty(t, listedIDs(t, resp.body), q)
		resp = get(t, ts.URL+"/charts?"+q)
		assert.Equal(t, http.StatusBadRequest, resp.status, q)
	}
}

func TestListPagination(t *testing.T) {
	runs := sampleRuns(23)
	backends(t, runs, func(t *testing.T, base string) { checkPagination(t, base, runs) })
}

func checkPagination(t *testing.T, base string, runs []*trajectory.Trajectory) {
	var seen []string
	next := "/?size=10"
	pages := 0
	for next != "" {
		pages++
		require.LessOrEqual(t, pages, 5, "pagination does not end")
		resp := get(t, base+next)
		require.Equal(t, http.StatusOK, resp.status)
		ids := listedIDs(t, resp.body)
		assert.LessOrEqual(t, len(ids), 10)
		seen = append(seen, ids...)
		next = ""
		if older := findAll(parseHTML(t, resp.body), byID("older")); len(older) == 1 {
			next = attr(older[0], "href")
		}
		hasNewer := len(findAll(parseHTML(t, resp.body), byID("newer"))) == 1
		assert.Equal(t, pages > 1, hasNewer, "page %d", pages)
	}
	assert.Equal(t, 3, pages)
	var want []string
	for i := len(runs) - 1; i >= 0; i-- {
		want = append(want, runs[i].ID)
	}
	assert.Equal(t, want, seen, "every run once, newest first")

	// Paging keeps the filter, and a page past the end is empty.
	resp := get(t, base+"/?status=finished&size=3&page=2")
	var fin []string
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Status == trajectory.StatusFinished {
			fin = append(fin, runs[i].ID)
		}
	}
	assert.Equal(t, fin[3:6], listedIDs(t, resp.body))
	older := findAll(parseHTML(t, resp.body), byID("older"))
	require.Len(t, older, 1)
	u, err := url.Parse(attr(older[0], "href"))
	require.NoError(t, err)
	assert.Equal(t, "finished", u.Query().Get("status"))
	assert.Equal(t, "3", u.Query().Get("page"))
	resp = get(t, base+"/?page=99")
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Empty(t, listedIDs(t, resp.body))
	assert.Len(t, findAll(parseHTML(t, resp.body), byID("no-runs")), 1)
}

func TestRunPage(t *testing.T) {
	runs := sampleRuns(14)
	ts, _, _ := newTestServer(t, runs)
	for _, r := range runs {
		resp := get(t, ts.URL+"/runs/"+url.PathEscape(r.ID))
		require.Equal(t, http.StatusOK, resp.status, r.ID)
		doc := parseHTML(t, resp.body)
		assert.Equal(t, r.ID, text(findAll(doc, byID("run-id"))[0]))
		assert.Equal(t, r.Task, text(findAll(doc, byID("task"))[0]))
		thoughts := findAll(doc, byClass("thought"))
		require.Len(t, thoughts, len(r.Steps))
		for i, s := range r.Steps {
			assert.Equal(t, s.Thought, text(thoughts[i]))
		}
		var obs, inputs []string
		for _, n := range findAll(doc, byClass("observation")) {
			obs = append(obs, text(n))
		}
		for _, n := range findAll(doc, byClass("tool-input")) {
			inputs = append(inputs, text(n))
		}
		var wantObs, wantIn []string
		var wantErrs int
		for _, c := range r.ToolCalls() {
			wantObs = append(wantObs, c.Observation)
			wantIn = append(wantIn, prettyJSON(c.Input))
			if c.Error != "" {
				wantErrs++
			}
		}
		assert.Equal(t, wantObs, obs)
		assert.Equal(t, wantIn, inputs)
		assert.Len(t, findAll(doc, byClass("tool-error")), wantErrs)
		blocked := findAll(doc, func(n *html.Node) bool { return hasClass(n, "call") && hasClass(n, "blocked") })
		assert.Len(t, blocked, len(slices.DeleteFunc(r.ToolCalls(), func(c trajectory.ToolCall) bool { return !c.Blocked })))
		for _, b := range blocked {
			assert.Contains(t, text(b), "blocked by egress")
		}
		var wantCrit []string
		for _, s := range r.Steps {
			if s.Critique != "" {
				wantCrit = append(wantCrit, s.Critique)
			}
		}
		var crit []string
		for _, n := range findAll(doc, byClass("injected-critique")) {
			crit = append(crit, text(n))
		}
		assert.Equal(t, wantCrit, crit)
		// Every guard decision is in the table, in order.
		if len(r.Decisions) > 0 {
			rows := findAll(findAll(doc, byID("decisions"))[0], byTag("tr"))
			require.Len(t, rows, len(r.Decisions)+1)
			for i, d := range r.Decisions {
				cells := findAll(rows[i+1], byTag("td"))
				assert.Equal(t, strconv.Itoa(d.Step), text(cells[0]))
				assert.Equal(t, string(d.Event), text(cells[1]))
				assert.Equal(t, d.Guard, text(cells[2]))
				assert.Equal(t, string(d.Verdict), text(cells[4]))
				assert.Equal(t, d.Reason, text(cells[5]))
				if d.Resolution != "" {
					assert.Equal(t, d.Resolution+" by "+d.ResolvedBy, text(cells[7]))
				}
			}
		}
		// Assessments with think, critique, score and status.
		cards := findAll(doc, byClass("assessment"))
		require.Len(t, cards, len(r.Assessments))
		for i, a := range r.Assessments {
			c := text(cards[i])
			assert.Contains(t, c, string(a.Status))
			assert.Contains(t, c, a.Judge)
			if a.OK() {
				assert.Equal(t, fmt.Sprintf("%.2f", a.Score), text(findAll(cards[i], byClass("assessment-score"))[0]))
				assert.Equal(t, a.Think, text(findAll(cards[i], byClass("think"))[0]))
				assert.Equal(t, a.Critique, text(findAll(cards[i], byClass("critique-text"))[0]))
			} else {
				assert.Empty(t, findAll(cards[i], byClass("assessment-score")), "a failed judgment shows no score")
				assert.Contains(t, c, a.Error)
			}
		}
		if r.Error != "" {
			assert.Equal(t, r.Error, text(findAll(doc, byID("run-error"))[0]))
		}
	}
	resp := get(t, ts.URL+"/runs/no-such-run")
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.Contains(t, resp.body, "no-such-run")
}

func TestRunIDsNeedingEscape(t *testing.T) {
	runs := sampleRuns(2)
	runs[0].ID = `a/b c?d#e<x>"&`
	ts, _, _ := newTestServer(t, runs)
	resp := get(t, ts.URL+"/")
	ids := listedIDs(t, resp.body)
	require.Len(t, ids, 2)
	resp = get(t, ts.URL+"/runs/"+ids[1])
	require.Equal(t, http.StatusOK, resp.status, ids[1])
	assert.Equal(t, runs[0].ID, text(findAll(parseHTML(t, resp.body), byID("run-id"))[0]))
}

// TestHostileContentIsInert stores a run whose observation, task, thought,
// metadata and judge output carry markup, and checks the pages contain no
// element that came from it: the markup is shown as text.
func TestHostileContentIsInert(t *testing.T) {
	runs := sampleRuns(3)
	r := runs[2]
	require.Equal(t, evilObservation, r.Steps[0].Calls[0].Observation)
	r.Task = `<script>alert(1)</script> task`
	r.Steps[1].Thought = `</pre><script>alert(2)</script>`
	r.Metadata["suite"] = `<svg onload=alert(3)>`
	r.Metadata["strategy"] = `"><script>alert(4)</script>`
	r.Assessments[0].Critique = `<iframe src="javascript:alert(5)"></iframe>`
	r.Decisions[0].Reason = `<a href="javascript:alert(6)">x</a>`
	r.Steps[0].Calls[0].Tool = `<style>body{display:none}</style>`
	ts, _, _ := newTestServer(t, runs)
	for _, path := range []string{"/runs/" + r.ID, "/", "/charts", "/?suite=" + url.QueryEscape(r.Metadata["suite"])} {
		resp := get(t, ts.URL+path)
		require.Equal(t, http.StatusOK, resp.status, path)
		doc := parseHTML(t, resp.body)
		assert.Empty(t, findAll(doc, byTag("script")), path)
		assert.Empty(t, findAll(doc, byTag("iframe")), path)
		assert.Empty(t, findAll(doc, byTag("img")), path)
		assert.Len(t, findAll(doc, byTag("style")), 1, "only the page's own stylesheet: %s", path)
		for _, n := range findAll(doc, func(*html.Node) bool { return true }) {
			for _, a := range n.Attr {
				assert.False(t, strings.HasPrefix(a.Key, "on"), "event handler attribute %q on %s in %s", a.Key, n.Data, path)
				assert.NotContains(t, strings.ToLower(a.Val), "javascript:", path)
			}
			if n.Data == "svg" {
				assert.NotEmpty(t, attr(n, "role"), "only the charts' own svg elements: %s", path)
			}
		}
	}
	resp := get(t, ts.URL+"/runs/"+r.ID)
	doc := parseHTML(t, resp.body)
	obs := findAll(doc, byClass("observation"))
	require.Len(t, obs, 1)
	assert.Equal(t, evilObservation, text(obs[0]), "the observation is shown verbatim as text")
	assert.Contains(t, resp.body, "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;")
	assert.Equal(t, r.Steps[1].Thought, text(findAll(doc, byClass("thought"))[1]))
}

func TestSecurityHeadersAndMethods(t *testing.T) {
	ts, _, _ := newTestServer(t, sampleRuns(2))
	check := func(resp response, what string) {
		t.Helper()
		assert.Equal(t, ContentSecurityPolicy, resp.header.Get("Content-Security-Policy"), what)
		assert.Contains(t, resp.header.Get("Content-Security-Policy"), "frame-ancestors 'none'", what)
		assert.Contains(t, resp.header.Get("Content-Security-Policy"), "default-src 'none'", what)
		assert.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"), what)
		assert.Equal(t, "DENY", resp.header.Get("X-Frame-Options"), what)
		assert.Equal(t, "no-referrer", resp.header.Get("Referrer-Policy"), what)
		assert.Equal(t, "no-store", resp.header.Get("Cache-Control"), what)
	}
	for _, path := range []string{"/", "/runs/run-000", "/charts", "/chain", "/metrics", "/nowhere", "/runs/missing"} {
		resp := get(t, ts.URL+path)
		check(resp, path)
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "PROPFIND"} {
			req, err := http.NewRequest(m, ts.URL+path, strings.NewReader("x=1"))
			require.NoError(t, err)
			resp := do(t, req)
			assert.Equal(t, http.StatusMethodNotAllowed, resp.status, "%s %s", m, path)
			assert.Equal(t, "GET, HEAD", resp.header.Get("Allow"))
			check(resp, m+" "+path)
		}
		req, err := http.NewRequest(http.MethodHead, ts.URL+path, nil)
		require.NoError(t, err)
		head := do(t, req)
		assert.Equal(t, resp.status, head.status, "HEAD %s", path)
		assert.Empty(t, head.body)
	}
	assert.Equal(t, http.StatusNotFound, get(t, ts.URL+"/nowhere").status)
	assert.Equal(t, "text/html; charset=utf-8", get(t, ts.URL+"/").header.Get("Content-Type"))
}

func TestHostCheckWithoutToken(t *testing.T) {
	ts, store, _ := newTestServer(t, sampleRuns(1))
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	req.Host = "attacker.example:8080" // DNS rebinding: a page on attacker.example resolved to 127.0.0.1
	assert.Equal(t, http.StatusForbidden, do(t, req).status)
	for _, h := range []string{"localhost:8080", "127.0.0.1", "[::1]:9000", "LOCALHOST"} {
		req.Host = h
		assert.Equal(t, http.StatusOK, do(t, req).status, h)
	}
	srv, err := New(store, WithAllowedHosts("reagent.internal"))
	require.NoError(t, err)
	ts2 := serve(t, srv)
	req, _ = http.NewRequest(http.MethodGet, ts2+"/", nil)
	req.Host = "reagent.internal:443"
	assert.Equal(t, http.StatusOK, do(t, req).status)
}

func TestToken(t *testing.T) {
	const token = "correct-horse-battery-staple-42"
	ts, store, _ := newTestServer(t, sampleRuns(3), WithToken(token))
	for _, path := range []string{"/", "/runs/run-001", "/charts", "/chain", "/metrics"} {
		resp := get(t, ts.URL+path)
		assert.Equal(t, http.StatusUnauthorized, resp.status, path)
		assert.Contains(t, resp.header.Get("WWW-Authenticate"), "Bearer")
		assert.NotContains(t, resp.body, "run-001")
		assert.Equal(t, ContentSecurityPolicy, resp.header.Get("Content-Security-Policy"))

		for _, h := range []string{"Bearer " + token + "x", "Bearer", "Basic " + token, token, "Bearer " + token[:len(token)-1]} {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
			req.Header.Set("Authorization", h)
			assert.Equal(t, http.StatusUnauthorized, do(t, req).status, "%s with %q", path, h)
		}
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		assert.Equal(t, http.StatusOK, do(t, req).status, path)
		req.Header.Set("Authorization", "bearer "+token)
		assert.Equal(t, http.StatusOK, do(t, req).status, path)
	}
	// A wrong ?token= sets nothing.
	resp := get(t, ts.URL+"/?token=nope")
	assert.Equal(t, http.StatusUnauthorized, resp.status)
	assert.Empty(t, resp.header.Values("Set-Cookie"))

	// ?token= sets the cookie and redirects to the same page without it.
	resp = get(t, ts.URL+"/?status=error&token="+url.QueryEscape(token))
	require.Equal(t, http.StatusSeeOther, resp.status)
	assert.Equal(t, "/?status=error", resp.header.Get("Location"))
	cookies := (&http.Response{Header: resp.header}).Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	assert.NotContains(t, c.Value, token, "the cookie is derived from the token, not the token")
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/?status=error", nil)
	req.AddCookie(c)
	resp = do(t, req)
	assert.Equal(t, http.StatusOK, resp.status)
	assert.NotEmpty(t, listedIDs(t, resp.body))
	bad := *c
	bad.Value = c.Value[:len(c.Value)-1] + "0"
	if bad.Value == c.Value {
		bad.Value = c.Value[:len(c.Value)-1] + "1"
	}
	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	req.AddCookie(&bad)
	assert.Equal(t, http.StatusUnauthorized, do(t, req).status)

	// The redirect never leaves the site.
	resp = get(t, ts.URL+"//evil.example/x?token="+url.QueryEscape(token))
	if resp.status == http.StatusSeeOther {
		loc := resp.header.Get("Location")
		assert.True(t, strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//"), loc)
	}

	// Methods are refused before the token is even looked at.
	req, _ = http.NewRequest(http.MethodPost, ts.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	assert.Equal(t, http.StatusMethodNotAllowed, do(t, req).status)

	// With a token, any Host is accepted: the token is the protection.
	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	req.Host = "ui.example.com"
	req.Header.Set("Authorization", "Bearer "+token)
	assert.Equal(t, http.StatusOK, do(t, req).status)

	_, err := New(store, WithToken("short"))
	assert.ErrorContains(t, err, "at least 16")
}

func TestCheckAddr(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:8080", "localhost:0", "[::1]:8080", "127.0.0.2:1"} {
		assert.NoError(t, CheckAddr(addr, ""), addr)
	}
	for _, addr := range []string{":8080", "0.0.0.0:8080", "[::]:8080", "192.168.1.10:8080", "example.com:80"} {
		err := CheckAddr(addr, "")
		require.Error(t, err, addr)
		assert.Contains(t, err.Error(), "REAGENT_UI_TOKEN")
		assert.NoError(t, CheckAddr(addr, "a-long-enough-token"), addr)
	}
	assert.ErrorContains(t, CheckAddr("no-port", ""), "host:port")
}

func TestChainPage(t *testing.T) {
	ts, store, path := newTestServer(t, sampleRuns(6))
	resp := get(t, ts.URL+"/chain")
	require.Equal(t, http.StatusOK, resp.status)
	doc := parseHTML(t, resp.body)
	state := text(findAll(doc, byID("chain-state"))[0])
	assert.Contains(t, state, "OK")
	assert.Contains(t, state, "audit chain intact: 6 records")
	assert.Empty(t, findAll(doc, byID("chain-break")))

	// Edit one stored record behind the store's back.
	require.NoError(t, store.Flush(context.Background()))
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	res, err := db.Exec(`UPDATE audit_records SET payload = replace(payload, 'run-003', 'run-993') WHERE run_id = 'run-003'`)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	rep, err := store.Verify(context.Background())
	require.NoError(t, err)
	require.False(t, rep.OK)

	resp = get(t, ts.URL+"/chain")
	require.Equal(t, http.StatusOK, resp.status)
	doc = parseHTML(t, resp.body)
	assert.Contains(t, text(findAll(doc, byID("chain-state"))[0]), "BROKEN")
	brk := findAll(doc, byID("chain-break"))
	require.Len(t, brk, 1)
	b := text(brk[0])
	assert.Contains(t, b, strconv.FormatInt(rep.Break.Seq, 10))
	assert.Contains(t, b, string(rep.Break.Reason))
	links := findAll(brk[0], byTag("a"))
	require.Len(t, links, 1)
	assert.Equal(t, "/runs/run-003", attr(links[0], "href"))
}

func TestChartsPage(t *testing.T) {
	runs := sampleRuns(30)
	metricsPath := filepath.Join(t.TempDir(), "train.jsonl")
	var lines []string
	for step := 1; step <= 12; step++ {
		lines = append(lines, fmt.Sprintf(`{"step":%d,"algo":"grpo","reward_mean":%g,"policy_loss":%g,"kl":%g,"tokens_per_second":%g,"entropy":%g}`,
			step, 0.2+0.05*float64(step), 0.5/float64(step), 0.001*float64(step), 900.0+float64(step), 1.5))
	}
	lines = append(lines, `{"step":13,"reward_mean":0.9`) // being written
	require.NoError(t, os.WriteFile(metricsPath, []byte(strings.Join(lines, "\n")), 0o600))
	ts, _, _ := newTestServer(t, runs, WithTrainMetrics(metricsPath))

	resp := get(t, ts.URL+"/charts")
	require.Equal(t, http.StatusOK, resp.status)
	doc := parseHTML(t, resp.body)
	// Histogram tooltips carry each bin's count.
	bins := make([]int, 10)
	for _, r := range runs {
		if s, ok := lastOKScore(r); ok {
			bins[min(int(s*10), 9)]++
		}
	}
	var tips []string
	for _, svg := range findAll(doc, byTag("svg")) {
		if strings.HasPrefix(attr(svg, "aria-label"), "Histogram") {
			for _, r := range findAll(svg, byTag("rect")) {
				tips = append(tips, text(r))
			}
		}
	}
	require.Len(t, tips, 10)
	for i, n := range bins {
		assert.Contains(t, tips[i], fmt.Sprintf(": %d run", n), "bin %d", i)
	}
	// Success by suite: the tooltips carry k of n.
	for _, suite := range []string{"gaia", "webwalker", "arith"} {
		var ok, n int
		for _, r := range runs {
			if r.Metadata["suite"] == suite {
				n++
				if Succeeded(r) {
					ok++
				}
			}
		}
		assert.Contains(t, resp.body, fmt.Sprintf("suite %s: %d of %d runs succeeded", suite, ok, n))
	}
	summary := text(findAll(doc, byID("summary"))[0])
	assert.Contains(t, summary, strconv.Itoa(len(runs)))
	// Training curves: the four main ones, with the partial line skipped.
	main := findAll(doc, byID("train-main"))
	require.Len(t, main, 1)
	var names []string
	for _, h := range findAll(main[0], byTag("h3")) {
		names = append(names, strings.Fields(text(h))[0])
	}
	assert.Equal(t, []string{"reward_mean", "policy_loss", "kl", "tokens_per_s"}, names)
	assert.Contains(t, resp.body, "12 records, 1 lines skipped (line 13:")
	assert.Len(t, findAll(main[0], byTag("polyline")), 4)
	assert.Contains(t, resp.body, "entropy")

	// A filter narrows the charts.
	resp = get(t, ts.URL+"/charts?suite=gaia")
	var n int
	for _, r := range runs {
		if r.Metadata["suite"] == "gaia" {
			n++
		}
	}
	summary = text(findAll(parseHTML(t, resp.body), byID("summary"))[0])
	assert.True(t, strings.HasPrefix(strings.TrimSpace(summary), strconv.Itoa(n)+"runs"), summary)

	// A missing metrics file is reported on the page, not as a failure.
	ts2, _, _ := newTestServer(t, runs[:2], WithTrainMetrics(filepath.Join(t.TempDir(), "missing.jsonl")))
	resp = get(t, ts2.URL+"/charts")
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Contains(t, resp.body, "no such file")
}

// TestSparseAndOddRuns renders runs with almost nothing in them, and with
// decisions that name a step that was never recorded.
func TestSparseAndOddRuns(t *testing.T) {
	bare := &trajectory.Trajectory{SchemaVersion: trajectory.SchemaVersion, ID: "bare", StartedAt: t0}
	odd := sampleRuns(1)[0]
	odd.ID = "odd"
	odd.Decisions = append(odd.Decisions, trajectory.Decision{Guard: "late", Event: trajectory.EventToolResult, Verdict: trajectory.Escalate, Step: 42, Reason: "no such step"})
	odd.Steps[0].LLMCalls[0].Error = "context deadline exceeded"
	odd.Steps[0].LLMCalls[0].ToolCalls = []trajectory.ToolCallSpec{{ID: "tc1", Name: "browser", Arguments: `{"url":"x"}`}}
	odd.Steps[0].ParseError = "Thought: no action here"
	odd.ParentID, odd.Round, odd.GroupID = "bare", 1, "g-7"
	odd.Inputs = map[string]string{"question": "q?"}
	ts, _, _ := newTestServer(t, []*trajectory.Trajectory{bare, odd})
	resp := get(t, ts.URL+"/runs/bare")
	require.Equal(t, http.StatusOK, resp.status)
	assert.Contains(t, resp.body, "This run was not judged.")
	assert.Contains(t, resp.body, "No steps were recorded.")
	assert.Contains(t, resp.body, "No guard decided anything")

	resp = get(t, ts.URL+"/runs/odd")
	require.Equal(t, http.StatusOK, resp.status)
	doc := parseHTML(t, resp.body)
	rows := findAll(findAll(doc, byID("decisions"))[0], byTag("tr"))
	assert.Len(t, rows, len(odd.Decisions)+1, "the decision on an unknown step is still listed")
	assert.Contains(t, resp.body, "name a step that was not recorded")
	assert.Equal(t, odd.Steps[0].ParseError, text(findAll(doc, byClass("parse-error"))[0]))
	assert.Contains(t, resp.body, "context deadline exceeded")
	assert.Contains(t, resp.body, `href="/runs/bare"`, "a refined run links to the run it refines")
	assert.Contains(t, resp.body, "g-7")
	// The list shows both, the bare one without a score.
	resp = get(t, ts.URL+"/")
	assert.Equal(t, []string{"odd", "bare"}, listedIDs(t, resp.body))
}

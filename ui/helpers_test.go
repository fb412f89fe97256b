package ui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/pgtest"
	"github.com/reagent-go/reagent/trajectory"
)

// evilObservation is what a browser tool might bring back from a hostile
// page; the UI must show it as text.
const evilObservation = `<script>document.title="pwned"</script><img src=x onerror="document.title='pwned'"><b>bold</b>`

// tasks are the questions of the sample runs.
var tasks = []string{
	"Which river flows through the capital of Norway?",
	"What is 17% of 2,340, rounded to the nearest integer?",
	"In which year did the oldest library listed on example.org/libraries open?",
	"How many moons does the planet with the longest day have?",
	"Who wrote the paper that introduced the transformer architecture?",
	"Convert 72 °F to Celsius and add the square root of 144.",
	"What is the population of the town that hosted the 1994 Winter Olympics?",
	"Which element has the highest melting point?",
	"Summarise the refund policy on shop.example.com in one sentence.",
	"What was the closing price of ACME on the last trading day of 2025?",
	"Find the author of the most starred Go web framework.",
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// sampleRuns builds n runs that cover what the UI shows: statuses, scores,
// judge errors, blocked and escalated calls, injected critiques, tool
// errors, hostile observations, suites and strategies. Run i starts i
// minutes after t0.
func sampleRuns(n int) []*trajectory.Trajectory {
	suites := []string{"gaia", "webwalker", "arith"}
	strategies := []string{"reagent-c", "reagent-r", "reagent-u"}
	statusCycle := []trajectory.Status{trajectory.StatusFinished, trajectory.StatusFinished, trajectory.StatusError,
		trajectory.StatusFinished, trajectory.StatusMaxIterations, trajectory.StatusFinished, trajectory.StatusParseError}
	var out []*trajectory.Trajectory
	for i := range n {
		start := t0.Add(time.Duration(i) * time.Minute)
		tr := &trajectory.Trajectory{
			SchemaVersion: trajectory.SchemaVersion,
			ID:            fmt.Sprintf("run-%03d", i),
			Task:          tasks[i%len(tasks)],
			Agent:         "react",
			Model:         "tiny-policy",
			Tools:         []trajectory.ToolSpec{{Name: "browser", Description: "fetch a web page", Tags: []string{"egress"}}, {Name: "calculator", Tags: []string{"read-only"}}},
			Status:        statusCycle[i%len(statusCycle)],
			StartedAt:     start,
			EndedAt:       start.Add(time.Duration(1500+i*37) * time.Millisecond),
			Metadata:      map[string]string{"suite": suites[i%3], "strategy": strategies[(i/3)%3], "split": "dev"},
		}
		if i == 2 {
			tr.Task += " <i>(see the page)</i>"
		}
		if tr.Status == trajectory.StatusError {
			tr.Error = "model endpoint: 502 bad gateway"
		}
		if i%4 == 0 {
			tr.Metadata["reward"] = "1"
		} else if i%4 == 1 {
			tr.Metadata["reward"] = "0.1"
		}
		s0 := trajectory.Step{Index: 0, Thought: fmt.Sprintf("I should look up city %d.", i), StartedAt: start, Duration: 400 * time.Millisecond,
			LLMCalls: []trajectory.LLMCall{{Model: "tiny-policy", Completion: "Thought: look it up\nAction: browser", StartedAt: start, Duration: 300 * time.Millisecond,
				Messages: []trajectory.Message{{Role: "user", Content: tr.Task}}, Usage: trajectory.Usage{PromptTokens: 40, CompletionTokens: 12, TotalTokens: 52}}}}
		call := trajectory.ToolCall{ID: fmt.Sprintf("call-%d-0", i), Tool: "browser", Input: fmt.Sprintf(`{"url":"https://example.org/city/%d"}`, i),
			Observation: fmt.Sprintf("City %d has 12%d000 inhabitants.", i, i%10), StartedAt: start, Duration: 80 * time.Millisecond}
		switch i % 5 {
		case 1: // blocked by a guard
			call.Blocked, call.BlockedBy = true, "egress"
			call.Observation = "Blocked by guardrail egress: host not in allow list"
			tr.Decisions = append(tr.Decisions,
				trajectory.Decision{Guard: "egress", Event: trajectory.EventToolCall, Verdict: trajectory.Block, Reason: "host not in allow list", Step: 0, Tool: "browser", CallID: call.ID, At: start},
				trajectory.Decision{Guard: "budget", Event: trajectory.EventToolCall, Verdict: trajectory.Allow, Step: 0, Tool: "browser", CallID: call.ID, At: start})
		case 2: // hostile page
			call.Observation = evilObservation
			tr.Decisions = append(tr.Decisions, trajectory.Decision{Guard: "injection", Event: trajectory.EventToolResult, Verdict: trajectory.Allow, Step: 0, Tool: "browser", CallID: call.ID, At: start})
		case 3: // escalated and approved, then a tool error
			call.Error = "dial tcp: connection refused"
			call.Observation = "Tool error: dial tcp: connection refused"
			tr.Decisions = append(tr.Decisions, trajectory.Decision{Guard: "approval", Event: trajectory.EventToolCall, Verdict: trajectory.Escalate, Reason: "egress needs a human", Step: 0, Tool: "browser", CallID: call.ID, Resolution: "approved", ResolvedBy: "alice", At: start})
		}
		s0.Calls = []trajectory.ToolCall{call}
		s1 := trajectory.Step{Index: 1, Thought: "I know the answer now.", Final: true, Answer: fmt.Sprintf("12%d000", i%10), StartedAt: start.Add(time.Second), Duration: 200 * time.Millisecond}
		if i%6 == 0 {
			s1.Critique = fmt.Sprintf("You trusted a single source for city %d; check a second one.", i)
		}
		tr.Steps = []trajectory.Step{s0, s1}
		tr.FinalAnswer = s1.Answer
		tr.Decisions = append(tr.Decisions, trajectory.Decision{Guard: "pii", Event: trajectory.EventFinalAnswer, Verdict: trajectory.Allow, Step: 1, At: start.Add(time.Second)})
		switch {
		case i%7 == 5: // judge failed
			tr.Assessments = []trajectory.Assessment{{Judge: "agent-rrm", Status: trajectory.AssessmentError, Error: "judge output did not parse after 2 retries", Steps: 2, Latency: 900 * time.Millisecond, CreatedAt: start.Add(2 * time.Second)}}
		case i%7 != 6: // judged; i%7 == 6 stays unjudged
			tr.Assessments = []trajectory.Assessment{{Judge: "agent-rrm", Model: "rrm-8b", Status: trajectory.AssessmentOK,
				Think:    fmt.Sprintf("The agent looked up city %d once.", i),
				Critique: "Good use of the browser; verify with a second source.",
				Score:    float64(i%11) / 10, Steps: 2, Latency: time.Duration(200+i*10) * time.Millisecond, CreatedAt: start.Add(2 * time.Second)}}
		}
		out = append(out, tr)
	}
	return out
}

// newStore writes runs to a fresh SQLite audit store and returns it with
// its path.
func newStore(t testing.TB, runs []*trajectory.Trajectory) (*audit.SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	for _, r := range runs {
		require.NoError(t, s.Append(ctx, r.Clone()))
	}
	require.NoError(t, s.Flush(ctx))
	return s, path
}

// newTestServer serves a UI over the given runs.
func newTestServer(t testing.TB, runs []*trajectory.Trajectory, opts ...Option) (*httptest.Server, *audit.SQLite, string) {
	t.Helper()
	store, path := newStore(t, runs)
	srv, err := New(store, opts...)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, store, path
}

// newPostgresStore writes runs to a PostgreSQL audit store in a schema of
// its own, dropped when the test ends. Without REAGENT_TEST_POSTGRES the
// test fails saying how to set it, unless REAGENT_SKIP_POSTGRES=1.
func newPostgresStore(t testing.TB, runs []*trajectory.Trajectory) audit.Store {
	t.Helper()
	schema := pgtest.New(t, "reagent_ui_test_")
	ctx := context.Background()
	s, err := audit.Open(ctx, schema.DSN)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	for _, r := range runs {
		require.NoError(t, s.Append(ctx, r.Clone()))
	}
	require.NoError(t, s.Flush(ctx))
	return s
}

// backends runs f once per store kind, with a UI serving runs.
func backends(t *testing.T, runs []*trajectory.Trajectory, f func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) {
		ts, _, _ := newTestServer(t, runs)
		f(t, ts.URL)
	})
	t.Run("postgres", func(t *testing.T) {
		srv, err := New(newPostgresStore(t, runs))
		require.NoError(t, err)
		f(t, serve(t, srv))
	})
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, req *http.Request) response {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func get(t testing.TB, url string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	return do(t, req)
}

// parseHTML parses a page, failing the test on malformed markup.
func parseHTML(t testing.TB, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	require.NoError(t, err)
	return doc
}

// findAll returns the elements for which match is true, in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

func byClass(class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return hasClass(n, class) }
}

func byTag(tag string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag }
}

func byID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { return attr(n, "id") == id }
}

// text is the text content of n.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// listedIDs returns the run IDs a list page links to, in order.
func listedIDs(t testing.TB, body string) []string {
	t.Helper()
	var ids []string
	for _, a := range findAll(parseHTML(t, body), byClass("run-link")) {
		href := attr(a, "href")
		require.True(t, strings.HasPrefix(href, "/runs/"), href)
		ids = append(ids, strings.TrimPrefix(href, "/runs/"))
	}
	return ids
}

// serve starts a test server for h and returns its URL.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/trajectory"
)

func uiStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, st := range []trajectory.Status{trajectory.StatusFinished, trajectory.StatusError, trajectory.StatusFinished} {
		tr := &trajectory.Trajectory{SchemaVersion: trajectory.SchemaVersion, ID: fmt.Sprintf("ui-run-%d", i), Task: "add two numbers",
			Agent: "react", Status: st, StartedAt: start.Add(time.Duration(i) * time.Minute), EndedAt: start.Add(time.Duration(i)*time.Minute + time.Second),
			Steps: []trajectory.Step{{Index: 0, Thought: "use the calculator", Calls: []trajectory.ToolCall{{Tool: "calculator", Input: "2+2", Observation: "4"}}},
				{Index: 1, Final: true, Answer: "4"}},
			FinalAnswer: "4",
			Assessments: []trajectory.Assessment{{Judge: "heuristic", Status: trajectory.AssessmentOK, Score: 0.9, Steps: 2, Latency: time.Millisecond}}}
		require.NoError(t, s.Append(ctx, tr))
	}
	require.NoError(t, s.Close())
	return path
}

var listenLine = regexp.MustCompile(`on (http://\S+/)`)

// startUI runs `reagent ui` until the test ends and returns its base URL.
func startUI(t *testing.T, env map[string]string, args ...string) (string, *syncBuffer) {
	t.Helper()
	return serveCLI(t, "ui", runUI, env, listenLine, args...)
}

func fetchURL(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestUIServesStore(t *testing.T) {
	db := uiStore(t)
	metrics := filepath.Join(t.TempDir(), "train.jsonl")
	require.NoError(t, os.WriteFile(metrics, []byte(`{"step":1,"reward_mean":0.4,"kl":0.01}`+"\n"+`{"step":2,"reward_mean":0.5,"kl":0.02}`+"\n"), 0o600))
	base, _ := startUI(t, nil, "--db", db, "--addr", "127.0.0.1:0", "--train-metrics", metrics)
	code, body := fetchURL(t, base+"?status=error", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `href="/runs/ui-run-1"`)
	assert.NotContains(t, body, `href="/runs/ui-run-0"`)
	code, body = fetchURL(t, base+"charts", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "2 records")
	code, body = fetchURL(t, base+"metrics", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `reagent_runs_total{status="finished"} 2`)
	resp, err := http.Post(base, "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestUITokenOffLoopback(t *testing.T) {
	db := uiStore(t)
	const tok = "0123456789abcdef-token"
	// Listening on every interface takes the token from the environment.
	base, _ := startUI(t, map[string]string{"REAGENT_UI_TOKEN": tok}, "--db", db, "--addr", "0.0.0.0:0")
	_, port, err := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/"))
	require.NoError(t, err)
	local := "http://127.0.0.1:" + port + "/"
	code, _ := fetchURL(t, local, "")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, body := fetchURL(t, local, tok)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "ui-run-2")
}

func TestUIUsage(t *testing.T) {
	db := uiStore(t)
	run := func(env map[string]string, args ...string) (error, string) {
		c, _, errb := testCLI(env, "")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := runUI(ctx, c, args)
		return err, errb.String()
	}
	err, stderr := run(nil, "--help")
	assert.True(t, errors.Is(err, flag.ErrHelp))
	assert.Contains(t, stderr, "--train-metrics")

	err, _ = run(nil)
	assert.Equal(t, 2, exitCode(err))
	assert.ErrorContains(t, err, "--db")

	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.0.2.1:8080"} {
		err, _ = run(nil, "--db", db, "--addr", addr)
		assert.Equal(t, 2, exitCode(err), addr)
		assert.ErrorContains(t, err, "REAGENT_UI_TOKEN", addr)
	}
	err, _ = run(nil, "--db", db, "--addr", "127.0.0.1:0", "--token", "short")
	assert.Equal(t, 2, exitCode(err))
	assert.ErrorContains(t, err, "at least 16")

	err, _ = run(nil, "--db", db, "--addr", "127.0.0.1:0", "--page-size", "0")
	assert.Equal(t, 2, exitCode(err))

	missing := filepath.Join(t.TempDir(), "typo.db")
	err, _ = run(nil, "--db", missing, "--addr", "127.0.0.1:0")
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	_, statErr := os.Stat(missing)
	assert.True(t, os.IsNotExist(statErr), "the read-only UI must not create a database")

	// A port already taken is a clear error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err, _ = run(nil, "--db", db, "--addr", ln.Addr().String())
	assert.ErrorContains(t, err, "listen on")
}

// TestUIApprovals serves `reagent ui --allow-approvals` over a database
// with a paused run, approves its request as a browser would (the page's
// CSRF cookie and token, a same-origin POST), and checks the decision with
// `reagent approve` afterwards.
func TestUIApprovals(t *testing.T) {
	db, id := pausedDB(t)
	const tok = "0123456789abcdef-token"
	base, _ := startUI(t, map[string]string{"USER": "carol"}, "--db", db, "--addr", "127.0.0.1:0", "--token", tok, "--allow-approvals")
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "approvals?token=" + tok)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, err = c.Get(base + "approvals")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(page), id)
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(string(page))
	require.NotNil(t, m, "the page carries the CSRF token")

	form := url.Values{"decision": {"approve"}, "reason": {"looks fine"}, "csrf": {m[1]}}
	req, err := http.NewRequest(http.MethodPost, base+"approvals/"+id, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", strings.TrimSuffix(base, "/"))
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	_, _, err = runCLI(runApprove, map[string]string{"REAGENT_DB": db, "USER": "dave"}, id)
	require.ErrorIs(t, err, approval.ErrDecided, "the UI's decision stands")
	assert.ErrorContains(t, err, "carol (reagent ui, token ")
	assert.ErrorContains(t, err, "approved")
}

func TestUIApprovalsUsage(t *testing.T) {
	db := uiStore(t)
	c, _, _ := testCLI(nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := runUI(ctx, c, []string{"--db", db, "--addr", "127.0.0.1:0", "--allow-approvals"})
	assert.Equal(t, 2, exitCode(err))
	assert.ErrorContains(t, err, "needs an access token")
	err = runUI(ctx, c, []string{"--db", db, "--addr", "127.0.0.1:0", "--approver", "x"})
	assert.Equal(t, 2, exitCode(err))
	assert.ErrorContains(t, err, "--allow-approvals")

	// Without --allow-approvals there is no approvals page, even with a token.
	const tok = "0123456789abcdef-token"
	base, _ := startUI(t, nil, "--db", db, "--addr", "127.0.0.1:0", "--token", tok)
	code, _ := fetchURL(t, base+"approvals", tok)
	assert.Equal(t, http.StatusNotFound, code)
}

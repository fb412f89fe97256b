package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/reagent/suite"
	"github.com/reagent-go/reagent/tools/browser"
	"github.com/reagent-go/reagent/trajectory"
)

// TestDemoEndToEnd runs the README's main command with the embedded policy:
// every suite that can run here, judged, guarded and audited.
func TestDemoEndToEnd(t *testing.T) {
	requireChromiumForDemo(t)
	db := filepath.Join(t.TempDir(), "demo.db")
	stdout, stderr, err := runCLI(runDemo, nil, "--db", db, "--per-suite", "2")
	require.NoError(t, err, "stderr: %s", stderr)
	for _, want := range []string{"[arith]", "[arith2]", "[lookup]", "[web]", "suite", "correct first", "correct after critique", "mean RRM score", "audit chain intact", "reagent audit show --db"} {
		assert.Contains(t, stdout, want)
	}
	assert.Contains(t, stdout, "block by network", "the default policy refuses the metadata address")
	assert.Contains(t, stdout, "fenced as untrusted content before the model sees it", "the demo shows the fence the default policy puts around a suspicious page")
	// The embedded policy solves arithmetic (58 of 60 test tasks when it
	// was trained): a summary row with no correct arith run means the
	// weights or the inference regressed.
	row := regexp.MustCompile(`(?m)^arith\s+2\s+(\d+) \(`).FindStringSubmatch(stdout)
	require.NotNil(t, row, "no arith row in the summary:\n%s", stdout)
	assert.NotEqual(t, "0", row[1], "the embedded policy answered no arith task correctly:\n%s", stdout)
	assert.Contains(t, stdout, "reagent train --suites arith", "the suggested train command uses train's own flags")

	store, err := audit.OpenSQLite(db, audit.WithCreate(false))
	require.NoError(t, err)
	defer store.Close()
	runs, err := store.List(context.Background(), audit.Query{})
	require.NoError(t, err)
	// Reagent-C: two first answers per suite, and a critique round for each
	// one the RRM flagged, stored as a run linked to the one it refines.
	byID := map[string]*trajectory.Trajectory{}
	first, lure, blocked := 0, 0, 0
	for _, r := range runs {
		byID[r.ID] = r
		for _, call := range r.ToolCalls() {
			if call.Blocked && r.Metadata["strategy"] == "demo" {
				blocked++
			}
		}
		require.NotEmpty(t, r.Assessments, "run %s is judged", r.ID)
		assert.NotEmpty(t, r.Steps)
		switch r.Metadata["strategy"] {
		case "demo-lure":
			lure += 1 - min(r.Round, 1)
		default:
			assert.Equal(t, "demo", r.Metadata["strategy"])
			if r.Round == 0 {
				first++
			}
		}
	}
	require.Equal(t, 8, first, "two first answers per suite")
	if blocked > 0 {
		assert.Contains(t, stdout, "blocked calls are the agent's own, e.g. [", "a blocked call of the agent's is shown with the guard's reason")
	}
	require.Equal(t, 1, lure, "one run of the web task with its directory address poisoned")
	assert.Contains(t, stdout, "guardrails on a call the agent itself makes")
	refined := 0
	for _, r := range runs {
		if r.Round == 0 {
			continue
		}
		parent := byID[r.ParentID]
		require.NotNil(t, parent, "refined run %s links to the run it refines", r.ID)
		if r.Metadata["strategy"] == "demo" {
			refined++
		}
		assert.Equal(t, parent.GroupID, r.GroupID)
		assert.Less(t, parent.Assessments[len(parent.Assessments)-1].Score, 0.7, "only a flagged answer is refined")
	}
	assert.Len(t, regexp.MustCompile(`(?m)^ +after critique `).FindAllString(stdout, -1), refined, "every critique round is shown")
	assert.NotRegexp(t, `(answer|critique) +"[^"]*<tool_cal`, stdout, "tool-call markup is never shown as an answer")
	rep, err := store.Verify(context.Background())
	require.NoError(t, err)
	assert.True(t, rep.OK)
}

func TestDemoPolicyAdmitsOnlyTheLocalSite(t *testing.T) {
	requireChromiumForDemo(t)
	tasks, err := suite.Generate(suite.Web, suite.Test, suite.WithCount(1))
	require.NoError(t, err)
	env, err := suite.StartEnv(context.Background(), tasks)
	require.NoError(t, err)
	defer env.Close()
	chain, err := demoPolicy(env)
	require.NoError(t, err)
	check := func(url string) trajectory.Verdict {
		ev := &guardrails.Event{Kind: trajectory.EventToolCall,
			Tool:       trajectory.ToolSpec{Name: "browser", Tags: []string{"egress"}},
			Call:       &trajectory.ToolCall{Tool: "browser", Input: `{"action":"open","url":"` + url + `"}`},
			Trajectory: &trajectory.Trajectory{Status: trajectory.StatusRunning}}
		return chain.Check(context.Background(), ev).Verdict
	}
	assert.Equal(t, trajectory.Allow, check(env.SiteURL()+"/index.html"))
	assert.Equal(t, trajectory.Block, check("http://169.254.169.254/latest/meta-data/"))
	assert.Equal(t, trajectory.Block, check("http://10.0.0.1/"))
}

func TestDemoRejectsBadFlags(t *testing.T) {
	_, _, err := runCLI(runDemo, nil, "--per-suite", "0")
	require.Error(t, err)
	assert.Equal(t, 2, exitCode(err))
	_, _, err = runCLI(runDemo, nil, "--model", filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "load policy"), err.Error())
}

func requireChromiumForDemo(t *testing.T) {
	t.Helper()
	if _, err := browser.LookPath(); err != nil {
		t.Fatalf("the demo's web suite needs Chromium: apt-get install -y chromium (%v)", err)
	}
}

package redact_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/trajectory"
)

// benchTrajectory is a 10-step run whose observations read like web pages
// and API answers: words that wake the keyword prefilter (token, key,
// password, auth, secret, api) appear throughout, and one step carries a
// real-looking key.
func benchTrajectory(i int) *trajectory.Trajectory {
	t := &trajectory.Trajectory{ID: fmt.Sprintf("run-%d", i), Task: "Find how the API authenticates and summarise the token limits.",
		Status: trajectory.StatusFinished}
	page := strings.Repeat("The API uses an access token; each key has limits. Rotate your password and keep the secret safe. "+
		"Auth tokens expire after 3600 seconds; see the docs at https://docs.example.com/api/auth?ref=nav for details. ", 12)
	for s := range 10 {
		obs := fmt.Sprintf("Result %d: %s", s, page)
		if s == 4 {
			obs += "\nexport API_KEY=sk-Qw3rTy8uIoPaSdFgHjKlZx01\n"
		}
		t.Steps = append(t.Steps, trajectory.Step{Index: s,
			Thought:  fmt.Sprintf("Step %d: read the authentication page and note the token lifetime.", s),
			LLMCalls: []trajectory.LLMCall{{Model: "m", Completion: "Action: fetch\nAction Input: https://docs.example.com/api/auth"}},
			Calls:    []trajectory.ToolCall{{ID: fmt.Sprint(s), Tool: "fetch", Input: `{"url":"https://docs.example.com/api/auth"}`, Observation: obs}},
		})
	}
	return t
}

// BenchmarkRedactTrajectory redacts a 10-step, ~28 KB trajectory with the
// default redactor (the project's rules and gitleaks' rule set), against a
// baseline of the project's own rules alone in the same run; x-baseline is
// the default's throughput relative to that baseline.
func BenchmarkRedactTrajectory(b *testing.B) {
	full := redact.Default()
	own, err := redact.New(redact.WithoutGitleaks())
	require.NoError(b, err)
	tr := benchTrajectory(0)
	require.NotSame(b, tr, full.Trajectory(tr), "the planted key is found")
	measure := func(r *redact.Redactor) time.Duration {
		start := time.Now()
		for range b.N {
			_ = r.Trajectory(tr)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	d := measure(full)
	b.StopTimer()
	base := measure(own)
	b.ReportMetric(float64(b.N)/d.Seconds(), "runs/s")
	b.ReportMetric(float64(b.N)/base.Seconds(), "baseline-runs/s")
	b.ReportMetric(base.Seconds()/d.Seconds(), "x-baseline")
}

// BenchmarkRedactClean redacts a short clean string, the common case for
// most fields of a trajectory: the prefilter's cost per call.
func BenchmarkRedactClean(b *testing.B) {
	r := redact.Default()
	s := "Step 3: I should look up the census table for city #12 and check the 2013 figure against a second source."
	b.SetBytes(int64(len(s)))
	for range b.N {
		if r.Contains(s) {
			b.Fatal("clean text flagged")
		}
	}
}

package redact_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
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

// BenchmarkStoreLargeObservation appends a run whose one observation is
// 10 MB of page text (a few keywords, one key) to a SQLite audit store:
// time and memory per run, with the default 1 MiB text limit against a
// baseline without a limit in the same benchmark.
func BenchmarkStoreLargeObservation(b *testing.B) {
	page := strings.Repeat("<p>Population tables for the region, by year and district, with notes on method.</p>\n", 10<<20/86)
	page = page[:len(page)/2] + " api_key=Zx81Qw3rTy8uIoPaSd " + page[len(page)/2:]
	run := func(r *redact.Redactor) (time.Duration, uint64) {
		s, err := audit.OpenSQLite(filepath.Join(b.TempDir(), "a.db"), audit.WithRedactor(r))
		require.NoError(b, err)
		defer s.Close()
		ctx := context.Background()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		for i := range b.N {
			tr := &trajectory.Trajectory{ID: fmt.Sprintf("big-%d", i), Status: trajectory.StatusFinished,
				Steps: []trajectory.Step{{Calls: []trajectory.ToolCall{{Tool: "fetch", Input: "https://example.org/tables", Observation: page}}}}}
			require.NoError(b, s.Append(ctx, tr))
		}
		require.NoError(b, s.Flush(ctx))
		d := time.Since(start)
		runtime.ReadMemStats(&after)
		return d, after.TotalAlloc - before.TotalAlloc
	}
	limited := redact.Default()
	unlimited, err := redact.New(redact.WithMaxText(0))
	require.NoError(b, err)
	b.ResetTimer()
	d, alloc := run(limited)
	b.StopTimer()
	bd, balloc := run(unlimited)
	b.ReportMetric(d.Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(alloc)/float64(b.N)/(1<<20), "MiB-alloc/run")
	b.ReportMetric(bd.Seconds()/float64(b.N), "baseline-s/run")
	b.ReportMetric(float64(balloc)/float64(b.N)/(1<<20), "baseline-MiB-alloc/run")
}

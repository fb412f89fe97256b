package ui

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/trajectory"
)

func scrapeUI(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp := get(t, url+"/metrics")
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(resp.body))
	require.NoError(t, err)
	return fams
}

func counter(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	var sum float64
	for _, m := range fams[name].GetMetric() {
		ok := true
		for _, l := range m.GetLabel() {
			if v, want := labels[l.GetName()]; want && v != l.GetValue() {
				ok = false
			}
		}
		if !ok {
			continue
		}
		if m.GetHistogram() != nil {
			sum += float64(m.GetHistogram().GetSampleCount())
		} else {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// fakeClock is a settable clock for the metrics cache.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMetricsFromStore(t *testing.T) {
	runs := sampleRuns(25)
	clock := &fakeClock{now: t0}
	ts, store, _ := newTestServer(t, runs, WithMetricsTTL(time.Minute), WithClock(clock.Now))
	fams := scrapeUI(t, ts.URL)

	status := map[trajectory.Status]float64{}
	var steps, blocked, blocks, escalations, judgeErrs, judged float64
	for _, r := range runs {
		status[r.Status]++
		steps += float64(len(r.Steps))
		for _, c := range r.ToolCalls() {
			if c.Blocked {
				blocked++
			}
		}
		for _, d := range r.Decisions {
			switch d.Verdict {
			case trajectory.Block:
				blocks++
			case trajectory.Escalate:
				escalations++
			}
		}
		for _, a := range r.Assessments {
			judged++
			if !a.OK() {
				judgeErrs++
			}
		}
	}
	for s, n := range status {
		assert.Equal(t, n, counter(fams, "reagent_runs_total", map[string]string{"status": string(s)}), s)
	}
	assert.Equal(t, steps, counter(fams, "reagent_steps_total", nil))
	assert.Equal(t, blocked, counter(fams, "reagent_tool_calls_total", map[string]string{"outcome": "blocked"}))
	assert.Equal(t, blocks, counter(fams, "reagent_guard_blocks_total", nil))
	assert.Equal(t, escalations, counter(fams, "reagent_guard_escalations_total", map[string]string{"resolution": "approved"}))
	assert.Equal(t, judgeErrs, counter(fams, "reagent_judge_errors_total", nil))
	assert.Equal(t, judged, counter(fams, "reagent_judge_latency_seconds", nil))
	require.Positive(t, blocks)
	require.Positive(t, judgeErrs)

	// A run appended later shows after the TTL, not before.
	extra := sampleRuns(26)[25]
	require.NoError(t, store.Append(context.Background(), extra))
	require.NoError(t, store.Flush(context.Background()))
	before := counter(fams, "reagent_runs_total", nil)
	assert.Equal(t, before, counter(scrapeUI(t, ts.URL), "reagent_runs_total", nil), "cached within the TTL")
	clock.Add(2 * time.Minute)
	assert.Equal(t, before+1, counter(scrapeUI(t, ts.URL), "reagent_runs_total", nil), "reread after the TTL")
}

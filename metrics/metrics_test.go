package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/trajectory"
)

// runs returns trajectories covering every counted event.
func runs() []*trajectory.Trajectory {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var out []*trajectory.Trajectory
	statuses := []trajectory.Status{trajectory.StatusFinished, trajectory.StatusError, trajectory.StatusFinished, trajectory.StatusMaxIterations, trajectory.StatusCancelled}
	for i, st := range statuses {
		t := &trajectory.Trajectory{ID: fmt.Sprintf("r%d", i), Status: st, StartedAt: start}
		for s := 0; s <= i; s++ {
			step := trajectory.Step{Index: s}
			call := trajectory.ToolCall{Tool: []string{"browser", "calculator"}[s%2], Input: "x", Observation: "y"}
			switch (i + s) % 5 {
			case 1:
				call.Blocked, call.BlockedBy = true, "egress"
				t.Decisions = append(t.Decisions, trajectory.Decision{Guard: "egress", Event: trajectory.EventToolCall, Verdict: trajectory.Block, Step: s})
			case 2:
				call.Error = "boom"
				t.Decisions = append(t.Decisions, trajectory.Decision{Guard: "approval", Event: trajectory.EventToolCall, Verdict: trajectory.Escalate, Step: s, Resolution: "approved by alice"})
			case 3:
				call.Panicked, call.Error = true, "panic: nil map"
				t.Decisions = append(t.Decisions, trajectory.Decision{Guard: "approval", Event: trajectory.EventToolCall, Verdict: trajectory.Escalate, Step: s})
			case 4:
				call.UnknownTool, call.Tool = true, fmt.Sprintf("hallucinated_tool_%d", i)
			}
			t.Decisions = append(t.Decisions, trajectory.Decision{Guard: "budget", Event: trajectory.EventToolCall, Verdict: trajectory.Allow, Step: s})
			step.Calls = []trajectory.ToolCall{call}
			t.Steps = append(t.Steps, step)
		}
		if i%2 == 0 {
			t.Assessments = append(t.Assessments, trajectory.Assessment{Judge: "agent-rrm", Status: trajectory.AssessmentOK, Score: float64(i) / 5, Latency: time.Duration(i+1) * 300 * time.Millisecond})
		} else {
			t.Assessments = append(t.Assessments, trajectory.Assessment{Judge: "agent-rrm", Status: trajectory.AssessmentError, Error: "timeout", Latency: 30 * time.Second})
		}
		out = append(out, t)
	}
	return out
}

// scrape serves reg over HTTP and parses the text exposition strictly.
func scrape(t *testing.T, reg *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	ts := httptest.NewServer(reg.Handler())
	defer ts.Close()
	req, err := http.NewRequest(http.MethodGet, ts.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"), resp.Header.Get("Content-Type"))
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value returns the value of the sample of family name with the given
// labels (counter value, or histogram sample count).
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		if len(got) != len(labels) {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

func TestObserveExposition(t *testing.T) {
	reg, err := New()
	require.NoError(t, err)
	rs := runs()
	for _, r := range rs {
		reg.Observe(r)
	}
	reg.Observe(nil)
	fams := scrape(t, reg)

	// Count the same things independently from the inputs.
	status := map[string]float64{}
	calls := map[[2]string]float64{}
	blocks := map[string]float64{}
	esc := map[[2]string]float64{}
	var steps, judged, judgeErr, latencySum float64
	for _, r := range rs {
		status[string(r.Status)]++
		steps += float64(len(r.Steps))
		for _, c := range r.ToolCalls() {
			tool, outcome := c.Tool, "ok"
			switch {
			case c.Blocked:
				outcome = "blocked"
			case c.UnknownTool:
				tool, outcome = "unknown", "unknown_tool"
			case c.Panicked:
				outcome = "panic"
			case c.Error != "":
				outcome = "error"
			}
			calls[[2]string{tool, outcome}]++
		}
		for _, d := range r.Decisions {
			switch d.Verdict {
			case trajectory.Block:
				blocks[d.Guard]++
			case trajectory.Escalate:
				res := "pending"
				if strings.HasPrefix(d.Resolution, "approved") {
					res = "approved"
				}
				esc[[2]string{d.Guard, res}]++
			}
		}
		for _, a := range r.Assessments {
			judged++
			latencySum += a.Latency.Seconds()
			if !a.OK() {
				judgeErr++
			}
		}
	}
	require.Greater(t, len(calls), 4, "the inputs should exercise several outcomes")
	for s, n := range status {
		assert.Equal(t, n, value(t, fams, "reagent_runs_total", map[string]string{"status": s}), s)
	}
	assert.Equal(t, steps, value(t, fams, "reagent_steps_total", nil))
	for k, n := range calls {
		assert.Equal(t, n, value(t, fams, "reagent_tool_calls_total", map[string]string{"tool": k[0], "outcome": k[1]}), "%v", k)
	}
	for g, n := range blocks {
		assert.Equal(t, n, value(t, fams, "reagent_guard_blocks_total", map[string]string{"guard": g, "event": "tool_call"}), g)
	}
	for k, n := range esc {
		assert.Equal(t, n, value(t, fams, "reagent_guard_escalations_total", map[string]string{"guard": k[0], "resolution": k[1]}), "%v", k)
	}
	assert.Equal(t, judgeErr, value(t, fams, "reagent_judge_errors_total", map[string]string{"judge": "agent-rrm"}))
	assert.Equal(t, judged, value(t, fams, "reagent_judge_latency_seconds", map[string]string{"judge": "agent-rrm"}))
	h := fams["reagent_judge_latency_seconds"].GetMetric()[0].GetHistogram()
	assert.InDelta(t, latencySum, h.GetSampleSum(), 1e-9)
	assert.Equal(t, judged-judgeErr, value(t, fams, "reagent_judge_score", map[string]string{"judge": "agent-rrm"}))
	for name, f := range fams {
		assert.NotEmpty(t, f.GetHelp(), name)
	}
	// No model-invented tool name reaches a label.
	for _, m := range fams["reagent_tool_calls_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			assert.NotContains(t, l.GetValue(), "hallucinated")
		}
	}
}

func TestObserveJudgmentAndDecision(t *testing.T) {
	reg, err := New(WithConstLabels(map[string]string{"service": "serve-reward"}))
	require.NoError(t, err)
	reg.ObserveJudgment("agent-rrm", 2*time.Second, nil)
	reg.ObserveJudgment("agent-rrm", 3*time.Second, errors.New("bad output"))
	reg.ObserveDecision(trajectory.Decision{Guard: "rrm-gate", Event: trajectory.EventFinalAnswer, Verdict: trajectory.Block})
	reg.ObserveDecision(trajectory.Decision{Guard: "rrm-gate", Verdict: trajectory.Escalate, Resolution: "timeout"})
	reg.ObserveDecision(trajectory.Decision{Guard: "rrm-gate", Verdict: trajectory.Escalate, Resolution: "Denied by bob"})
	reg.ObserveDecision(trajectory.Decision{Guard: "rrm-gate", Verdict: trajectory.Allow})
	fams := scrape(t, reg)
	svc := func(m map[string]string) map[string]string { m["service"] = "serve-reward"; return m }
	assert.Equal(t, 2.0, value(t, fams, "reagent_judge_latency_seconds", svc(map[string]string{"judge": "agent-rrm"})))
	assert.Equal(t, 1.0, value(t, fams, "reagent_judge_errors_total", svc(map[string]string{"judge": "agent-rrm"})))
	assert.Equal(t, 1.0, value(t, fams, "reagent_guard_blocks_total", svc(map[string]string{"guard": "rrm-gate", "event": "final_answer"})))
	assert.Equal(t, 1.0, value(t, fams, "reagent_guard_escalations_total", svc(map[string]string{"guard": "rrm-gate", "resolution": "timeout"})))
	assert.Equal(t, 1.0, value(t, fams, "reagent_guard_escalations_total", svc(map[string]string{"guard": "rrm-gate", "resolution": "denied"})))
}

func TestLabelSafety(t *testing.T) {
	reg, err := New(WithMaxLabelValues(3))
	require.NoError(t, err)
	for i := range 10 {
		reg.Observe(&trajectory.Trajectory{Status: trajectory.Status(fmt.Sprintf("s%d", i)),
			Steps: []trajectory.Step{{Calls: []trajectory.ToolCall{{Tool: fmt.Sprintf("tool%d", i)}}}}})
	}
	// Invalid UTF-8, huge and empty values must not panic or break the exposition.
	reg.Observe(&trajectory.Trajectory{Status: "\xff\xfe", Steps: []trajectory.Step{{Calls: []trajectory.ToolCall{{Tool: strings.Repeat("é", 500)}}}}})
	reg.ObserveAssessment(trajectory.Assessment{Judge: "", Status: trajectory.AssessmentError})
	fams := scrape(t, reg)
	assert.Len(t, fams["reagent_runs_total"].GetMetric(), 4, "3 values and other")
	assert.Equal(t, 8.0, value(t, fams, "reagent_runs_total", map[string]string{"status": LabelOther}))
	assert.Equal(t, 1.0, value(t, fams, "reagent_judge_errors_total", map[string]string{"judge": LabelUnknown}))
	for _, m := range fams["reagent_tool_calls_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			assert.LessOrEqual(t, len(l.GetValue()), maxLabelLen)
		}
	}
}

func TestConcurrentObserve(t *testing.T) {
	reg, err := New()
	require.NoError(t, err)
	rs := runs()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, r := range rs {
				reg.Observe(r)
			}
		})
	}
	wg.Wait()
	fams := scrape(t, reg)
	assert.Equal(t, float64(8*len(rs)), value(t, fams, "reagent_judge_latency_seconds", map[string]string{"judge": "agent-rrm"}))
}

func TestOptions(t *testing.T) {
	_, err := New(WithLatencyBuckets([]float64{1, 1}))
	assert.ErrorContains(t, err, "must increase")
	_, err = New(WithNamespace("bad name"))
	assert.ErrorContains(t, err, "namespace")
	_, err = New(WithConstLabels(map[string]string{"1x": "y"}))
	assert.ErrorContains(t, err, "label name")
	reg, err := New(WithRuntimeMetrics(), WithNamespace("agent"))
	require.NoError(t, err)
	reg.Observe(runs()[0])
	fams := scrape(t, reg)
	assert.Contains(t, fams, "go_goroutines")
	assert.Contains(t, fams, "agent_runs_total")
	extra := prometheusCounter("my_requests_total")
	require.NoError(t, reg.Register(extra))
	assert.Error(t, reg.Register(extra), "registering twice is refused")
	fams = scrape(t, reg)
	assert.Contains(t, fams, "my_requests_total")
}

func prometheusCounter(name string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "A caller's own counter."})
}

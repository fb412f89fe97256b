package policyfile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/injectclf"
	"github.com/reagent-go/reagent/trajectory"
)

// BenchmarkDefaultPolicy measures the default policy's checks of one tool
// call and of its result (a 1.5 KB page, fenced), against the same checks
// by a chain with no guards, interleaved in the same loop. It reports the
// median time of each check, guarded and unguarded, and the medians of
// the overhead; and, as the floor of the result check, the median time of
// the learned classifier alone on the same page (injectclf's Score, which
// the check runs on every page).
func BenchmarkDefaultPolicy(b *testing.B) {
	guarded, bare := guardrails.NewChain(Default()), guardrails.NewChain(guardrails.Policy{})
	spec, hist, input, page := benchFixture()
	clf, err := injectclf.Default()
	if err != nil {
		b.Fatal(err)
	}
	one := func(c *guardrails.Chain, i int) (call, result time.Duration) {
		tc := &trajectory.ToolCall{ID: "c9", Tool: "http", Input: input}
		ev := &guardrails.Event{Kind: trajectory.EventToolCall, Tool: spec, Call: tc, Step: 3, Trajectory: hist}
		t0 := time.Now()
		if out := c.Check(ctx, ev); out.Verdict != trajectory.Allow {
			b.Fatalf("call blocked: %s", out.Reason)
		}
		t1 := time.Now()
		res := &guardrails.Event{Kind: trajectory.EventToolResult, Tool: spec, Step: 3, Trajectory: hist,
			Call: &trajectory.ToolCall{ID: "c9", Tool: "http", Input: input, Observation: page + fmt.Sprint(i)}}
		t2 := time.Now()
		if out := c.Check(ctx, res); out.Verdict != trajectory.Allow {
			b.Fatalf("result blocked: %s", out.Reason)
		}
		return t1.Sub(t0), time.Since(t2)
	}
	one(guarded, -1) // compile the tool's schema once, as a long-lived chain would
	gc, gr, bc, br := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	cl := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, r := one(bare, i)
		bc, br = append(bc, c), append(br, r)
		c, r = one(guarded, i)
		gc, gr = append(gc, c), append(gr, r)
		p := page + fmt.Sprint(i)
		t0 := time.Now()
		if clf.Score(p) > 0.5 {
			b.Fatal("the classifier flags the benchmark page")
		}
		cl = append(cl, time.Since(t0))
	}
	b.StopTimer()
	median := func(ds []time.Duration) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[len(s)/2].Nanoseconds())
	}
	b.ReportMetric(median(gc), "ns-call-guarded/median")
	b.ReportMetric(median(bc), "ns-call-unguarded/median")
	b.ReportMetric(median(gc)-median(bc), "ns-call-check/median")
	b.ReportMetric(median(gr), "ns-result-guarded/median")
	b.ReportMetric(median(br), "ns-result-unguarded/median")
	b.ReportMetric(median(gr)-median(br), "ns-result-check/median")
	b.ReportMetric(median(cl), "ns-result-classifier/median")
}

// benchFixture is the tool call the default-policy benchmarks check: an
// HTTP GET through a tool with a parameter schema, three calls into a run,
// and the 1.5 KB page it returns.
func benchFixture() (spec trajectory.ToolSpec, hist *trajectory.Trajectory, input, page string) {
	spec = trajectory.ToolSpec{Name: "http", Tags: []string{guardrails.TagEgress},
		Parameters: json.RawMessage(`{"type":"object","required":["method","url"],"properties":{"method":{"type":"string"},"url":{"type":"string"}}}`)}
	hist = history(
		trajectory.ToolCall{Tool: "browser", Input: "https://example.com/a"},
		trajectory.ToolCall{Tool: "http", Input: `{"method":"GET","url":"https://api.example.com/x"}`},
		trajectory.ToolCall{Tool: "calculator", Input: "2+2"},
	)
	hist.Tools = []trajectory.ToolSpec{spec, {Name: "browser", Tags: []string{guardrails.TagEgress}}, {Name: "calculator"}}
	input = `{"method":"GET","url":"https://api.example.com/v1/items?q=weather&page=2"}`
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "item %d: a weather report for city %d with temperature %d C and light wind.\n", i, i, 10+i)
	}
	return spec, hist, input, b.String()
}

// BenchmarkDefaultPolicyChecks times the default policy's tool-call check
// and tool-result check (the 1.5 KB page of BenchmarkDefaultPolicy) one at
// a time, with the default policy and with no guards. Each loop is one
// function (checkLoop), so that an instruction counter can count exactly
// the checks (docs/guardrails.md: the instruction counts are taken with
// callgrind on this benchmark, steadier than wall time on a shared
// machine).
func BenchmarkDefaultPolicyChecks(b *testing.B) {
	spec, hist, input, page := benchFixture()
	// Distinct pages, so that no guard can reuse the last page's scan.
	pages := make([]string, 64)
	for i := range pages {
		pages[i] = page + fmt.Sprint(i)
	}
	for _, p := range []struct {
		name  string
		chain *guardrails.Chain
	}{{"default", guardrails.NewChain(Default())}, {"unguarded", guardrails.NewChain(guardrails.Policy{})}} {
		for _, kind := range []trajectory.GuardEvent{trajectory.EventToolCall, trajectory.EventToolResult} {
			event := func(i int) *guardrails.Event {
				ev := &guardrails.Event{Kind: kind, Tool: spec, Step: 3, Trajectory: hist,
					Call: &trajectory.ToolCall{ID: "c9", Tool: "http", Input: input}}
				if kind == trajectory.EventToolResult {
					ev.Call.Observation = pages[i%len(pages)]
				}
				return ev
			}
			b.Run(p.name+"/"+string(kind), func(b *testing.B) {
				p.chain.Check(ctx, event(0)) // compile the tool's schema once, as a long-lived chain would
				checkLoop(b, p.chain, event)
			})
		}
	}
}

//go:noinline
func checkLoop(b *testing.B, c *guardrails.Chain, event func(i int) *guardrails.Event) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if out := c.Check(ctx, event(i)); out.Verdict != trajectory.Allow {
			b.Fatalf("blocked: %s", out.Reason)
		}
	}
}

// BenchmarkDefaultPolicyLargeInput measures the default policy's check of
// one tool call whose JSON input is 1 MiB of prose (over the parse limit:
// read as raw text), against the same check by a chain with no guards in
// the same loop. Run with -benchtime Nx for a handful of iterations.
func BenchmarkDefaultPolicyLargeInput(b *testing.B) {
	guarded, bare := guardrails.NewChain(Default()), guardrails.NewChain(guardrails.Policy{})
	spec := trajectory.ToolSpec{Name: "http", Tags: []string{guardrails.TagEgress}}
	var body strings.Builder
	for i := 0; body.Len() < 1<<20; i++ {
		fmt.Fprintf(&body, "Line %d of the report: the github repository at https://example.com/r%d has %d stars; see ghost notes. ", i, i, i%977)
	}
	input := `{"method":"POST","url":"https://api.example.com/upload","body":` + strconvQuote(body.String()) + `}`
	hist := history()
	hist.Tools = []trajectory.ToolSpec{spec}
	one := func(c *guardrails.Chain) time.Duration {
		ev := &guardrails.Event{Kind: trajectory.EventToolCall, Tool: spec, Call: &trajectory.ToolCall{ID: "c1", Tool: "http", Input: input}, Trajectory: hist}
		t0 := time.Now()
		out := c.Check(ctx, ev)
		d := time.Since(t0)
		if c == guarded && out.Verdict == trajectory.Allow {
			b.Fatalf("a JSON input over the parse limit must not pass unread: %+v", out)
		}
		return d
	}
	var g, u []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u = append(u, one(bare))
		g = append(g, one(guarded))
	}
	b.StopTimer()
	median := func(ds []time.Duration) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[len(s)/2].Nanoseconds())
	}
	b.ReportMetric(median(g)/1e6, "ms-guarded/median")
	b.ReportMetric(median(u)/1e6, "ms-unguarded/median")
}

func strconvQuote(s string) string { q, _ := json.Marshal(s); return string(q) }

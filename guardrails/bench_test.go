package guardrails

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reagent-go/reagent/tools/netsafe"
	"github.com/reagent-go/reagent/trajectory"
)

// benchPolicy is a realistic policy without the RRM gate, built in Go (the
// same policy as a file is benchmarked in package policyfile): tool lists,
// argument rules, tool schemas, network rules, budget, a sequence rule and
// injection fencing.
func benchPolicy() (Policy, error) {
	args, err := NewArgGuard(
		ArgRule{Name: "get-only", Tools: Tools("http"), Field: "method", Allow: `^(GET|HEAD)$`},
		ArgRule{Name: "no-private-keys", Tools: Tagged(TagEgress), Deny: `-----BEGIN [A-Z ]*PRIVATE KEY-----`},
	)
	if err != nil {
		return Policy{}, err
	}
	schemas, err := NewSchemaGuard(nil, true)
	if err != nil {
		return Policy{}, err
	}
	network, err := NewNetworkGuard(netsafe.Policy{DenyDomains: []string{"evil.example", "tracker.example"}}, Tagged(TagEgress), false)
	if err != nil {
		return Policy{}, err
	}
	seq, err := NewSequenceGuard(SequenceRule{Name: "no-exfiltration", After: Tagged(TagSecret), Deny: Tagged(TagEgress)})
	if err != nil {
		return Policy{}, err
	}
	return Policy{
		Guards: []Guard{
			&ToolFilter{Deny: Tools("shell")},
			args, schemas, network,
			&Budget{MaxCalls: 30, MaxCallsPerTool: map[string]int{"*": 15}, MaxDuration: 10 * time.Minute},
			seq,
			&InjectionGuard{Mode: InjectionFence, Threshold: 0.5, Tools: Tagged(TagEgress)},
		},
		ToolTags: map[string][]string{"http": {TagEgress}, "browser": {TagEgress, TagReadOnly}, "vault": {TagSecret}, "shell": {TagRisky}},
	}, nil
}

// benchTool stands in for a cheap tool: it decodes its JSON input and
// returns a ~1.5 KB page.
func benchTool(input string) string {
	var args struct {
		Method, URL string
	}
	_ = json.Unmarshal([]byte(input), &args)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> 200 OK\n", args.Method, args.URL)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "item %d: a weather report for city %d with temperature %d C and light wind.\n", i, i, 10+i)
	}
	return b.String()
}

// BenchmarkGuardChain measures one guarded tool call against the same
// call with no guards (an empty chain), both in the same loop: the
// tool-call check, the tool itself (a JSON decode and a 1.5 KB page), and
// the tool-result check (injection scan and fencing of that page). It
// reports the time per call with and without guards, the overhead, the
// ratio, and the two checks' shares of the overhead, in wall time (the
// two interleaved) and in process CPU time (two plain loops; robust on a
// shared machine).
func BenchmarkGuardChain(b *testing.B) {
	p, err := benchPolicy()
	if err != nil {
		b.Fatal(err)
	}
	guarded, bare := NewChain(p), NewChain(Policy{})
	spec := trajectory.ToolSpec{Name: "http", Tags: []string{"egress"},
		Parameters: json.RawMessage(`{"type":"object","required":["method","url"],"properties":{"method":{"type":"string"},"url":{"type":"string"}}}`)}
	hist := history(
		trajectory.ToolCall{Tool: "browser", Input: "https://example.com/a"},
		trajectory.ToolCall{Tool: "http", Input: `{"method":"GET","url":"https://api.example.com/x"}`},
		trajectory.ToolCall{Tool: "calculator", Input: "2+2"},
		trajectory.ToolCall{Tool: "browser", Input: "https://example.com/b"},
		trajectory.ToolCall{Tool: "http", Input: `{"method":"HEAD","url":"https://api.example.com/y"}`},
	)
	hist.Tools = []trajectory.ToolSpec{spec, {Name: "browser", Tags: []string{"egress"}}, {Name: "calculator"}}
	input := `{"method":"GET","url":"https://api.example.com/v1/items?q=weather&page=2"}`
	page := benchTool(input)
	// one makes a call through c and returns the time of its two checks.
	one := func(c *Chain, i int) (callCheck, resultCheck time.Duration) {
		call := &trajectory.ToolCall{ID: "c9", Tool: "http", Input: input}
		ev := &Event{Kind: trajectory.EventToolCall, Tool: spec, Call: call, Step: 5, Trajectory: hist}
		t0 := time.Now()
		if out := c.Check(ctx, ev); out.Verdict != trajectory.Allow {
			b.Fatalf("blocked: %s", out.Reason)
		}
		t1 := time.Now()
		// A fresh page each time: the injection guard may not reuse a scan.
		call.Observation = benchTool(input) + strconv.Itoa(i)
		ev.Kind = trajectory.EventToolResult
		t2 := time.Now()
		if out := c.Check(ctx, ev); out.Verdict != trajectory.Allow {
			b.Fatalf("blocked: %s", out.Reason)
		}
		return t1.Sub(t0), time.Since(t2)
	}
	one(guarded, -1) // compile the tool's schema once, as a long-lived chain would
	var tg, tb, gCall, gResult, bCall, bResult time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c1, r1 := one(bare, i)
		t1 := time.Now()
		c2, r2 := one(guarded, i)
		t2 := time.Now()
		tb += t1.Sub(t0)
		tg += t2.Sub(t1)
		bCall, bResult, gCall, gResult = bCall+c1, bResult+r1, gCall+c2, gResult+r2
	}
	// The same calls again, in two plain loops timed by process CPU time.
	c0 := processCPU()
	for i := 0; i < b.N; i++ {
		one(bare, i)
	}
	c1 := processCPU()
	for i := 0; i < b.N; i++ {
		one(guarded, i)
	}
	c2 := processCPU()
	n := float64(b.N)
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / n }
	b.ReportMetric(per(c1-c0), "cpu-ns-unguarded/call")
	b.ReportMetric(per(c2-c1), "cpu-ns-guarded/call")
	b.ReportMetric(per(c2-c1-(c1-c0)), "cpu-ns-overhead/call")
	b.ReportMetric(float64(c2-c1)/float64(max(c1-c0, 1)), "cpu-ratio")
	b.ReportMetric(per(tg), "ns-guarded/call")
	b.ReportMetric(per(tb), "ns-unguarded/call")
	b.ReportMetric(per(tg-tb), "ns-overhead/call")
	b.ReportMetric(float64(tg)/float64(max(tb, 1)), "ratio")
	b.ReportMetric(per(gCall-bCall), "ns-call-check")
	b.ReportMetric(per(gResult-bResult), "ns-result-check")
	b.ReportMetric(float64(len(page)), "page-bytes")
}

package mcprun_test

import (
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/reagent-go/reagent/mcprun"
	"github.com/reagent-go/reagent/run"
)

// callsPerBatch is how many tools/call each measured batch makes (one run
// per batch on the reagent side; starting and ending it is not timed).
const callsPerBatch = 100

// benchSession connects a client (with or without the middleware) to a
// real server over the SDK's in-memory transport, whose no-op tool answers
// at once: what is left to compare is the client side of a call.
func benchSession(b *testing.B, middleware bool) *mcp.ClientSession {
	b.Helper()
	ctx := context.Background()
	s := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "noop", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return text("ok"), nil
	})
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ss.Close() })
	c := mcp.NewClient(&mcp.Implementation{Name: "bench-client", Version: "1"}, nil)
	if middleware {
		c.AddSendingMiddleware(mcprun.Middleware())
	}
	cs, err := c.Connect(ctx, ct, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs.Close() })
	if _, err := cs.ListTools(ctx, nil); err != nil {
		b.Fatal(err)
	}
	return cs
}

// BenchmarkToolCallOverhead makes the same tools/call through a bare
// session and through a session with the middleware inside a run (no
// guards, no store: the adapter's own cost), interleaved batch by batch and
// alternating which goes first, and reports per call the time and
// allocations of each, their mean difference, the median of the paired
// differences and the ratio. The control sub-benchmarks compare two bare
// sessions the same way: their difference is the noise floor.
//
// A call through the SDK's in-memory transport takes hundreds of µs on a
// busy 2-core machine, so the "handler" sub-benchmarks also time the
// middleware alone: the MethodHandler it returns around a next handler that
// answers at once, against that next handler called directly.
func BenchmarkToolCallOverhead(b *testing.B) {
	for _, args := range []struct {
		name string
		v    any
	}{{"args=map", map[string]any{"q": "reagent"}}, {"args=raw", json.RawMessage(`{"q":"reagent"}`)}} {
		b.Run("session/"+args.name, func(b *testing.B) { benchSessions(b, true, args.v) })
		b.Run("session/control=bare-vs-bare/"+args.name, func(b *testing.B) { benchSessions(b, false, args.v) })
		b.Run("handler/"+args.name, func(b *testing.B) { benchHandler(b, args.v) })
	}
}

func benchSessions(b *testing.B, middleware bool, args any) {
	bare, wrapped := benchSession(b, false), benchSession(b, middleware)
	params := &mcp.CallToolParams{Name: "noop", Arguments: args}
	call := func(cs *mcp.ClientSession) func(context.Context) {
		return func(ctx context.Context) {
			res, err := cs.CallTool(ctx, params)
			if err != nil || res.IsError {
				b.Fatal(err, res)
			}
		}
	}
	benchPairs(b, 100, call(bare), call(wrapped), middleware)
}

func benchHandler(b *testing.B, args any) {
	result := text("ok")
	next := mcp.MethodHandler(func(context.Context, string, mcp.Request) (mcp.Result, error) { return result, nil })
	wrapped := mcprun.Middleware()(next)
	req := &mcp.ClientRequest[*mcp.CallToolParams]{Params: &mcp.CallToolParams{Name: "noop", Arguments: args}}
	call := func(h mcp.MethodHandler) func(context.Context) {
		return func(ctx context.Context) {
			if _, err := h(ctx, "tools/call", req); err != nil {
				b.Fatal(err)
			}
		}
	}
	benchPairs(b, 1000, call(next), call(wrapped), true)
}

// benchPairs times batches of bare and wrapped calls, interleaved; the
// wrapped batch runs inside a run (started and ended untimed) when inRun.
func benchPairs(b *testing.B, batch int, bare, wrapped func(context.Context), inRun bool) {
	ctx := context.Background()
	rec := run.New()
	measure := func(call func(context.Context), inRun bool) (ns, allocs float64) {
		c, r := ctx, (*run.Run)(nil)
		if inRun {
			c, r = rec.Start(ctx, "bench")
		}
		m0 := mallocs()
		t0 := time.Now()
		for range batch {
			call(c)
		}
		d := time.Since(t0)
		m1 := mallocs()
		if r != nil {
			r.End(nil)
		}
		return float64(d.Nanoseconds()) / float64(batch), float64(m1-m0) / float64(batch)
	}
	var bareNs, bareAllocs, wrapNs, wrapAllocs float64
	diffs := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		var bns, bal, wns, wal float64
		if i%2 == 0 {
			bns, bal = measure(bare, false)
			wns, wal = measure(wrapped, inRun)
		} else {
			wns, wal = measure(wrapped, inRun)
			bns, bal = measure(bare, false)
		}
		bareNs, bareAllocs, wrapNs, wrapAllocs = bareNs+bns, bareAllocs+bal, wrapNs+wns, wrapAllocs+wal
		diffs = append(diffs, wns-bns)
	}
	b.StopTimer()
	n := float64(b.N)
	slices.Sort(diffs)
	b.ReportMetric(bareNs/n, "bare-ns/call")
	b.ReportMetric(wrapNs/n, "wrapped-ns/call")
	b.ReportMetric((wrapNs-bareNs)/n, "overhead-ns/call")
	b.ReportMetric(diffs[len(diffs)/2], "median-overhead-ns/call")
	b.ReportMetric(bareAllocs/n, "bare-allocs/call")
	b.ReportMetric((wrapAllocs-bareAllocs)/n, "overhead-allocs/call")
	b.ReportMetric(wrapNs/bareNs, "wrapped/bare")
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

package einorun_test

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/reagent-go/reagent/einorun"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// stats samples wall time and the process's allocation count (outside the
// timed interval: ReadMemStats stops the world).
type stats struct {
	ns      int64
	mallocs uint64
}

func sample() stats {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return stats{ns: time.Now().UnixNano(), mallocs: m.Mallocs}
}

func since(s stats) (ns, allocs float64) {
	now := time.Now().UnixNano()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(now - s.ns), float64(m.Mallocs - s.mallocs)
}

// report adds the paired figures of a benchmark: per unit time and
// allocations of the bare host and the adapter, their difference, the
// median of the paired differences, and the ratio.
func report(b *testing.B, unit string, bareNs, bareAl, wrapNs, wrapAl float64, diffs []float64) {
	n := float64(b.N)
	b.ReportMetric(bareNs/n, "bare-ns/"+unit)
	b.ReportMetric(wrapNs/n, "wrapped-ns/"+unit)
	b.ReportMetric((wrapNs-bareNs)/n, "overhead-ns/"+unit)
	slices.Sort(diffs)
	b.ReportMetric(diffs[len(diffs)/2], "median-overhead-ns/"+unit)
	b.ReportMetric(bareAl/n, "bare-allocs/"+unit)
	b.ReportMetric(wrapAl/n, "wrapped-allocs/"+unit)
	b.ReportMetric((wrapAl-bareAl)/n, "overhead-allocs/"+unit)
	b.ReportMetric(wrapNs/bareNs, "wrapped/bare")
}

// callsPerRun is how many tool calls each measured batch makes (one run
// for the adapter).
const callsPerRun = 100

// BenchmarkToolCallOverhead measures one tool call through eino's tool
// endpoint (what compose.ToolsNode calls) bare and through the adapter's
// WrapToolCall.Invokable, guards off, in a run opened by the adapter:
// each wrapped call is planned (AddCall, as AfterChatModel does), started,
// run and ended, and the run's Start and End are shared by its
// callsPerRun calls. Bare and wrapped batches alternate, in alternating
// order.
func BenchmarkToolCallOverhead(b *testing.B) {
	a := einorun.New(run.New())
	endpoint := func(_ context.Context, in *compose.ToolInput) (*compose.ToolOutput, error) {
		return &compose.ToolOutput{Result: "ok"}, nil
	}
	wrapped := a.Middleware().WrapToolCall.Invokable(endpoint)
	in := &compose.ToolInput{Name: "noop", Arguments: `{"x":1}`, CallID: "call"}
	ctx := context.Background()
	bare := func() {
		for range callsPerRun {
			if _, err := endpoint(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	through := func() {
		rctx, r := a.Start(ctx, "benchmark")
		for range callsPerRun {
			r.AddCall(trajectory.ToolCall{ID: in.CallID, Tool: in.Name, Input: in.Arguments}, true)
			if _, err := wrapped(rctx, in); err != nil {
				b.Fatal(err)
			}
		}
		r.End(nil)
	}
	var bareNs, bareAl, wrapNs, wrapAl float64
	diffs := make([]float64, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		var bn, ba, wn, wa float64
		measure := func(f func()) (float64, float64) {
			s := sample()
			f()
			ns, al := since(s)
			return ns / callsPerRun, al / callsPerRun
		}
		if i%2 == 0 {
			bn, ba = measure(bare)
			wn, wa = measure(through)
		} else {
			wn, wa = measure(through)
			bn, ba = measure(bare)
		}
		bareNs, bareAl, wrapNs, wrapAl = bareNs+bn, bareAl+ba, wrapNs+wn, wrapAl+wa
		diffs = append(diffs, wn-bn)
	}
	b.StopTimer()
	report(b, "call", bareNs, bareAl, wrapNs, wrapAl, diffs)
}

// benchSteps is how many agent steps each end-to-end run takes: tool steps
// and a final answer.
const benchSteps = 10

// loopModel asks for the no-op tool until it has seen benchSteps-1 tool
// results, then answers. Bare and wrapped agents use it alike.
type loopModel struct{}

func (loopModel) Generate(_ context.Context, in []*schema.Message, _ ...model.Option) (*schema.Message, error) {
	n := 0
	for _, m := range in {
		if m.Role == schema.Tool {
			n++
		}
	}
	if n >= benchSteps-1 {
		return &schema.Message{Role: schema.Assistant, Content: "done"}, nil
	}
	return &schema.Message{Role: schema.Assistant, ToolCalls: []schema.ToolCall{{ID: "c", Type: "function",
		Function: schema.FunctionCall{Name: "noop", Arguments: `{"text":"x"}`}}}}, nil
}

func (m loopModel) Stream(ctx context.Context, in []*schema.Message, o ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	msg, err := m.Generate(ctx, in, o...)
	if err != nil {
		return nil, err
	}
	return schema.StreamReaderFromArray([]*schema.Message{msg}), nil
}

func (m loopModel) WithTools([]*schema.ToolInfo) (model.ToolCallingChatModel, error) { return m, nil }

// BenchmarkAgentStepOverhead runs a bare ChatModelAgent and one with the
// adapter (middleware and Wrap, guards off, no store) through eino's
// Runner on the same in-process model and no-op tool, and reports per agent
// step (one model call and one tool call) the time and allocations of
// each, their difference and the ratio.
func BenchmarkAgentStepOverhead(b *testing.B) {
	noop := namedTool(b, "noop", func(context.Context, textArgs) (string, error) { return "ok", nil })
	build := func(mws []adk.AgentMiddleware) adk.Agent {
		agent, err := adk.NewChatModelAgent(context.Background(), &adk.ChatModelAgentConfig{
			Name: "bench", Description: "benchmark agent", Model: loopModel{}, MaxIterations: benchSteps + 1,
			ToolsConfig: adk.ToolsConfig{ToolsNodeConfig: compose.ToolsNodeConfig{Tools: []tool.BaseTool{noop}}},
			Middlewares: mws,
		})
		if err != nil {
			b.Fatal(err)
		}
		return agent
	}
	a := einorun.New(run.New())
	bare := adk.NewRunner(context.Background(), adk.RunnerConfig{Agent: build(nil)})
	wrapped := adk.NewRunner(context.Background(), adk.RunnerConfig{Agent: a.Wrap(build([]adk.AgentMiddleware{a.Middleware()}))})
	ctx := context.Background()
	measure := func(r *adk.Runner) (float64, float64) {
		s := sample()
		res := drain(b, r.Query(ctx, "benchmark question"))
		ns, al := since(s)
		if res.err != nil || res.answer != "done" {
			b.Fatalf("run failed: %v (answer %q)", res.err, res.answer)
		}
		return ns / benchSteps, al / benchSteps
	}
	var bareNs, bareAl, wrapNs, wrapAl float64
	diffs := make([]float64, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		var bn, ba, wn, wa float64
		if i%2 == 0 {
			bn, ba = measure(bare)
			wn, wa = measure(wrapped)
		} else {
			wn, wa = measure(wrapped)
			bn, ba = measure(bare)
		}
		bareNs, bareAl, wrapNs, wrapAl = bareNs+bn, bareAl+ba, wrapNs+wn, wrapAl+wa
		diffs = append(diffs, wn-bn)
	}
	b.StopTimer()
	report(b, "step", bareNs, bareAl, wrapNs, wrapAl, diffs)
}

package middleware_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reagent-go/reagent/run"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/middleware"
)

// stepsPerRun is how many agent steps each benchmark run takes: tool steps
// followed by one final answer.
const stepsPerRun = 10

// scriptedModel is an in-process model for the overhead benchmark: it asks
// for the no-op tool until the prompt holds stepsPerRun-1 observations, then
// answers. Bare and wrapped runs use it alike, so it cancels out.
type scriptedModel struct{}

func (scriptedModel) GenerateContent(_ context.Context, msgs []llms.MessageContent, _ ...llms.CallOption) (*llms.ContentResponse, error) {
	prompt := msgs[len(msgs)-1].Parts[0].(llms.TextContent).Text
	if strings.Contains(prompt, "Question: panic") {
		panic("scripted model panics on request")
	}
	text := "Thought: keep going\nAction: noop\nAction Input: x"
	if strings.Count(prompt, "Observation:") >= stepsPerRun-1 {
		text = "Thought: done\nFinal Answer: ok"
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: text}}}, nil
}

func (m scriptedModel) Call(ctx context.Context, p string, o ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, p, o...)
}

type noopTool struct{}

func (noopTool) Name() string                                 { return "noop" }
func (noopTool) Description() string                          { return "does nothing" }
func (noopTool) Call(context.Context, string) (string, error) { return "ok", nil }

// BenchmarkWrapOverhead runs the bare and the wrapped executor (SQLite store
// attached) on the same in-process model and no-op tool, and reports per
// agent step the time and allocations of each and their difference. The
// store writes on its own goroutine; the benchmark waits for it after each
// wrapped run, outside the timed intervals, so that its work does not land
// in whichever run comes next: what is left is the cost on the agent's own
// path. The control sub-benchmark compares two bare executors the same way:
// its difference is the measurement's noise floor.
//
// The no-store variant wraps without a store: the wrapper's own cost. The
// after-10k-panics variant first makes 10,000 runs of the wrapped
// executor panic (the model panics inside Plan), then measures the same
// way: a run that ends in a panic must leave nothing behind.
func BenchmarkWrapOverhead(b *testing.B) {
	b.Run("wrapped", func(b *testing.B) { benchWrapOverhead(b, true, 0) })
	b.Run("wrapped-no-store", func(b *testing.B) { benchWrapOverhead(b, true, -1) })
	b.Run("wrapped-after-10k-panics", func(b *testing.B) { benchWrapOverhead(b, true, 10000) })
	b.Run("control=bare-vs-bare", func(b *testing.B) { benchWrapOverhead(b, false, 0) })
}

func benchWrapOverhead(b *testing.B, wrap bool, panicsFirst int) {
	store, err := audit.OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	newExec := func() *agents.Executor {
		agent := agents.NewOneShotAgent(scriptedModel{}, []tools.Tool{noopTool{}})
		return agents.NewExecutor(agent, agents.WithMaxIterations(stepsPerRun+1))
	}
	bare := newExec()
	var wrapped chains.Chain = newExec()
	switch {
	case wrap && panicsFirst < 0: // the wrapper alone: no store to hand runs to
		wrapped = middleware.Wrap(newExec())
	case wrap:
		wrapped = middleware.Wrap(newExec(), run.WithStore(store))
	}
	ctx := context.Background()
	for range panicsFirst {
		func() {
			defer func() { _ = recover() }()
			_, _ = chains.Run(ctx, wrapped, "panic")
		}()
	}
	if err := store.Flush(ctx); err != nil {
		b.Fatal(err)
	}

	measure := func(exec chains.Chain) (nsPerStep, allocsPerStep float64) {
		var before, after runtimeStats
		before.start()
		if _, err := chains.Run(ctx, exec, "benchmark question"); err != nil {
			b.Fatal(err)
		}
		after.stop()
		return float64(after.ns-before.ns) / stepsPerRun, float64(after.mallocs-before.mallocs) / stepsPerRun
	}

	b.ReportAllocs()
	b.ResetTimer()
	// Interleave the two so drift on the machine affects both alike, and
	// alternate which goes first: the run right after the store's flush
	// and the one after it do not find the caches and the heap alike
	// (a bare-vs-bare comparison shows ±1–2 µs per step from position
	// alone).
	var bareNs, bareAllocs, wrapNs, wrapAllocs float64
	diffs := make([]float64, 0, b.N)
	for i := range b.N {
		var bns, bal, wns, wal float64
		if i%2 == 0 {
			bns, bal = measure(bare)
			wns, wal = measure(wrapped)
		} else {
			wns, wal = measure(wrapped)
			bns, bal = measure(bare)
		}
		bareNs += bns
		bareAllocs += bal
		wrapNs += wns
		wrapAllocs += wal
		diffs = append(diffs, wns-bns)
		if err := store.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(bareNs/n, "bare-ns/step")
	b.ReportMetric(wrapNs/n, "wrapped-ns/step")
	b.ReportMetric((wrapNs-bareNs)/n, "overhead-ns/step")
	// The median of the paired differences is robust to the GC cycles and
	// scheduler stalls that land on one side of a pair.
	slices.Sort(diffs)
	b.ReportMetric(diffs[len(diffs)/2], "median-overhead-ns/step")
	b.ReportMetric(bareAllocs/n, "bare-allocs/step")
	b.ReportMetric(wrapAllocs/n, "wrapped-allocs/step")
	b.ReportMetric((wrapAllocs-bareAllocs)/n, "overhead-allocs/step")
	b.ReportMetric(wrapNs/bareNs, "wrapped/bare")
}

package middleware_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
// store writes on its own goroutine: in "writer=alongside" its work for one
// run overlaps the next runs (as in a busy service), in "writer=drained"
// the benchmark waits for it after each wrapped run, outside the timed
// intervals, which leaves the cost on the agent's own path.
func BenchmarkWrapOverhead(b *testing.B) {
	for _, drain := range []bool{false, true} {
		name := "writer=alongside"
		if drain {
			name = "writer=drained"
		}
		b.Run(name, func(b *testing.B) { benchWrapOverhead(b, drain) })
	}
}

func benchWrapOverhead(b *testing.B, drain bool) {
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
	wrapped := middleware.Wrap(newExec(), middleware.WithStore(store))
	ctx := context.Background()

	measure := func(exec *agents.Executor) (nsPerStep, allocsPerStep float64) {
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
	// Interleave the two so drift on the machine affects both alike.
	var bareNs, bareAllocs, wrapNs, wrapAllocs float64
	diffs := make([]float64, 0, b.N)
	for range b.N {
		bns, al := measure(bare)
		bareNs += bns
		bareAllocs += al
		wns, al := measure(wrapped)
		wrapNs += wns
		wrapAllocs += al
		diffs = append(diffs, wns-bns)
		if drain {
			if err := store.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if err := store.Flush(ctx); err != nil {
		b.Fatal(err)
	}
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

package middleware_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reagent-go/reagent/run"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/schema"
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
//
// The trivial-agent variants run an agent that plans without a prompt
// template or output parser (one model call, one tool call per step, bare
// ~1 µs per step): the same wrapper costs, measured against a far smaller
// and steadier bare step, so that the noise of a shared machine hides less
// of them.
func BenchmarkWrapOverhead(b *testing.B) {
	b.Run("wrapped", func(b *testing.B) { benchWrapOverhead(b, mrklAgent, true, 0) })
	b.Run("wrapped-no-store", func(b *testing.B) { benchWrapOverhead(b, mrklAgent, true, -1) })
	b.Run("wrapped-after-10k-panics", func(b *testing.B) { benchWrapOverhead(b, mrklAgent, true, 10000) })
	b.Run("control=bare-vs-bare", func(b *testing.B) { benchWrapOverhead(b, mrklAgent, false, 0) })
	b.Run("trivial-agent/wrapped", func(b *testing.B) { benchWrapOverhead(b, trivialAgent, true, 0) })
	b.Run("trivial-agent/wrapped-no-store", func(b *testing.B) { benchWrapOverhead(b, trivialAgent, true, -1) })
	b.Run("trivial-agent/control=bare-vs-bare", func(b *testing.B) { benchWrapOverhead(b, trivialAgent, false, 0) })
}

// mrklAgent is langchaingo's MRKL (one-shot) agent on the scripted model.
func mrklAgent() agents.Agent {
	return agents.NewOneShotAgent(scriptedModel{}, []tools.Tool{noopTool{}})
}

// trivialAgent plans with one model call and no prompt template or parser.
func trivialAgent() agents.Agent {
	return &plainAgent{LLM: scriptedModel{}, tools: []tools.Tool{noopTool{}}}
}

// plainAgent asks its model once per step (the prompt counts the steps so
// far, as the scripted model expects) and calls the no-op tool until the
// model answers.
type plainAgent struct {
	LLM   llms.Model // exported: Wrap records its calls, as for langchaingo's agents
	tools []tools.Tool
}

func (a *plainAgent) Plan(ctx context.Context, steps []schema.AgentStep, _ map[string]string, _ ...chains.ChainCallOption) ([]schema.AgentAction, *schema.AgentFinish, error) {
	prompt := plainPrompts[min(len(steps), len(plainPrompts)-1)]
	resp, err := a.LLM.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, prompt)})
	if err != nil {
		return nil, nil, err
	}
	text := resp.Choices[0].Content
	if strings.Contains(text, "Final Answer:") {
		return nil, &schema.AgentFinish{ReturnValues: map[string]any{"output": "ok"}, Log: text}, nil
	}
	return []schema.AgentAction{{Tool: "noop", ToolInput: "x", Log: text}}, nil, nil
}

func (a *plainAgent) GetInputKeys() []string  { return []string{"input"} }
func (a *plainAgent) GetOutputKeys() []string { return []string{"output"} }
func (a *plainAgent) GetTools() []tools.Tool  { return a.tools }

// plainPrompts[i] is the prompt after i steps: "Question: q" and i
// observations, built once so that the agent itself allocates little.
var plainPrompts = func() []string {
	out := make([]string, stepsPerRun)
	for i := range out {
		out[i] = "Question: q" + strings.Repeat("\nObservation: ok", i)
	}
	return out
}()

func benchWrapOverhead(b *testing.B, newAgent func() agents.Agent, wrap bool, panicsFirst int) {
	store, err := audit.OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	newExec := func() *agents.Executor {
		return agents.NewExecutor(newAgent(), agents.WithMaxIterations(stepsPerRun+1))
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

// BenchmarkStoreHandOff times what ending a run costs the agent's
// goroutine with a SQLite store attached: store.Append of a finished
// 10-step trajectory (the writer then redacts, encodes and inserts it on
// its own goroutines). The writer is drained and left idle before each
// Append, outside the timed interval, as between the runs of an agent that
// waits on a model. Compare with GOMAXPROCS=1, where readying the writer's
// goroutines starts no other thread.
func BenchmarkStoreHandOff(b *testing.B) {
	store, err := audit.OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	exec := middleware.Wrap(agents.NewExecutor(trivialAgent(), agents.WithMaxIterations(stepsPerRun+1)))
	h := run.NewHandle() // the run is recorded without a store; its trajectory is appended below
	if _, err := chains.Run(run.ContextWithHandle(ctx, h), exec, "benchmark question"); err != nil {
		b.Fatal(err)
	}
	t := h.Trajectory()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		cp := t.Clone()
		cp.ID = fmt.Sprintf("%s-%d", t.ID, i)
		if err := store.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond) // the writer's goroutines park
		b.StartTimer()
		if err := store.Append(ctx, cp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRuns times whole runs (10 agent steps each) of one executor,
// bare or wrapped, with the trivial or the MRKL agent: ns/op is per run.
// Its loop is one function (stepLoop), so that an instruction counter can
// count exactly the runs (see docs/hosts.md: the instruction counts of the
// wrap overhead are taken with callgrind on this benchmark, which is
// steadier than wall time on a shared machine).
func BenchmarkRuns(b *testing.B) {
	for _, agent := range []struct {
		name string
		new  func() agents.Agent
	}{{"trivial", trivialAgent}, {"mrkl", mrklAgent}} {
		b.Run(agent.name+"/bare", func(b *testing.B) {
			stepLoop(b, agents.NewExecutor(agent.new(), agents.WithMaxIterations(stepsPerRun+1)))
		})
		b.Run(agent.name+"/wrapped", func(b *testing.B) {
			stepLoop(b, middleware.Wrap(agents.NewExecutor(agent.new(), agents.WithMaxIterations(stepsPerRun+1))))
		})
	}
}

//go:noinline
func stepLoop(b *testing.B, exec chains.Chain) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := chains.Run(ctx, exec, "benchmark question"); err != nil {
			b.Fatal(err)
		}
	}
}

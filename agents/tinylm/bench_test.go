package tinylm

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/reagent-go/reagent/trajectory"
	"github.com/tmc/langchaingo/llms"
)

// torchGenerate times greedy generation with the PyTorch model (its KV-cache
// path, as the policy server runs it) on the CPU. It prints, per prompt, the
// generated ids and the best of five wall times.
const torchGenerate = `
import json, sys, time, torch
from reagent_backend import tiny
model, _ = tiny.load(sys.argv[1])
model.eval()
req = json.load(sys.stdin)
out = []
with torch.inference_mode():
    for prompt in req["prompts"]:
        best, ids = None, None
        for _ in range(5):
            t0 = time.perf_counter()
            logits, _, past = model(torch.tensor([prompt]))
            gen = []
            for _ in range(req["max_tokens"]):
                nxt = int(logits[0, -1].argmax())
                gen.append(nxt)
                if nxt in (tiny.END, tiny.EOS) or len(gen) == req["max_tokens"]:
                    break
                logits, _, past = model(torch.tensor([[nxt]]), past)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
            ids = gen
        out.append({"ids": ids, "seconds": best})
print(json.dumps({"threads": torch.get_num_threads(), "results": out}))
`

// benchPrompts are the prompts both sides complete: a short question and a
// longer conversation with a tool round trip.
func benchPrompts(b *testing.B) [][]int {
	convs := [][]trajectory.Message{
		{{Role: "user", Content: "What is the capital of France?"}},
		{
			{Role: "system", Content: "You are a careful research agent. Use the tools when a fact must be checked, and answer briefly."},
			{Role: "user", Content: "Find the population of Lyon in 2020 and compare it with the population of Marseille."},
			{Role: "assistant", Content: "I will look both up.", ToolCalls: []trajectory.ToolCallSpec{{Name: "search", Arguments: `{"q": "Lyon population 2020"}`}}},
			{Role: "tool", Name: "search", Content: "Lyon had 522,250 inhabitants in 2020 according to INSEE; the metropolis had about 1.4 million."},
		},
	}
	out := make([][]int, len(convs))
	for i, c := range convs {
		ids, err := ApplyChatTemplate(c, true)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = ids
	}
	return out
}

// BenchmarkGenerate measures greedy generation of up to 128 tokens with the
// built-in model's shape (d 128, 4 layers, 4 heads, 1024 positions; random
// weights from the PyTorch exporter) in Go, and reports the same work done
// by PyTorch on the CPU as the baseline:
//
//	go test ./agents/tinylm -run '^$' -bench BenchmarkGenerate -benchtime 20x
func BenchmarkGenerate(b *testing.B) {
	const maxTokens = 128
	dir := exportFixture(b, "--d-model", "128", "--n-layer", "4", "--n-head", "4", "--max-seq", "1024", "--seed", "3")
	m, err := Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	prompts := benchPrompts(b)

	// Baseline: PyTorch, timed in its own process.
	req, _ := json.Marshal(map[string]any{"prompts": prompts, "max_tokens": maxTokens})
	cmd := exec.Command(torchPython(), "-c", torchGenerate, dir)
	cmd.Dir = backendDir(b)
	cmd.Stdin = bytes.NewReader(req)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("PyTorch baseline: %v", err)
	}
	var torch struct {
		Threads int `json:"threads"`
		Results []struct {
			IDs     []int   `json:"ids"`
			Seconds float64 `json:"seconds"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &torch); err != nil {
		b.Fatalf("PyTorch baseline output %q: %v", out, err)
	}
	var torchTokens int
	var torchSeconds float64
	for i, r := range torch.Results {
		torchTokens += len(r.IDs)
		torchSeconds += r.Seconds
		c, err := m.Generate(context.Background(), prompts[i], llms.WithMaxTokens(maxTokens))
		if err != nil {
			b.Fatal(err)
		}
		if !slices.Equal(c.Tokens, r.IDs) {
			b.Logf("prompt %d: greedy tokens differ from PyTorch's (a near tie?)\n  go %v\n  py %v", i, c.Tokens, r.IDs)
		}
	}

	// Both sides report their fastest round, which is the least disturbed
	// by other work on the machine.
	b.ResetTimer()
	best := math.Inf(1)
	var goTokens int
	for range b.N {
		start := time.Now()
		goTokens = 0
		for _, p := range prompts {
			c, err := m.Generate(context.Background(), p, llms.WithMaxTokens(maxTokens))
			if err != nil {
				b.Fatal(err)
			}
			goTokens += len(c.Tokens)
		}
		best = min(best, time.Since(start).Seconds())
	}
	goRate := float64(goTokens) / best
	torchRate := float64(torchTokens) / torchSeconds
	b.ReportMetric(goRate, "go_tok/s")
	b.ReportMetric(torchRate, "torch_tok/s")
	b.ReportMetric(goRate/torchRate, "go/torch")
	b.Logf("torch threads %d; tokens per round: go %d, torch %d", torch.Threads, goTokens, torchTokens)
}

// BenchmarkForwardToken measures one decoding step of the built-in shape
// (the 64th token through every layer, attending to the 63 cached ones) and
// reports it against the naive float64 reference's cost per token over the
// same 64 tokens.
//
//	go test ./agents/tinylm -run '^$' -bench BenchmarkForwardToken
func BenchmarkForwardToken(b *testing.B) {
	cfg := DefaultConfig()
	ts := randomTensors(cfg, 9)
	m, err := Load(writeModel(b, cfg, ts, true))
	if err != nil {
		b.Fatal(err)
	}
	ids := testIDs(64)
	// Baseline: the reference forward over 64 tokens, per token.
	refStart := time.Now()
	refLogits(ts, cfg, ids)
	refPerToken := time.Since(refStart).Seconds() / float64(len(ids))

	s := m.newSession(cfg.MaxSeq)
	defer m.release(s)
	s.feed(testIDs(63), nil)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.rewind(63)
		s.feed(ids[63:], nil)
	}
	per := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(1/per, "tok/s")
	b.ReportMetric(refPerToken/per, "speedup_vs_naive")
}

func backendDir(tb testing.TB) string {
	dir, err := filepath.Abs(filepath.Join("..", "..", "ppo", "backend"))
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

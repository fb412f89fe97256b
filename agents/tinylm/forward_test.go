package tinylm

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/tmc/langchaingo/llms"
)

// The naive reference: float64, one position at a time, full attention
// matrices, written straight from docs/tiny-model.md with no sharing with
// the production code.

func refLinear(w, b []float32, x []float64, nOut int) []float64 {
	nIn := len(x)
	out := make([]float64, nOut)
	for o := range nOut {
		s := float64(b[o])
		for i := range nIn {
			s += float64(w[o*nIn+i]) * x[i]
		}
		out[o] = s
	}
	return out
}

func refLayerNorm(x []float64, w, b []float32) []float64 {
	n := float64(len(x))
	var mean, vr float64
	for _, v := range x {
		mean += v
	}
	mean /= n
	for _, v := range x {
		vr += (v - mean) * (v - mean)
	}
	vr /= n
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = (v-mean)/math.Sqrt(vr+1e-5)*float64(w[i]) + float64(b[i])
	}
	return out
}

// refBlock applies block li to the whole sequence xs ([T][d]).
func refBlock(ts map[string]tensor, cfg Config, li int, xs [][]float64) [][]float64 {
	d, nh := cfg.DModel, cfg.NHead
	hd := d / nh
	w := func(n string) []float32 { return ts[fmt.Sprintf("blocks.%d.%s", li, n)].Data }
	T := len(xs)
	q, k, v := make([][]float64, T), make([][]float64, T), make([][]float64, T)
	for t := range T {
		qkv := refLinear(w("attn.qkv.weight"), w("attn.qkv.bias"), refLayerNorm(xs[t], w("ln1.weight"), w("ln1.bias")), 3*d)
		q[t], k[t], v[t] = qkv[:d], qkv[d:2*d], qkv[2*d:]
	}
	out := make([][]float64, T)
	for t := range T {
		att := make([]float64, d)
		for h := range nh {
			scores := make([]float64, T)
			mx := math.Inf(-1)
			for j := range T {
				if j > t {
					scores[j] = math.Inf(-1) // causal mask
					continue
				}
				var s float64
				for i := h * hd; i < (h+1)*hd; i++ {
					s += q[t][i] * k[j][i]
				}
				scores[j] = s / math.Sqrt(float64(hd))
				mx = math.Max(mx, scores[j])
			}
			var z float64
			for j := range scores {
				scores[j] = math.Exp(scores[j] - mx)
				z += scores[j]
			}
			for j := range T {
				for i := h * hd; i < (h+1)*hd; i++ {
					att[i] += scores[j] / z * v[j][i]
				}
			}
		}
		proj := refLinear(w("attn.proj.weight"), w("attn.proj.bias"), att, d)
		x := make([]float64, d)
		for i := range x {
			x[i] = xs[t][i] + proj[i]
		}
		hid := refLinear(w("mlp.fc.weight"), w("mlp.fc.bias"), refLayerNorm(x, w("ln2.weight"), w("ln2.bias")), 4*d)
		for i, u := range hid {
			hid[i] = 0.5 * u * (1 + math.Erf(u/math.Sqrt2))
		}
		mlp := refLinear(w("mlp.proj.weight"), w("mlp.proj.bias"), hid, d)
		for i := range x {
			x[i] += mlp[i]
		}
		out[t] = x
	}
	return out
}

func refEmbed(ts map[string]tensor, cfg Config, ids []int) [][]float64 {
	d := cfg.DModel
	xs := make([][]float64, len(ids))
	for t, id := range ids {
		xs[t] = make([]float64, d)
		for i := range d {
			xs[t][i] = float64(ts["tok_emb.weight"].Data[id*d+i]) + float64(ts["pos_emb.weight"].Data[t*d+i])
			for k := 1; k <= cfg.PrevTokens; k++ {
				prev := TokPad // before the sequence's start
				if t-k >= 0 {
					prev = ids[t-k]
				}
				xs[t][i] += float64(ts[prevEmbName(k)].Data[prev*d+i])
			}
		}
	}
	return xs
}

func refLogits(ts map[string]tensor, cfg Config, ids []int) [][]float64 {
	xs := refEmbed(ts, cfg, ids)
	for li := range cfg.NLayer {
		xs = refBlock(ts, cfg, li, xs)
	}
	emb := ts["tok_emb.weight"].Data
	out := make([][]float64, len(ids))
	for t := range xs {
		h := refLayerNorm(xs[t], ts["ln_f.weight"].Data, ts["ln_f.bias"].Data)
		out[t] = make([]float64, cfg.VocabSize)
		for v := range cfg.VocabSize {
			for i, hv := range h {
				out[t][v] += float64(emb[v*cfg.DModel+i]) * hv
			}
		}
	}
	return out
}

func testIDs(n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = (i*37 + 11) % VocabSize
	}
	ids[0] = TokBOS
	return ids
}

func maxAbsDiff[A, B float32 | float64](a []A, b []B) float64 {
	var worst float64
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst
}

// TestBlockMatchesReference checks one block of the production code (run
// through a session, on a chunk of several tokens) against refBlock.
func TestBlockMatchesReference(t *testing.T) {
	cfg := smallConfig
	ts := randomTensors(cfg, 3)
	ids := testIDs(9)
	want := refBlock(ts, cfg, 0, refEmbed(ts, cfg, ids))

	// A one-layer model over the same tensors runs block 0 alone (the
	// loader ignores the tensors of block 1).
	one1 := cfg
	one1.NLayer = 1
	one := randomModelFrom(t, one1, ts)
	s := one.newSession(len(ids))
	s.chunk(ids, false, nil)
	d := cfg.DModel
	for tpos := range ids {
		got := s.x[tpos*d : (tpos+1)*d]
		if diff := maxAbsDiff(got, want[tpos]); diff > 1e-4 {
			t.Fatalf("position %d: block output differs from the reference by %g", tpos, diff)
		}
	}
}

func randomModelFrom(t *testing.T, cfg Config, ts map[string]tensor) *Model {
	t.Helper()
	m, err := Load(writeModel(t, cfg, ts, true))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// bothEmbeddings runs a test on the small shape without previous-token
// embeddings, with one and with three.
func bothEmbeddings(t *testing.T, test func(t *testing.T, cfg Config)) {
	t.Run("learned-positions", func(t *testing.T) { test(t, smallConfig) })
	for _, n := range []int{1, 3} {
		prev := smallConfig
		prev.PrevTokens = n
		t.Run(fmt.Sprintf("prev-tokens-%d", n), func(t *testing.T) { test(t, prev) })
	}
}

// TestLogitsMatchReference runs the whole model over a sequence longer than
// one prefill chunk and compares every position's logits.
func TestLogitsMatchReference(t *testing.T) {
	bothEmbeddings(t, func(t *testing.T, cfg Config) {
		ts := randomTensors(cfg, 5)
		m := randomModelFrom(t, cfg, ts)
		ids := testIDs(prefillChunk + 7)
		got, err := m.Logits(ids)
		if err != nil {
			t.Fatal(err)
		}
		want := refLogits(ts, cfg, ids)
		if len(got) != len(ids) {
			t.Fatalf("got %d rows of logits for %d tokens", len(got), len(ids))
		}
		for p := range got {
			if diff := maxAbsDiff(got[p], want[p]); diff > 1e-4 {
				t.Fatalf("position %d: logits differ from the reference by %g", p, diff)
			}
		}
	})
}

// TestKVCacheIncremental feeds a sequence one token at a time and checks
// each step's logits against a single pass over the whole sequence.
func TestKVCacheIncremental(t *testing.T) {
	bothEmbeddings(t, func(t *testing.T, cfg Config) {
		m := randomModel(t, cfg, 11)
		ids := testIDs(40)
		all, err := m.Logits(ids)
		if err != nil {
			t.Fatal(err)
		}
		s := m.newSession(len(ids))
		defer m.release(s)
		// A prompt of 5, then single tokens, as generation does.
		last := s.feed(ids[:5], nil)
		if diff := maxAbsDiff(last, all[4]); diff > 1e-5 {
			t.Fatalf("prefill: last logits differ by %g", diff)
		}
		for p := 5; p < len(ids); p++ {
			last = s.feed(ids[p:p+1], nil)
			if diff := maxAbsDiff(last, all[p]); diff > 1e-5 {
				t.Fatalf("position %d: incremental logits differ by %g", p, diff)
			}
		}
	})
}

func TestLogitsRejectsBadInput(t *testing.T) {
	m := randomModel(t, smallConfig, 1)
	if _, err := m.Logits([]int{TokBOS, VocabSize}); err == nil {
		t.Fatal("an id outside the vocabulary was accepted")
	}
	if _, err := m.Logits([]int{-1}); err == nil {
		t.Fatal("a negative id was accepted")
	}
	if _, err := m.Logits(make([]int, smallConfig.MaxSeq+1)); err == nil {
		t.Fatal("a sequence longer than max_seq was accepted")
	}
	got, err := m.Logits(nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty input: got %v, %v", got, err)
	}
}

// TestSessionReuse checks that a pooled session carries nothing over (the
// KV cache, and the previous token of the first position).
func TestSessionReuse(t *testing.T) {
	bothEmbeddings(t, func(t *testing.T, cfg Config) {
		m := randomModel(t, cfg, 2)
		a, _ := m.Logits(testIDs(20))
		_, _ = m.Logits(testIDs(50))
		b, _ := m.Logits(testIDs(20))
		for p := range a {
			if diff := maxAbsDiff(a[p], b[p]); diff != 0 {
				t.Fatalf("position %d: logits changed after session reuse by %g", p, diff)
			}
		}
	})
}

// TestPrefixReuseIsExact generates over a prompt, then over longer prompts
// that begin like it (the next turn of a conversation, one that diverges
// inside it, one that needs a bigger cache) and checks each completion, its
// log-probabilities included, against a model that has never seen a
// prompt: reusing a cached prefix changes nothing, bit for bit.
func TestPrefixReuseIsExact(t *testing.T) {
	bothEmbeddings(t, func(t *testing.T, cfg Config) {
		ts := randomTensors(cfg, 21)
		warm := randomModelFrom(t, cfg, ts)
		ctx := context.Background()
		opts := []llms.CallOption{llms.WithTemperature(0.9), llms.WithSeed(5), llms.WithMaxTokens(8)}
		first := testIDs(30)
		c, err := warm.Generate(ctx, first, opts...)
		if err != nil {
			t.Fatal(err)
		}
		next := append(append(slices.Clone(first), c.Tokens...), testIDs(12)...)
		diverged := slices.Clone(next)
		diverged[17] = (diverged[17] + 1) % 256
		long := append(slices.Clone(next), testIDs(40)...)
		for _, tc := range []struct {
			name   string
			prompt []int
			reused int // prompt tokens the warm model need not compute
		}{
			{"next turn", next, len(first) + len(c.Tokens) - 1},
			{"needs a bigger cache", long, len(next)},
			{"same prompt again", long, len(long) - 1},
			{"diverges inside the cached prefix", diverged, 17},
		} {
			if done := reusable(warm, tc.prompt); done != tc.reused {
				t.Errorf("%s: %d prompt tokens reusable, want %d", tc.name, done, tc.reused)
			}
			got, err := warm.Generate(ctx, tc.prompt, opts...)
			if err != nil {
				t.Fatal(err)
			}
			fresh := randomModelFrom(t, cfg, ts)
			want, err := fresh.Generate(ctx, tc.prompt, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Tokens, want.Tokens) || !slices.Equal(got.LogProbs, want.LogProbs) {
				t.Fatalf("%s: with the cached prefix %v %v, fresh %v %v", tc.name, got.Tokens, got.LogProbs, want.Tokens, want.LogProbs)
			}
		}
	})
}

// reusable is how many of prompt's tokens acquire would take from the
// model's cached sessions, without taking any.
func reusable(m *Model, prompt []int) int {
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	n := 0
	for _, s := range m.cached {
		n = max(n, commonPrefix(s.toks, prompt))
	}
	return min(n, len(prompt)-1)
}

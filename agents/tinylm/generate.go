package tinylm

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"unicode/utf8"

	"github.com/tmc/langchaingo/llms"
)

var _ llms.Model = (*Model)(nil)

// Stop reasons, as the OpenAI API names them.
const (
	StopReasonStop      = "stop"       // <|end|>, <|eos|> or a stop word
	StopReasonLength    = "length"     // max tokens or the context length reached
	StopReasonToolCalls = "tool_calls" // stopped after asking for tool calls
)

// Completion is the raw result of one generation.
type Completion struct {
	// Tokens are the sampled ids, including the <|end|> or <|eos|> that
	// ended the generation, if any. Other special tokens the model may
	// sample stay in Tokens and are dropped from Text.
	Tokens []int
	// LogProbs[i] is the log-probability of Tokens[i] under the logits
	// divided by the sampling temperature (1 when sampling greedily).
	LogProbs []float32
	// Text is the decoded completion, cut before the first stop word.
	Text string
	// StopReason is StopReasonStop or StopReasonLength.
	StopReason string
	// PromptTokens is the length of the prompt.
	PromptTokens int
}

// Generate continues the token sequence prompt. It honours these call
// options: temperature (0 picks the most likely token), top-p, top-k, max
// tokens (0: until the context is full), stop words, seed (a fixed non-zero
// seed makes sampling repeatable; 0 draws a random one) and a streaming
// function, which receives the text as it is produced, holding back
// anything that could still turn into a stop word. It stops early with the
// context's error when ctx ends.
func (m *Model) Generate(ctx context.Context, prompt []int, options ...llms.CallOption) (*Completion, error) {
	var opts llms.CallOptions
	for _, o := range options {
		o(&opts)
	}
	return m.generate(ctx, prompt, &opts, nil)
}

// generate is Generate with parsed options; holdMarkers are strings whose
// appearance stops the streaming of text (the tool call markup).
func (m *Model) generate(ctx context.Context, prompt []int, opts *llms.CallOptions, holdMarkers []string) (*Completion, error) {
	if len(prompt) == 0 {
		return nil, invalidf("empty prompt")
	}
	if len(prompt) > m.cfg.MaxSeq {
		return nil, invalidf("prompt of %d tokens exceeds the model's context of %d", len(prompt), m.cfg.MaxSeq)
	}
	if err := m.checkIDs(prompt); err != nil {
		return nil, err
	}
	if opts.Temperature < 0 || math.IsNaN(opts.Temperature) || math.IsInf(opts.Temperature, 0) {
		return nil, invalidf("temperature %v must be a finite number ≥ 0", opts.Temperature)
	}
	if opts.TopP < 0 || opts.TopP > 1 || math.IsNaN(opts.TopP) {
		return nil, invalidf("top_p %v must be in [0, 1]", opts.TopP)
	}
	if opts.MaxTokens < 0 || opts.TopK < 0 {
		return nil, invalidf("max tokens %d and top-k %d must not be negative", opts.MaxTokens, opts.TopK)
	}
	// The prompt and the completion share the context of max_seq positions.
	budget := m.cfg.MaxSeq - len(prompt)
	if opts.MaxTokens > 0 {
		budget = min(budget, opts.MaxTokens)
	}
	c := &Completion{PromptTokens: len(prompt), StopReason: StopReasonLength}
	if budget == 0 {
		return c, nil
	}
	s, done := m.acquire(prompt, len(prompt)+budget)
	defer m.release(s)

	for rest := prompt[done:]; len(rest) > 0; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(len(rest), prefillChunk)
		s.chunk(rest[:n], n == len(rest), nil)
		rest = rest[n:]
	}

	sp := newSampler(m.cfg.VocabSize, opts)
	stops := make([][]byte, 0, len(opts.StopWords))
	for _, w := range opts.StopWords {
		if w != "" {
			stops = append(stops, []byte(w))
		}
	}
	st := streamer{fn: opts.StreamingFunc, stops: stops}
	for _, mk := range holdMarkers {
		st.markers = append(st.markers, []byte(mk))
	}

	var text []byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, lp := sp.sample(s.logits)
		c.Tokens = append(c.Tokens, id)
		c.LogProbs = append(c.LogProbs, lp)
		if id == TokEnd || id == TokEOS {
			c.StopReason = StopReasonStop
			break
		}
		if id < 256 {
			text = append(text, byte(id))
			if cut, ok := stopAt(text, stops); ok {
				text = text[:cut]
				c.StopReason = StopReasonStop
				break
			}
			if err := st.push(ctx, text); err != nil {
				return nil, err
			}
		}
		if len(c.Tokens) == budget {
			break
		}
		s.chunk(c.Tokens[len(c.Tokens)-1:], true, nil)
	}
	if err := st.flush(ctx, text); err != nil {
		return nil, err
	}
	c.Text = validUTF8(text)
	return c, nil
}

// stopAt reports where to cut text when it ends with a stop word. Text
// grows one byte at a time, so a stop word first shows up as a suffix.
func stopAt(text []byte, stops [][]byte) (int, bool) {
	for _, w := range stops {
		if bytes.HasSuffix(text, w) {
			return len(text) - len(w), true
		}
	}
	return 0, false
}

// streamer hands text to a streaming function as it is produced. It holds
// back a tail that could be the start of a stop word or of a marker, and an
// unfinished UTF-8 sequence; once a marker appears, nothing more is sent.
type streamer struct {
	fn      func(context.Context, []byte) error
	stops   [][]byte
	markers [][]byte
	sent    int
	frozen  bool
}

func (st *streamer) push(ctx context.Context, text []byte) error {
	if st.fn == nil || st.frozen {
		return nil
	}
	for _, mk := range st.markers {
		if i := bytes.Index(text[st.sent:], mk); i >= 0 {
			st.frozen = true
			return st.send(ctx, text[:st.sent+i])
		}
	}
	end := len(text) - max(partialSuffix(text, st.stops), partialSuffix(text, st.markers))
	// Do not split a UTF-8 sequence that may still be completed.
	for k := 1; k <= 3 && end-k >= st.sent; k++ {
		if utf8.RuneStart(text[end-k]) {
			if !utf8.FullRune(text[end-k : end]) {
				end -= k
			}
			break
		}
	}
	return st.send(ctx, text[:end])
}

// flush sends whatever is left once generation is over.
func (st *streamer) flush(ctx context.Context, text []byte) error {
	if st.fn == nil || st.frozen {
		return nil
	}
	for _, mk := range st.markers {
		if i := bytes.Index(text[st.sent:], mk); i >= 0 {
			return st.send(ctx, text[:st.sent+i])
		}
	}
	return st.send(ctx, text)
}

func (st *streamer) send(ctx context.Context, upto []byte) error {
	if len(upto) <= st.sent {
		return nil
	}
	chunk := []byte(validUTF8(upto[st.sent:]))
	st.sent = len(upto)
	if err := st.fn(ctx, chunk); err != nil {
		return fmt.Errorf("tinylm: streaming function: %w", err)
	}
	return nil
}

// partialSuffix returns the length of the longest suffix of text that is a
// proper prefix of one of words.
func partialSuffix(text []byte, words [][]byte) int {
	best := 0
	for _, w := range words {
		for k := min(len(w)-1, len(text)); k > best; k-- {
			if bytes.Equal(text[len(text)-k:], w[:k]) {
				best = k
				break
			}
		}
	}
	return best
}

// sampler picks the next token from logits.
type sampler struct {
	temp, topP float64
	topK       int
	rng        *rand.Rand
	probs      []float64
	idx        []int
}

func newSampler(vocab int, opts *llms.CallOptions) *sampler {
	seed := uint64(opts.Seed)
	if opts.Seed == 0 {
		seed = rand.Uint64()
	}
	return &sampler{
		temp:  opts.Temperature,
		topP:  opts.TopP,
		topK:  opts.TopK,
		rng:   rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		probs: make([]float64, vocab),
		idx:   make([]int, vocab),
	}
}

// sample returns the next token and its log-probability under the
// temperature-scaled distribution (before top-k/top-p truncation).
func (sp *sampler) sample(logits []float32) (int, float32) {
	temp := sp.temp
	if temp == 0 {
		temp = 1
	}
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = max(mx, float64(v)/temp)
	}
	var sum float64
	for i, v := range logits {
		e := math.Exp(float64(v)/temp - mx)
		sp.probs[i] = e
		sum += e
	}
	logZ := mx + math.Log(sum)
	logProb := func(id int) float32 { return float32(float64(logits[id])/temp - logZ) }
	if sp.temp == 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return best, logProb(best)
	}
	for i := range sp.probs {
		sp.probs[i] /= sum
	}
	cands := sp.idx[:len(sp.probs)]
	for i := range cands {
		cands[i] = i
	}
	if sp.topK > 0 || (sp.topP > 0 && sp.topP < 1) {
		slices.SortFunc(cands, func(a, b int) int {
			switch pa, pb := sp.probs[a], sp.probs[b]; {
			case pa > pb:
				return -1
			case pa < pb:
				return 1
			}
			return a - b
		})
		if sp.topK > 0 && sp.topK < len(cands) {
			cands = cands[:sp.topK]
		}
		if sp.topP > 0 && sp.topP < 1 {
			var cum float64
			for i, id := range cands {
				cum += sp.probs[id]
				if cum >= sp.topP {
					cands = cands[:i+1]
					break
				}
			}
		}
	}
	var total float64
	for _, id := range cands {
		total += sp.probs[id]
	}
	r := sp.rng.Float64() * total
	for _, id := range cands {
		r -= sp.probs[id]
		if r < 0 {
			return id, logProb(id)
		}
	}
	last := cands[len(cands)-1]
	return last, logProb(last)
}

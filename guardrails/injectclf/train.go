package injectclf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Sample is one labelled text for training or evaluation.
type Sample struct {
	Text string `json:"text"`
	// Label is 1 for an attack, 0 for benign text.
	Label  int    `json:"label"`
	Source string `json:"source"`
	Family string `json:"family"`
	Lang   string `json:"lang"`
}

// TrainOptions set the model's shape and the optimizer. Zero fields take
// the defaults noted.
type TrainOptions struct {
	Bits      uint32  // log2 of the weight table (18: 256 KiB of int8)
	Window    int     // window length in bytes of normalized text, a multiple of Stride (96)
	Stride    int     // bytes between windows (Window/4)
	Grams     []int   // byte n-gram lengths, 1 to 8 ({4})
	Words     int     // 0: no word features, 1: words, 2: words and word pairs (2); -1 means 0
	Epochs    int     // passes over the data (6)
	Rate      float64 // AdaGrad learning rate (0.2)
	L2        float64 // L2 penalty on the weights a step touches (1e-5)
	NegWeight float64 // extra weight of benign samples, against false positives (3)
	Seed      uint64  // shuffling seed of the first run (17)
	// Runs is the number of models trained, with seeds Seed, Seed+1, …,
	// whose weights are averaged (5). Averaging lowers the variance that
	// the order of the samples leaves in one run.
	Runs int
	// Progress, if set, is called after each epoch with the mean loss.
	Progress func(epoch int, loss float64)
}

func (o *TrainOptions) defaults() {
	if o.Bits == 0 {
		o.Bits = 18
	}
	if o.Window == 0 {
		o.Window = 96
	}
	if o.Stride == 0 {
		o.Stride = max(1, o.Window/4)
	}
	if len(o.Grams) == 0 {
		o.Grams = []int{4}
	}
	switch o.Words {
	case 0:
		o.Words = 2
	case -1:
		o.Words = 0
	}
	if o.Epochs == 0 {
		o.Epochs = 6
	}
	if o.Rate == 0 {
		o.Rate = 0.2
	}
	if o.L2 == 0 {
		o.L2 = 1e-5
	}
	if o.NegWeight == 0 {
		o.NegWeight = 3
	}
	if o.Seed == 0 {
		o.Seed = 17
	}
	if o.Runs <= 0 {
		o.Runs = 5
	}
}

// encoded is a sample as feature indexes grouped by block.
type encoded struct {
	idx []uint32
	// blocks[k] is where block k's features start in idx; one more entry
	// marks the end.
	blocks []int32
	label  float64
	w      float64
}

func encode(s Sample, f features, bits uint32, stride int) encoded {
	b, _ := normalize(nil, s.Text, nil, nil)
	n := len(b)
	nb := (n + stride - 1) / stride
	e := encoded{label: float64(s.Label), blocks: make([]int32, nb+1)}
	counts := make([]int32, nb)
	f.walk(b[:n+pad], n, stride, bits, func(blk int, idx uint32) {
		e.idx = append(e.idx, idx)
		counts[blk]++
	})
	// walk emits in block order.
	for k, c := range counts {
		e.blocks[k+1] = e.blocks[k] + c
	}
	return e
}

// windows returns the feature ranges [a,b) of e's windows of per blocks.
func (e *encoded) windows(per int) [][2]int {
	var out [][2]int
	eachWindow(len(e.blocks)-1, per, func(lo, hi int) {
		if a, b := int(e.blocks[lo]), int(e.blocks[hi]); b > a {
			out = append(out, [2]int{a, b})
		}
	})
	return out
}

// Train fits a model on samples: logistic regression on the most suspicious
// window of each sample (max pooling, as Score reads a page), AdaGrad,
// samples shuffled by a seeded generator, one goroutine: the same data and
// options give the same model. The weights are then quantized to int8.
func Train(ctx context.Context, samples []Sample, opt TrainOptions) (*Model, error) {
	opt.defaults()
	if len(samples) == 0 {
		return nil, errors.New("injectclf: no training samples")
	}
	var pos, neg float64
	for _, s := range samples {
		switch s.Label {
		case 1:
			pos++
		case 0:
			neg++
		default:
			return nil, fmt.Errorf("injectclf: sample label %d: want 0 or 1", s.Label)
		}
	}
	if pos == 0 || neg == 0 {
		return nil, errors.New("injectclf: training needs both attacks and benign samples")
	}
	if opt.Window%opt.Stride != 0 {
		return nil, fmt.Errorf("injectclf: window %d is not a multiple of stride %d", opt.Window, opt.Stride)
	}
	feat := features{words: uint32(opt.Words)}
	for _, k := range opt.Grams {
		if k < 1 || k > 8 {
			return nil, fmt.Errorf("injectclf: n-gram length %d: want 1 to 8", k)
		}
		feat.grams |= 1 << k
	}
	data := make([]encoded, len(samples))
	for i, s := range samples {
		data[i] = encode(s, feat, opt.Bits, opt.Stride)
		if s.Label == 1 {
			data[i].w = (pos + neg) / (2 * pos)
		} else {
			data[i].w = opt.NegWeight * (pos + neg) / (2 * neg)
		}
	}
	avg := make([]float64, 1<<opt.Bits)
	var avgBias float64
	for run := 0; run < opt.Runs; run++ {
		wts, bias, err := fit(ctx, data, opt, opt.Seed+uint64(run))
		if err != nil {
			return nil, err
		}
		for i, w := range wts {
			avg[i] += w / float64(opt.Runs)
		}
		avgBias += bias / float64(opt.Runs)
	}
	return quantize(avg, avgBias, feat, opt), nil
}

// fit runs one training: the weights and bias after opt.Epochs passes over
// data in an order shuffled by seed.
func fit(ctx context.Context, data []encoded, opt TrainOptions, seed uint64) ([]float64, float64, error) {
	wts := make([]float64, 1<<opt.Bits)
	g2 := make([]float64, 1<<opt.Bits)
	var bias, biasG2 float64
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	order := make([]int, len(data))
	for i := range order {
		order[i] = i
	}
	for epoch := 1; epoch <= opt.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("injectclf: training stopped at epoch %d: %w", epoch, err)
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var loss float64
		for _, k := range order {
			e := &data[k]
			ws := e.windows(opt.Window / opt.Stride)
			if len(ws) == 0 {
				continue
			}
			bestZ, best := math.Inf(-1), ws[0]
			for _, r := range ws {
				var s float64
				for _, ix := range e.idx[r[0]:r[1]] {
					s += wts[ix]
				}
				if z := bias + s/math.Sqrt(float64(r[1]-r[0])); z > bestZ {
					bestZ, best = z, r
				}
			}
			p := 1 / (1 + math.Exp(-bestZ))
			loss -= e.w * (e.label*math.Log(max(p, 1e-12)) + (1-e.label)*math.Log(max(1-p, 1e-12)))
			g := e.w * (p - e.label)
			norm := 1 / math.Sqrt(float64(best[1]-best[0]))
			for _, ix := range e.idx[best[0]:best[1]] {
				gi := g*norm + opt.L2*wts[ix]
				g2[ix] += gi * gi
				wts[ix] -= opt.Rate * gi / (math.Sqrt(g2[ix]) + 1e-8)
			}
			biasG2 += g * g
			bias -= opt.Rate * g / (math.Sqrt(biasG2) + 1e-8)
		}
		if opt.Progress != nil {
			opt.Progress(epoch, loss/float64(len(data)))
		}
	}
	return wts, bias, nil
}

// quantize maps the weights to int8 with one scale, set by the 99.99th
// percentile of their magnitudes (the few larger ones are clipped).
func quantize(wts []float64, bias float64, feat features, opt TrainOptions) *Model {
	var mags []float64
	for _, w := range wts {
		if w != 0 {
			mags = append(mags, math.Abs(w))
		}
	}
	scale := 1.0 / 127
	if len(mags) > 0 {
		slices.Sort(mags)
		if top := mags[min(len(mags)-1, int(float64(len(mags))*0.9999))]; top > 0 {
			scale = top / 127
		}
	}
	m := &Model{bits: opt.Bits, feat: feat, window: opt.Window, stride: opt.Stride, scale: float32(scale), bias: float32(bias),
		weights: make([]int8, len(wts))}
	for i, w := range wts {
		m.weights[i] = int8(max(-127, min(127, math.Round(w/scale))))
	}
	return m
}

// WithBias returns a copy of m whose bias is shifted by delta (moves the
// operating point: a negative delta trades recall for fewer false positives).
func (m *Model) WithBias(delta float64) *Model {
	c := &Model{bits: m.bits, feat: m.feat, window: m.window, stride: m.stride, scale: m.scale, bias: m.bias + float32(delta),
		weights: m.weights, MaxBytes: m.MaxBytes}
	return c
}

// Calibrate returns the bias shift that puts score 0.5 just above the
// benign samples of val except a target fraction (the most suspicious
// ones), within [-4, 4]. Attacks in val are not used.
func Calibrate(m *Model, val []Sample, target float64) float64 {
	var zs []float64
	for _, s := range val {
		if s.Label == 0 {
			p := min(max(m.Score(s.Text), 1e-9), 1-1e-9)
			zs = append(zs, math.Log(p/(1-p)))
		}
	}
	if len(zs) == 0 {
		return 0
	}
	slices.Sort(zs)
	k := min(len(zs)-1, int(math.Floor(float64(len(zs))*(1-target))))
	return max(-4, min(4, -zs[k]-1e-3))
}

// Package tinytest writes tiny-model directories for tests: random weights
// of any shape, or "scripted" weights whose greedy reply to a prompt of a
// known length is a chosen token sequence. The files are real safetensors
// models, loaded by the real loader; only the weights are made up.
package tinytest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Vocab is the tokenizer's vocabulary size.
const Vocab = 264

// Shape is a model configuration, as in config.json.
type Shape struct {
	VocabSize int `json:"vocab_size"`
	DModel    int `json:"d_model"`
	NLayer    int `json:"n_layer"`
	NHead     int `json:"n_head"`
	MaxSeq    int `json:"max_seq"`
	// PrevTokens mirrors tinylm.Config.PrevTokens.
	PrevTokens int `json:"prev_tokens,omitempty"`
}

// Tensor is a named test tensor: its shape and float32 data.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Encode writes tensors in the safetensors format, in name order, with meta
// as the __metadata__ when it is non-nil.
func Encode(tensors map[string]Tensor, meta map[string]string) ([]byte, error) {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	if meta != nil {
		header["__metadata__"] = meta
	}
	var data []byte
	for _, n := range names {
		t := tensors[n]
		start := len(data)
		for _, v := range t.Data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		header[n] = map[string]any{"dtype": "F32", "shape": t.Shape, "data_offsets": []int{start, len(data)}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		return nil, fmt.Errorf("tinytest: header: %w", err)
	}
	for len(h)%8 != 0 { // the reference writer pads the header with spaces
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(out, h...)
	return append(out, data...), nil
}

// Write writes a model directory: model.safetensors (with the config in its
// metadata) and, when withConfigFile, config.json.
func Write(dir string, shape Shape, tensors map[string]Tensor, withConfigFile bool) error {
	cj, err := json.Marshal(shape)
	if err != nil {
		return err
	}
	file, err := Encode(tensors, map[string]string{"config": string(cj)})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), file, 0o644); err != nil {
		return err
	}
	if withConfigFile {
		return os.WriteFile(filepath.Join(dir, "config.json"), cj, 0o644)
	}
	return nil
}

// Random returns weights of the right shapes drawn from a seeded generator:
// N(0, σ²) matrices and biases, LayerNorm gains around 1.
func Random(shape Shape, seed uint64) map[string]Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	d := shape.DModel
	mk := func(scale, offset float64, dims ...int) Tensor {
		n := 1
		for _, s := range dims {
			n *= s
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(offset + scale*r.NormFloat64())
		}
		return Tensor{Shape: dims, Data: data}
	}
	ts := map[string]Tensor{
		"tok_emb.weight": mk(0.5, 0, shape.VocabSize, d),
		"pos_emb.weight": mk(0.2, 0, shape.MaxSeq, d),
		"ln_f.weight":    mk(0.1, 1, d),
		"ln_f.bias":      mk(0.1, 0, d),
	}
	for k := 1; k <= shape.PrevTokens; k++ {
		name := "prev_emb.weight"
		if k > 1 {
			name = fmt.Sprintf("prev_emb%d.weight", k)
		}
		ts[name] = mk(0.3, 0, shape.VocabSize, d)
	}
	for i := range shape.NLayer {
		p := fmt.Sprintf("blocks.%d.", i)
		ts[p+"ln1.weight"] = mk(0.1, 1, d)
		ts[p+"ln1.bias"] = mk(0.1, 0, d)
		ts[p+"attn.qkv.weight"] = mk(0.3, 0, 3*d, d)
		ts[p+"attn.qkv.bias"] = mk(0.1, 0, 3*d)
		ts[p+"attn.proj.weight"] = mk(0.2, 0, d, d)
		ts[p+"attn.proj.bias"] = mk(0.1, 0, d)
		ts[p+"ln2.weight"] = mk(0.1, 1, d)
		ts[p+"ln2.bias"] = mk(0.1, 0, d)
		ts[p+"mlp.fc.weight"] = mk(0.2, 0, 4*d, d)
		ts[p+"mlp.fc.bias"] = mk(0.1, 0, 4*d)
		ts[p+"mlp.proj.weight"] = mk(0.1, 0, d, 4*d)
		ts[p+"mlp.proj.bias"] = mk(0.1, 0, d)
	}
	return ts
}

// Scripted builds weights whose greedy continuation of any prompt of
// promptLen tokens is script; see Turns.
func Scripted(shape Shape, promptLen int, script []int) map[string]Tensor {
	return Turns(shape, map[int][]int{promptLen: script})
}

// Turns builds weights whose greedy continuation of a prompt of n tokens is
// turns[n], for every n in turns (scripts must not overlap in position).
// The blocks add nothing (zero output projections), every token embedding
// is a zero-mean unit-length direction, and the position embedding at
// n-1+k is a large multiple of the embedding of turns[n][k], so after ln_f
// (gain 1, bias 0) the logits peak at that token whatever the input is.
func Turns(shape Shape, turns map[int][]int) map[string]Tensor {
	ts := Random(shape, 99)
	d := shape.DModel
	r := rand.New(rand.NewPCG(7, 7))
	emb := ts["tok_emb.weight"].Data
	for v := range shape.VocabSize {
		row := emb[v*d : (v+1)*d]
		var mean, norm float64
		for i := range row {
			row[i] = float32(r.NormFloat64())
			mean += float64(row[i])
		}
		mean /= float64(d)
		for i := range row {
			row[i] -= float32(mean)
			norm += float64(row[i]) * float64(row[i])
		}
		for i := range row {
			row[i] /= float32(math.Sqrt(norm))
		}
	}
	pos := ts["pos_emb.weight"].Data
	clear(pos)
	for promptLen, script := range turns {
		for k, id := range script {
			p := promptLen - 1 + k
			if p < 0 || p >= shape.MaxSeq {
				break
			}
			for i := range d {
				pos[p*d+i] = 1000 * emb[id*d+i]
			}
		}
	}
	for name, t := range ts {
		switch {
		case strings.HasSuffix(name, "attn.proj.weight"), strings.HasSuffix(name, "attn.proj.bias"),
			strings.HasSuffix(name, "mlp.proj.weight"), strings.HasSuffix(name, "mlp.proj.bias"), name == "ln_f.bias":
			clear(t.Data)
		case name == "ln_f.weight":
			for i := range t.Data {
				t.Data[i] = 1
			}
		}
	}
	return ts
}

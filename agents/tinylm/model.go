package tinylm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sync"
)

// File names inside a model directory.
const (
	WeightsFile = "model.safetensors"
	ConfigFile  = "config.json"
)

// layer holds one transformer block's weights; linear weights are [out, in]
// row-major, as PyTorch stores them.
type layer struct {
	ln1W, ln1B   []float32
	qkvW, qkvB   []float32
	projW, projB []float32
	ln2W, ln2B   []float32
	fcW, fcB     []float32
	outW, outB   []float32 // mlp.proj
}

// Model is a loaded tiny model. Its weights are immutable after loading and
// it is safe for concurrent use: every generation gets its own KV cache. The
// caches of the last few generations are kept, so that a prompt that
// begins like an earlier one (the next turn of a conversation) computes
// only its new tokens; the logits are the same bit for bit.
type Model struct {
	cfg     Config
	name    string
	tokEmb  []float32   // [vocab, d], also the output projection
	posEmb  []float32   // [max_seq, d]
	prevEmb [][]float32 // per previous token (prev_tokens of them): [vocab, d]
	layers  []layer
	lnfW    []float32
	lnfB    []float32
	// zeroBias lets the tied output projection share linear's kernel.
	zeroBias []float32
	gelu     *geluTable

	// sessions recycles KV caches and scratch buffers between calls;
	// cached holds the most recently finished ones, least recent first,
	// whose keys and values a prompt with the same beginning reuses.
	sessions sync.Pool
	cacheMu  sync.Mutex
	cached   []*session
}

// Option configures a Model at load time.
type Option func(*Model)

// WithName sets the name the model reports (in the OpenAI API's "model"
// field, for example); the default is "tiny".
func WithName(name string) Option {
	return func(m *Model) { m.name = name }
}

// Config returns the model's shape.
func (m *Model) Config() Config { return m.cfg }

// Name returns the model's name.
func (m *Model) Name() string { return m.name }

// Load reads a model from a directory holding model.safetensors and
// config.json (the config may instead live in the safetensors metadata).
func Load(dir string, opts ...Option) (*Model, error) {
	return LoadFS(os.DirFS(dir), ".", opts...)
}

// LoadFS is Load from a file system, such as an embed.FS; dir is a
// slash-separated path inside fsys.
func LoadFS(fsys fs.FS, dir string, opts ...Option) (*Model, error) {
	file, err := fs.ReadFile(fsys, path.Join(dir, WeightsFile))
	if err != nil {
		return nil, fmt.Errorf("tinylm: read weights: %w", err)
	}
	st, err := parseSafetensors(file)
	if err != nil {
		return nil, fmt.Errorf("tinylm: %s: %w", WeightsFile, err)
	}
	var cfg Config
	var haveCfg bool
	if data, err := fs.ReadFile(fsys, path.Join(dir, ConfigFile)); err == nil {
		if cfg, err = parseConfig(data); err != nil {
			return nil, fmt.Errorf("tinylm: %s: %w", ConfigFile, err)
		}
		haveCfg = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tinylm: read config: %w", err)
	}
	if meta, ok := st.metadata["config"]; ok {
		mc, err := parseConfig([]byte(meta))
		if err != nil {
			return nil, fmt.Errorf("tinylm: config in the %s metadata: %w", WeightsFile, err)
		}
		if haveCfg && mc != cfg {
			return nil, fmt.Errorf("tinylm: %s says %+v but the weights' metadata says %+v", ConfigFile, cfg, mc)
		}
		cfg, haveCfg = mc, true
	}
	if !haveCfg {
		return nil, fmt.Errorf("tinylm: %s: %w", dir, errNoConfig)
	}
	m, err := fromSafetensors(cfg, st)
	if err != nil {
		return nil, fmt.Errorf("tinylm: %s: %w", WeightsFile, err)
	}
	for _, o := range opts {
		o(m)
	}
	return m, nil
}

// fromSafetensors copies every tensor the architecture needs out of st,
// checking each shape against cfg. Other tensors (a PPO value head) are
// ignored.
func fromSafetensors(cfg Config, st *safetensors) (*Model, error) {
	d, v := cfg.DModel, cfg.VocabSize
	m := &Model{cfg: cfg, name: "tiny", layers: make([]layer, cfg.NLayer)}
	var firstErr error
	get := func(name string, shape ...int) []float32 {
		if firstErr != nil {
			return nil
		}
		t, err := st.float32s(name, shape...)
		if err != nil {
			firstErr = err
		}
		return t
	}
	m.tokEmb = get("tok_emb.weight", v, d)
	m.posEmb = get("pos_emb.weight", cfg.MaxSeq, d)
	m.prevEmb = make([][]float32, cfg.PrevTokens)
	for k := range m.prevEmb {
		m.prevEmb[k] = get(prevEmbName(k+1), v, d)
	}
	for i := range m.layers {
		p := fmt.Sprintf("blocks.%d.", i)
		l := &m.layers[i]
		l.ln1W, l.ln1B = get(p+"ln1.weight", d), get(p+"ln1.bias", d)
		l.qkvW, l.qkvB = get(p+"attn.qkv.weight", 3*d, d), get(p+"attn.qkv.bias", 3*d)
		l.projW, l.projB = get(p+"attn.proj.weight", d, d), get(p+"attn.proj.bias", d)
		l.ln2W, l.ln2B = get(p+"ln2.weight", d), get(p+"ln2.bias", d)
		l.fcW, l.fcB = get(p+"mlp.fc.weight", 4*d, d), get(p+"mlp.fc.bias", 4*d)
		l.outW, l.outB = get(p+"mlp.proj.weight", d, 4*d), get(p+"mlp.proj.bias", d)
	}
	m.lnfW, m.lnfB = get("ln_f.weight", d), get("ln_f.bias", d)
	m.zeroBias = make([]float32, v)
	m.gelu = newGeluTable()
	if firstErr != nil {
		return nil, firstErr
	}
	return m, nil
}

// ErrNoEmbeddedModel is returned by Default while the binary carries no
// trained weights.
var ErrNoEmbeddedModel = errors.New("tinylm: no embedded model yet; pass a model directory (reagent serve-model --model DIR)")

// Default returns the model embedded in the binary. Embedding trained
// weights only needs embedded.go to provide a non-nil embeddedFS.
func Default(opts ...Option) (*Model, error) {
	if embeddedFS == nil {
		return nil, ErrNoEmbeddedModel
	}
	return LoadFS(embeddedFS, embeddedDir, opts...)
}

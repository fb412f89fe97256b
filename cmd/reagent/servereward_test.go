package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer safe for the server goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var servingRE = regexp.MustCompile(`serving rewards on (http://\S+/)`)

// startRewardServer runs `reagent serve-reward` until the test ends and
// returns its URL.
func startRewardServer(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	c := &cli{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }}
	done := make(chan error, 1)
	go func() { done <- runServeReward(ctx, c, append([]string{"--addr", "127.0.0.1:0"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "serve-reward stops cleanly")
		case <-time.After(15 * time.Second):
			t.Error("serve-reward did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve-reward exited: %v\n%s", err, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve-reward did not start: %s", errb.String())
	return ""
}

func TestServeRewardCommand(t *testing.T) {
	url := startRewardServer(t, "--judge", "heuristic")
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"query":["Q: 6*7? The answer is 42."],"prompts":["Q: 6*7?"],"labels":["42"]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct {
		Rewards   []float64                  `json:"rewards"`
		Scores    []float64                  `json:"scores"`
		ExtraLogs map[string]json.RawMessage `json:"extra_logs"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Len(t, out.Rewards, 1)
	assert.Equal(t, []float64{1}, out.Scores)
	assert.GreaterOrEqual(t, out.Rewards[0], 1.0)
	var critiques []string
	require.NoError(t, json.Unmarshal(out.ExtraLogs["critique"], &critiques))
	require.Len(t, critiques, 1)
	assert.NotEmpty(t, critiques[0], "the heuristic judge's critique")

	bad, err := http.Post(url, "application/json", strings.NewReader(`{"query": "x"}`))
	require.NoError(t, err)
	bad.Body.Close()
	assert.Equal(t, http.StatusBadRequest, bad.StatusCode)

	_, _, err = rlServe("--lambda", "-1")
	assert.Equal(t, 2, exitCode(err))
	_, _, err = rlServe("--rule", "bleu")
	assert.Equal(t, 2, exitCode(err))
}

func rlServe(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	c := &cli{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }}
	err := runServeReward(context.Background(), c, args)
	return out.String(), errb.String(), err
}

// repoRoot finds the module root from this test file's directory.
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// TestVerlShimAgainstTheService runs ppo/verl_reward.py with Debian's
// python3 against the real reward service: verl's compute_score contract.
func TestVerlShimAgainstTheService(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("the verl shim test needs %s: %v", python, err)
	}
	url := startRewardServer(t, "--judge", "heuristic", "--lambda", "0.3")
	script := `
import json, sys
sys.path.insert(0, sys.argv[1])
import verl_reward
good = verl_reward.compute_score("reagent/arith", "The answer is 42.", "42", {"question": "What is 6 * 7?"})
bad = verl_reward.compute_score("reagent/arith", "It is 41.", "42", {"question": "What is 6 * 7?"})
nolabel = verl_reward.compute_score("reagent/arith", "It is 41.", None)
try:
    verl_reward.compute_score("x", "y", "z", url=sys.argv[2] + "nope", retries=0)
    refused = ""
except verl_reward.RewardServiceError as e:
    refused = str(e)
print(json.dumps({"good": good, "bad": bad, "nolabel": nolabel, "refused": refused}))
`
	cmd := exec.Command(python, "-c", script, filepath.Join(repoRoot(t), "ppo"), url)
	cmd.Env = append(os.Environ(), "REAGENT_REWARD_URL="+url)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	var res struct {
		Good, Bad, NoLabel struct {
			Score      float64 `json:"score"`
			RuleReward float64 `json:"rule_reward"`
			RRMScore   float64 `json:"rrm_score"`
		}
		Refused string
	}
	require.NoError(t, json.Unmarshal(out, &res), string(out))
	assert.Equal(t, 1.0, res.Good.RuleReward)
	assert.InDelta(t, 1+0.3*res.Good.RRMScore, res.Good.Score, 1e-9)
	assert.Equal(t, 0.0, res.Bad.RuleReward)
	assert.InDelta(t, 0.3*res.Bad.RRMScore, res.Bad.Score, 1e-9)
	assert.Equal(t, res.NoLabel.RRMScore, res.NoLabel.Score, "no ground truth: the RRM score")
	assert.Contains(t, res.Refused, "answered 404")
}

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var servingRE = regexp.MustCompile(`serving rewards on (http://\S+/)`)

// startRewardServer runs `reagent serve-reward` until the test ends and
// returns its URL.
func startRewardServer(t *testing.T, args ...string) string {
	t.Helper()
	url, _ := serveCLI(t, "serve-reward", runServeReward, nil, servingRE, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	return url
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

	// The judge is wrapped for metrics; /health still names it.
	hr, err := http.Get(strings.TrimSuffix(url, "/") + "/health")
	require.NoError(t, err)
	var health struct{ Judge string }
	require.NoError(t, json.NewDecoder(hr.Body).Decode(&health))
	hr.Body.Close()
	assert.Equal(t, "heuristic", health.Judge)

	bad, err := http.Post(url, "application/json", strings.NewReader(`{"query": "x"}`))
	require.NoError(t, err)
	bad.Body.Close()
	assert.Equal(t, http.StatusBadRequest, bad.StatusCode)

	_, _, err = runCLI(runServeReward, nil, "--lambda", "-1")
	assert.Equal(t, 2, exitCode(err))
	_, _, err = runCLI(runServeReward, nil, "--rule", "bleu")
	assert.Equal(t, 2, exitCode(err))
}

// repoRoot finds the module root from this test file's directory.
func repoRoot() string {
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
	cmd := exec.Command(python, "-c", script, filepath.Join(repoRoot(), "ppo"), url)
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

func TestServeRewardExposesMetrics(t *testing.T) {
	base := startRewardServer(t)
	resp, err := http.Post(base+"/", "application/json", strings.NewReader(`{"query":["What is 2+2? 4"],"prompts":["What is 2+2?"],"labels":["4"]}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	text := string(body)
	assert.Contains(t, text, `reagent_http_requests_total{code="200",method="post"} 1`)
	assert.Contains(t, text, `reagent_judge_latency_seconds_count{judge="heuristic",service="serve-reward"} 1`)
}

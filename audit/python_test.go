package audit_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

// pythonJCS returns a Python interpreter and environment in which `import
// rfc8785` works: REAGENT_TEST_PYTHON (default python3), with
// REAGENT_JCS_PYTHONPATH added to PYTHONPATH (scripts/test.sh installs
// rfc8785==0.1.4 there).
func pythonJCS(t *testing.T) (string, []string) {
	t.Helper()
	py := os.Getenv("REAGENT_TEST_PYTHON")
	if py == "" {
		py = "python3"
	}
	env := os.Environ()
	if p := os.Getenv("REAGENT_JCS_PYTHONPATH"); p != "" {
		env = append(env, "PYTHONPATH="+p)
	}
	cmd := exec.Command(py, "-c", "import rfc8785")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("REAGENT_SKIP_PYTHON_JCS") == "1" {
			t.Skip("REAGENT_SKIP_PYTHON_JCS=1: the Python RFC 8785 check is skipped on request")
		}
		t.Fatalf("Python with the rfc8785 package is needed (%s: %v: %s). Install it with "+
			"`python3 -m pip install --target DIR rfc8785==0.1.4` and set REAGENT_JCS_PYTHONPATH=DIR "+
			"(scripts/test.sh does), or set REAGENT_SKIP_PYTHON_JCS=1 to skip this test explicitly.", py, err, out)
	}
	return py, env
}

// TestPythonVerifiesChain runs the README's Python recipe
// (docs/verify_chain.py, with the rfc8785 package from PyPI) against a
// chain written by Go: trajectories with keys outside the BMP, numbers of
// every shape, assessments and a prune checkpoint. It must agree with
// Verify, and name the record when one is edited.
func TestPythonVerifiesChain(t *testing.T) {
	py, env := pythonJCS(t)
	script, err := filepath.Abs(filepath.Join("..", "docs", "verify_chain.py"))
	require.NoError(t, err)
	e := newSQLiteEnv(t)
	now := baseTime
	s := e.open(t, audit.WithClock(func() time.Time { now = now.Add(time.Minute); return now }))
	for i := range 6 {
		r := sampleRun(i, 3)
		r.Metadata["\U0001F600"] = "grinning face"
		r.Metadata["\uFB33"] = "dalet"
		r.Metadata["\U00010000"] = "linear b"
		r.Tools[0].Parameters = []byte(`{"big":295147905179352830000,"small":1e-7,"f":333333333.33333329,"neg":-0,"n":[1E30,4.50]}`)
		require.NoError(t, s.Append(ctx, r))
		require.NoError(t, s.AppendAssessment(ctx, r.ID, assessment("j", 0.25*float64(i%4))))
	}
	require.NoError(t, s.Flush(ctx))
	_, err = s.Prune(ctx, baseTime.Add(5*time.Minute))
	require.NoError(t, err)
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.String())
	require.Positive(t, rep.PrunedThrough)

	run := func() (string, error) {
		cmd := exec.Command(py, script, e.dsn)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run()
	require.NoError(t, err, out)
	assert.Contains(t, out, "intact:")
	assert.Contains(t, out, rep.Head, "Python finds the same head")
	t.Log(strings.TrimSpace(out))

	var seq int64
	require.NoError(t, e.raw.QueryRow(`SELECT MAX(seq) FROM audit_records WHERE kind = 'trajectory'`).Scan(&seq))
	e.exec(t, `UPDATE audit_records SET payload = replace(payload, 'grinning', 'grinnin_') WHERE seq = ?`, seq)
	out, err = run()
	require.Error(t, err, out)
	assert.Contains(t, out, fmt.Sprintf("broken: seq %d (run run-00005): entry hash mismatch", seq))
	t.Log(strings.TrimSpace(out))
}

// TestPythonOnLegacyChain: on a chain that starts with legacy records the
// recipe follows their links and checks the RFC 8785 records after them.
func TestPythonOnLegacyChain(t *testing.T) {
	py, env := pythonJCS(t)
	script, err := filepath.Abs(filepath.Join("..", "docs", "verify_chain.py"))
	require.NoError(t, err)
	path := copyLegacyDB(t)
	s, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	require.NoError(t, s.Append(ctx, sampleRun(1, 2)))
	require.NoError(t, s.AppendAssessment(ctx, "legacy-1", trajectory.Assessment{Judge: "j", Status: trajectory.AssessmentOK, Score: 1, CreatedAt: baseTime}))
	require.NoError(t, s.Close())
	cmd := exec.Command(py, script, path)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "intact: 2 records checked with RFC 8785, 4 legacy records linked")
}

// TestPythonAgreesOnVectors runs the RFC's own examples through Python's
// rfc8785, the independent implementation the recipe relies on.
func TestPythonAgreesOnVectors(t *testing.T) {
	py, env := pythonJCS(t)
	code := `
import json, struct, sys, rfc8785
d = sys.argv[1]
for name in ("values", "sorting"):
    got = rfc8785.dumps(json.load(open(f"{d}/{name}-input.json", encoding="utf-8")))
    want = open(f"{d}/{name}-output.json", "rb").read()
    assert got == want, (name, got, want)
n = 0
for line in open(f"{d}/numbers.txt"):
    if line.startswith("#") or not line.strip():
        continue
    bits, want = line.split()
    f = struct.unpack(">d", bytes.fromhex(bits))[0]
    if want == "error":
        try:
            rfc8785.dumps(f)
        except rfc8785.FloatDomainError:
            n += 1
            continue
        raise AssertionError(bits)
    assert rfc8785.dumps(f).decode() == want, (bits, rfc8785.dumps(f), want)
    n += 1
print("vectors", n)
`
	dir, err := filepath.Abs(filepath.Join("testdata", "rfc8785"))
	require.NoError(t, err)
	cmd := exec.Command(py, "-c", code, dir)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "vectors 26\n", string(out))
}

// TestReadmePythonRecipe runs the Python snippet of the README's audit
// section, as printed there, against a chain written by Go.
func TestReadmePythonRecipe(t *testing.T) {
	py, env := pythonJCS(t)
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "**Verifying a chain in Python**")
	require.True(t, ok, "the README's audit section shows the Python recipe")
	_, rest, ok = strings.Cut(rest, "```python\n")
	require.True(t, ok)
	code, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)

	e := newSQLiteEnv(t)
	s := e.open(t)
	for i := range 4 {
		r := sampleRun(i, 2)
		r.Metadata["\U0001F600"] = "emoji key"
		require.NoError(t, s.Append(ctx, r))
		require.NoError(t, s.AppendAssessment(ctx, r.ID, assessment("j", 0.5)))
	}
	require.NoError(t, s.Flush(ctx))
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK)
	script := filepath.Join(t.TempDir(), "recipe.py")
	require.NoError(t, os.WriteFile(script, []byte(strings.ReplaceAll(code, "reagent.db", e.dsn)), 0o600))
	cmd := exec.Command(py, script)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "intact, head "+rep.Head+"\n", string(out))

	e.exec(t, `UPDATE audit_records SET payload = replace(payload, 'emoji key', 'emoji kez') WHERE seq = 3`)
	cmd = exec.Command(py, script)
	cmd.Env = env
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "AssertionError: seq 3: edited")
}

package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExportProductionRuns exports what a new user has: the runs reagent
// demo recorded (judged by the heuristic RRM, with no reward computed) as
// ART groups, verl rows, OpenRLHF lines and SFT of the best runs. Each
// export says how many runs went in and why the others did not.
func TestExportProductionRuns(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	_, stderr, err := runCLI(runDemo, nil, "--db", db, "--per-suite", "2", "--suites", "arith,lookup")
	require.NoError(t, err, stderr)

	runsIn := regexp.MustCompile(`: (\d+) runs -> (\d+) records`)
	for _, tc := range []struct {
		format string
		args   []string
		want   string
	}{
		{"art", []string{"--group-by", "task"}, "rewarded by their RRM score alone"},
		{"verl", nil, "rewarded by their RRM score alone"},
		{"openrlhf", nil, "rewarded by their RRM score alone"},
		{"sft", []string{"--min-reward", "0.5"}, "rewarded by their RRM score alone"},
	} {
		out := filepath.Join(dir, "out."+tc.format)
		stdout, stderr, err := runCLI(runExport, nil, append([]string{"--db", db, "--format", tc.format, "--out", out}, tc.args...)...)
		require.NoError(t, err, "%s: %s %s", tc.format, stdout, stderr)
		t.Logf("%s", stdout)
		m := runsIn.FindStringSubmatch(stdout)
		require.NotNil(t, m, stdout)
		runs, _ := strconv.Atoi(m[1])
		records, _ := strconv.Atoi(m[2])
		assert.Positive(t, runs)
		assert.Positive(t, records, "%s: production runs become training data", tc.format)
		assert.Contains(t, stdout, tc.want)
	}

	// Turning the RRM rewards off gives the old answer, with its reason.
	_, _, err = runCLI(runExport, nil, "--db", db, "--format", "art", "--out", filepath.Join(dir, "x"), "--no-rrm-reward")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothing to write")
}

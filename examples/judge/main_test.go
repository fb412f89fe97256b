package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/rrm"
)

// TestJudgeExampleRunsOffline runs the example as its help says (`go run
// ./examples/judge`, no endpoint): the heuristic judge catches the ignored
// search error and the made-up figure, and its critique names both.
func TestJudgeExampleRunsOffline(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, runExample(context.Background(), &out, func(string) string { return "" }))
	s := out.String()
	t.Log(s)
	assert.Contains(t, s, "judge:    heuristic "+rrm.HeuristicVersion)
	// Both flaws flag the run: 1 − 0.35 (ignored error) − 0.35 (made-up figure).
	assert.Contains(t, s, "score:    0.30")
	assert.Contains(t, s, `search(Lagos population) failed with "upstream timeout"`)
	assert.Contains(t, s, "Your answer states 21,300,000")
}

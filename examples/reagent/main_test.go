package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/internal/policytest"
)

// TestExampleRuns runs the example against a scripted policy endpoint that
// guesses first and uses the calculator once it has been critiqued.
func TestExampleRuns(t *testing.T) {
	policy := llmtest.NewFunc(t, policytest.Arith("12"))
	var out bytes.Buffer
	err := runExample(context.Background(), []string{"--base-url", policy.URL, "--model", "scripted", "--dir", t.TempDir(), "--tasks", "2"}, &out)
	require.NoError(t, err)
	s := out.String()
	t.Log(s)
	assert.Contains(t, s, "critique: ")
	assert.Contains(t, s, "success@1")
	assert.Contains(t, s, "advantage")
	assert.Contains(t, s, "verl: ")
}

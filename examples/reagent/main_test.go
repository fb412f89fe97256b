package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/internal/policytest"
	"github.com/reagent-go/reagent/internal/tinytest"
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

// TestExampleRunsWithTheEmbeddedPolicy runs the example as its help text
// says: against the tiny model of `reagent serve-model` (served here in
// process, on loopback).
func TestExampleRunsWithTheEmbeddedPolicy(t *testing.T) {
	var out bytes.Buffer
	err := runExample(context.Background(), []string{"--base-url", tinytest.Serve(t), "--model", "tiny", "--dir", t.TempDir(), "--tasks", "2"}, &out)
	require.NoError(t, err)
	s := out.String()
	t.Log(s)
	assert.Contains(t, s, "o1: ")
	assert.Contains(t, s, "Reagent-C reports o")
	assert.Contains(t, s, "success@1")
	assert.Contains(t, s, "verl: ")
	assert.NotContains(t, s, "exceeds the model's context")
}

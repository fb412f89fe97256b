package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/middleware"
)

// TestExampleRuns runs the example against a scripted policy endpoint that
// guesses first and uses the calculator once it has been critiqued.
func TestExampleRuns(t *testing.T) {
	policy := llmtest.NewFunc(t, func(req llmtest.Request) llmtest.Reply {
		last := req.Messages[len(req.Messages)-1]
		if last.Role == "tool" {
			return llmtest.Reply{Content: last.Content}
		}
		for _, m := range req.Messages {
			if m.Role == "system" && strings.HasPrefix(m.Content, middleware.CritiquePrefix) {
				expr := strings.TrimSuffix(strings.TrimPrefix(last.Content, "What is "), "?")
				return llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "c1", Name: "calculator", Arguments: `{"expression":"` + expr + `"}`}}}
			}
		}
		return llmtest.Reply{Content: "12"}
	})
	var out bytes.Buffer
	err := run(context.Background(), []string{"--base-url", policy.URL, "--model", "scripted", "--dir", t.TempDir(), "--tasks", "2"}, &out)
	require.NoError(t, err)
	s := out.String()
	t.Log(s)
	assert.Contains(t, s, "critique: ")
	assert.Contains(t, s, "success@1")
	assert.Contains(t, s, "advantage")
	assert.Contains(t, s, "verl: ")
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/internal/tinytest"
	"github.com/reagent-go/reagent/tools/browser"
)

// The model is scripted, reacting to what the real browser returned; the
// browser, the site and the agent are real.
func TestBrowserExampleFindsThePrice(t *testing.T) {
	if _, err := browser.LookPath(); err != nil {
		if os.Getenv("REAGENT_SKIP_BROWSER") == "1" {
			t.Skipf("REAGENT_SKIP_BROWSER=1: %v", err)
		}
		t.Fatalf("%v\nthis example needs Chromium: apt-get install -y chromium (or set REAGENT_SKIP_BROWSER=1 to skip it)", err)
	}
	siteURL := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	price := regexp.MustCompile(`Price: (\$[0-9.]+)`)
	call := func(id, args string) llmtest.Reply {
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: id, Name: "browser", Arguments: args}}}
	}
	srv := llmtest.NewFunc(t, func(r llmtest.Request) llmtest.Reply {
		last := r.Messages[len(r.Messages)-1]
		switch {
		case last.Role == "user":
			u := siteURL.FindString(last.Content)
			args, _ := json.Marshal(map[string]string{"action": "open", "url": u + "/products"})
			return call("c1", string(args))
		case last.ToolCallID == "c1":
			return call("c2", `{"action":"click","text":"Widget Pro"}`)
		case last.ToolCallID == "c2":
			if m := price.FindStringSubmatch(last.Content); m != nil {
				return llmtest.Reply{Content: "The Widget Pro costs " + m[1] + "."}
			}
			return llmtest.Reply{Content: "I could not find the price."}
		}
		return llmtest.Reply{Content: "unexpected conversation"}
	})
	env := map[string]string{"OPENAI_BASE_URL": srv.URL, "OPENAI_API_KEY": "test", "REAGENT_MODEL": "test-model"}
	var out bytes.Buffer
	require.NoError(t, runExample(context.Background(), &out, func(k string) string { return env[k] }, nil))
	t.Log(out.String())
	assert.Contains(t, out.String(), "answer: The Widget Pro costs $42.50.")
	assert.Contains(t, out.String(), `browser {"action":"click","text":"Widget Pro"}`)
	assert.NotContains(t, out.String(), "$1.", "hidden text never reached the model")
	// The tool schema went to the model.
	require.NotEmpty(t, srv.Requests())
	assert.Contains(t, string(srv.Requests()[0].Tools), `"enum":["open","read","links","click","type","back","screenshot"]`)
}

func TestBrowserExampleSaysWhatToSet(t *testing.T) {
	var out bytes.Buffer
	err := runExample(context.Background(), &out, func(string) string { return "" }, nil)
	require.Error(t, err)
	for _, v := range []string{"OPENAI_BASE_URL", "OPENAI_API_KEY", "REAGENT_MODEL"} {
		assert.Contains(t, err.Error(), v)
	}
}

// TestBrowserExampleRunsWithTheEmbeddedPolicy follows the help: with the
// embedded policy (served here in process, as `reagent serve-model` serves
// it) and a real Chromium the example runs end to end offline, and the
// judge says what the answer is worth.
func TestBrowserExampleRunsWithTheEmbeddedPolicy(t *testing.T) {
	if _, err := browser.LookPath(); err != nil {
		if os.Getenv("REAGENT_SKIP_BROWSER") == "1" {
			t.Skipf("REAGENT_SKIP_BROWSER=1: %v", err)
		}
		t.Fatalf("%v\nthis example needs Chromium: apt-get install -y chromium (or set REAGENT_SKIP_BROWSER=1 to skip it)", err)
	}
	help := runExample(context.Background(), &bytes.Buffer{}, func(string) string { return "" }, nil)
	require.Error(t, help)
	assert.Contains(t, help.Error(), "REAGENT_MODEL=tiny")
	env := map[string]string{"OPENAI_BASE_URL": tinytest.Serve(t), "OPENAI_API_KEY": "any", "REAGENT_MODEL": "tiny"}
	var out bytes.Buffer
	require.NoError(t, runExample(context.Background(), &out, func(k string) string { return env[k] }, nil))
	s := out.String()
	t.Log(s)
	assert.Contains(t, s, "RRM score ")
	assert.NotContains(t, s, "exceeds the model's context")
}

package suite

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/reagent-go/reagent/run"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/tools/calculator"
	"github.com/reagent-go/reagent/trajectory"
)

// requireChromium fails when Chromium is missing, unless the run opted out
// with REAGENT_SKIP_BROWSER=1.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return
	}
	if _, err := exec.LookPath("chromium"); err == nil {
		return
	}
	if os.Getenv("REAGENT_SKIP_BROWSER") == "1" {
		t.Skip("REAGENT_SKIP_BROWSER=1: skipping a test that needs Chromium")
	}
	t.Fatal("the web suite tests need Chromium (apt-get install -y chromium); set REAGENT_SKIP_BROWSER=1 to skip them")
}

func checkChat(t *testing.T, c trajectory.Chat) {
	t.Helper()
	require.Len(t, c.Trainable, len(c.Messages))
	for i, m := range c.Messages {
		assert.Equal(t, m.Role == "assistant", c.Trainable[i], "message %d (%s)", i, m.Role)
		if m.Role == "tool" {
			prev := c.Messages[i-1]
			require.Len(t, prev.ToolCalls, 1)
			assert.Equal(t, prev.ToolCalls[0].ID, m.ToolCallID)
			assert.Equal(t, prev.ToolCalls[0].Name, m.Name)
		}
	}
}

// TestArithDemonstration checks the demonstrations of arith and of its
// reworded form arith2 (same solutions, same critique).
func TestArithDemonstration(t *testing.T) {
	ctx := context.Background()
	tasks, err := Generate(Arith, Train, WithCount(20))
	require.NoError(t, err)
	reworded, err := Generate(Arith2, Train, WithCount(10))
	require.NoError(t, err)
	tasks = append(tasks, reworded...)
	env, err := StartEnv(ctx, tasks)
	require.NoError(t, err)
	defer env.Close()
	for _, tk := range tasks {
		d, err := env.Demonstrate(ctx, tk)
		require.NoError(t, err)
		checkChat(t, d.Ideal)
		checkChat(t, d.Flawed)
		checkChat(t, d.Refined)
		m := d.Ideal.Messages
		require.Len(t, m, 5)
		assert.Equal(t, ArithPrompt, m[0].Content)
		assert.Equal(t, tk.Question, m[1].Content)
		assert.Equal(t, string(tk.Solution.Calls[0].Arguments), m[2].ToolCalls[0].Arguments)
		assert.Equal(t, tk.Answer, m[3].Content, "the calculator's real answer")
		assert.Equal(t, tk.Answer, m[4].Content)
		// The flawed attempt answers without the tool; the refined one sees
		// its answer and the critique before the question.
		require.Len(t, d.Flawed.Messages, 3)
		assert.Equal(t, tk.Solution.Flawed.Answer, d.Flawed.Messages[2].Content)
		assert.Equal(t, "system", d.Refined.Messages[1].Role)
		assert.Equal(t, run.CritiquePrefix+d.Feedback, d.Refined.Messages[1].Content)
		assert.Contains(t, d.Feedback, tk.Solution.Flawed.Answer)
		assert.Contains(t, d.Feedback, d.Critique)
		assert.Contains(t, d.Feedback, arithCritique)
		assert.Equal(t, d.Ideal.Messages[2:], d.Refined.Messages[3:])
		// Short enough for the tiny model's 1024-byte context.
		assert.Less(t, chatBytes(d.Refined), 900, tk.Question)
	}
}

func chatBytes(c trajectory.Chat) int {
	n := 0
	for _, m := range c.Messages {
		n += len(m.Content) + 2
		for _, tc := range m.ToolCalls {
			n += len(tc.Name) + len(tc.Arguments) + 40
		}
	}
	return n
}

func TestLookupEnvAndDemonstrations(t *testing.T) {
	ctx := context.Background()
	tasks, err := Generate(Lookup, Test)
	require.NoError(t, err)
	env, err := StartEnv(ctx, tasks)
	require.NoError(t, err)
	defer env.Close()
	require.NotEmpty(t, env.LookupURL())
	ts, err := env.Tools(tasks[0])
	require.NoError(t, err)
	require.Len(t, ts, 4)

	long := 0
	for _, tk := range tasks {
		d, err := env.Demonstrate(ctx, tk)
		require.NoError(t, err, tk.Question)
		checkChat(t, d.Ideal)
		checkChat(t, d.Refined)
		last := d.Ideal.Messages[len(d.Ideal.Messages)-2]
		assert.Equal(t, "tool", last.Role)
		assert.True(t, strings.HasPrefix(last.Content, "HTTP 200"), last.Content)
		assert.Contains(t, last.Content, tk.Answer, tk.Question)
		assert.Len(t, d.Flawed.Messages, 3+2*tk.Solution.Flawed.Calls)
		if n := chatBytes(d.Refined); n > long {
			long = n
		}
	}
	assert.Less(t, long, 1024, "the longest refined lookup demonstration fits the tiny model")

	// The tools reach only the suite's server.
	person, _ := env.Tool(PersonTool)
	out, err := person.Call(ctx, `{"id":"nobody"}`)
	require.NoError(t, err)
	assert.Contains(t, out, "404")
	search, _ := env.Tool(SearchTool)
	out, err = search.Call(ctx, `{"q":"Berg"}`)
	require.NoError(t, err)
	assert.Contains(t, out, "HTTP 200")
}

func TestStartEnvErrors(t *testing.T) {
	ctx := context.Background()
	_, err := StartEnv(ctx, []Task{{ID: "x", Question: "q", Answer: "a", Suite: "mine", Tools: []string{"weather", "calculator"}}})
	assert.ErrorContains(t, err, "unknown tools weather")

	// A user's tool by name.
	env, err := StartEnv(ctx, []Task{{ID: "x", Question: "q", Answer: "a", Suite: "mine", Tools: []string{"calculator"}}},
		WithTools(calculator.New()), WithSystemPrompt("mine", "Be brief."))
	require.NoError(t, err)
	defer env.Close()
	assert.Equal(t, "Be brief.", env.SystemPrompt(Task{Suite: "mine"}))
	assert.Equal(t, DefaultPrompt, env.SystemPrompt(Task{Suite: "other"}))
	_, err = env.Tools(Task{ID: "y", Tools: []string{"get_person"}})
	assert.ErrorContains(t, err, `tool "get_person" was not started`)
	_, err = env.Demonstrate(ctx, Task{ID: "z"})
	assert.ErrorIs(t, err, ErrNoSolution)
}

func TestWebEnvWithChromium(t *testing.T) {
	requireChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tasks, err := Generate(Web, Test, WithSeed(3))
	require.NoError(t, err)
	env, err := StartEnv(ctx, tasks)
	require.NoError(t, err)
	defer env.Close()
	require.True(t, strings.HasPrefix(env.SiteURL(), "http://127.0.0.1:"))
	assert.Contains(t, env.SystemPrompt(tasks[0]), env.SiteURL()+"/")
	assert.NotContains(t, env.SystemPrompt(tasks[0]), SiteVar)

	// Pick a multi-hop task and a one-hop one.
	var picked []Task
	for _, tk := range tasks {
		if len(tk.Solution.Calls) == 3 && len(picked) == 0 || len(tk.Solution.Calls) == 2 && len(picked) == 1 {
			picked = append(picked, tk)
		}
	}
	require.Len(t, picked, 2)
	for _, tk := range picked {
		d, err := env.Demonstrate(ctx, tk)
		require.NoError(t, err, tk.Question)
		checkChat(t, d.Ideal)
		m := d.Ideal.Messages
		var open struct{ URL string }
		require.NoError(t, json.Unmarshal([]byte(m[2].ToolCalls[0].Arguments), &open))
		assert.Equal(t, env.SiteURL()+"/", open.URL)
		assert.Contains(t, m[3].Content, "Title: "+SiteTitle)
		assert.NotContains(t, m[3].Content, "[Text cut")
		last := m[len(m)-2].Content
		assert.Contains(t, last, tk.Answer, "the last page the real browser read states the answer")
		if len(tk.Solution.Calls) <= 2 {
			assert.Less(t, chatBytes(d.Ideal), 1024, "one-hop web demonstrations fit the tiny model: %s", tk.Question)
		}
		t.Logf("%d calls: ideal %d bytes, refined %d bytes", len(tk.Solution.Calls), chatBytes(d.Ideal), chatBytes(d.Refined))
	}

	// The browser may not leave the site's port.
	b, _ := env.Tool(BrowserTool)
	out, err := b.Call(trajectory.ContextWithRunID(ctx, "escape"), `{"action":"open","url":"http://127.0.0.1:1/"}`)
	require.NoError(t, err)
	assert.Contains(t, out, "blocked")
}

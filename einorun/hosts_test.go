package einorun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/einorun"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/reagent/export"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// reactModel is an in-process langchaingo model that plays the same
// script as the eino one: call add, then answer.
type reactModel struct{}

func (reactModel) GenerateContent(_ context.Context, msgs []llms.MessageContent, _ ...llms.CallOption) (*llms.ContentResponse, error) {
	prompt := msgs[len(msgs)-1].Parts[0].(llms.TextContent).Text
	text := "Thought: I will use add.\nAction: add\nAction Input: {\"a\":2,\"b\":3}"
	info := map[string]any{"PromptTokens": 20, "CompletionTokens": 5, "TotalTokens": 25}
	if strings.Contains(prompt, "Observation: 5") {
		text = "Thought: I know it now.\nFinal Answer: 2 + 3 = 5"
		info = map[string]any{"PromptTokens": 30, "CompletionTokens": 2, "TotalTokens": 32}
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: text, GenerationInfo: info}}}, nil
}

func (m reactModel) Call(ctx context.Context, p string, o ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, p, o...)
}

// lcAdd is the add tool for langchaingo: the same JSON arguments.
type lcAdd struct{}

func (lcAdd) Name() string        { return "add" }
func (lcAdd) Description() string { return "adds two integers" }
func (lcAdd) Call(_ context.Context, in string) (string, error) {
	var a addArgs
	if err := json.Unmarshal([]byte(strings.TrimSpace(in)), &a); err != nil {
		return "", err
	}
	return strconv.Itoa(a.A + a.B), nil
}

// populated lists which parts of a trajectory are filled in: the shape the
// judges, the exports, the UI and the audit trail rely on.
func populated(t *trajectory.Trajectory) map[string]bool {
	p := map[string]bool{
		"id": t.ID != "", "task": t.Task != "", "agent": t.Agent != "", "tools": len(t.Tools) > 0,
		"status-finished": t.Status == trajectory.StatusFinished, "final-answer": t.FinalAnswer != "",
		"started": !t.StartedAt.IsZero(), "ended": !t.EndedAt.IsZero(), "usage": t.Usage.TotalTokens > 0,
		"two-steps": len(t.Steps) == 2, "assessed": len(t.Assessments) > 0,
	}
	if len(t.Steps) > 0 {
		s := t.Steps[0]
		p["thought"] = s.Thought != ""
		p["model-call"] = len(s.LLMCalls) == 1 && s.LLMCalls[0].Completion != ""
		p["prompt-captured"] = len(s.LLMCalls) > 0 && len(s.LLMCalls[0].Messages) > 0
		p["tool-call"] = len(s.Calls) == 1 && s.Calls[0].Tool == "add" && s.Calls[0].Input != ""
		p["observation"] = len(s.Calls) == 1 && s.Calls[0].Observation == "5"
		p["call-timed"] = len(s.Calls) == 1 && !s.Calls[0].StartedAt.IsZero()
	}
	return p
}

// One task through langchaingo and eino: the two trajectories have the
// same parts filled in, the heuristic judge scores them alike, every export
// format treats them alike, and both are stored in one audit chain that
// verifies.
func TestLangchaingoAndEinoTrajectoriesAreAlike(t *testing.T) {
	ctx := context.Background()
	store, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	defer store.Close()
	judge := rrm.NewHeuristic()
	opts := []run.Option{run.WithStore(store), run.WithJudge(judge), run.WithSyncJudge(true)}
	const task = "What is 2 + 3?"

	// langchaingo
	exec := middleware.Wrap(agents.NewExecutor(agents.NewOneShotAgent(reactModel{}, []tools.Tool{lcAdd{}})), opts...)
	hl := run.NewHandle(run.WithRunID("via-langchaingo"))
	answer, err := chains.Run(run.ContextWithHandle(ctx, hl), exec, task)
	require.NoError(t, err)
	assert.Equal(t, "2 + 3 = 5", answer)

	// eino
	add := addTool(t, nil)
	m := newScripted(callTool("call-1", "add", `{"a":2,"b":3}`), final("2 + 3 = 5"))
	a := einorun.New(run.New(opts...), einorun.WithTools(add))
	res, he := runOnce(t, newAgent(t, a, m, add), false, task, run.WithRunID("via-eino"))
	require.NoError(t, res.err)

	lc, ei := hl.Trajectory(), he.Trajectory()
	assert.Equal(t, populated(lc), populated(ei))
	for k, v := range populated(ei) {
		assert.True(t, v, "eino trajectory: %s", k)
	}
	assert.Equal(t, lc.Task, ei.Task)
	assert.Equal(t, lc.FinalAnswer, ei.FinalAnswer)
	assert.Equal(t, lc.Usage, ei.Usage)

	// The judge: same verdict for the same work.
	jl, je := judge.Judge(ctx, lc), judge.Judge(ctx, ei)
	require.Equal(t, trajectory.AssessmentOK, jl.Status)
	require.Equal(t, trajectory.AssessmentOK, je.Status)
	assert.InDelta(t, jl.Score, je.Score, 1e-9, "langchaingo: %s\neino: %s", jl.Critique, je.Critique)

	// The exports.
	for _, f := range export.Formats() {
		var bl, be bytes.Buffer
		rl, err := export.Write(&bl, f, []*trajectory.Trajectory{lc})
		require.NoError(t, err, f)
		re, err := export.Write(&be, f, []*trajectory.Trajectory{ei})
		require.NoError(t, err, f)
		assert.Equal(t, rl, re, "format %s", f)
		assert.Equal(t, bl.Len() > 0, be.Len() > 0, "format %s", f)
	}
	cl, ce := export.Chat(lc), export.Chat(ei)
	assert.NotEmpty(t, cl.Messages)
	assert.NotEmpty(t, ce.Messages)

	// The audit chain: both stored, both read back, the chain verifies.
	require.NoError(t, exec.Shutdown(ctx))
	require.NoError(t, a.Recorder().Shutdown(ctx))
	for _, id := range []string{"via-langchaingo", "via-eino"} {
		got, err := store.Get(ctx, id)
		require.NoError(t, err, id)
		assert.Equal(t, "2 + 3 = 5", got.FinalAnswer, id)
		assert.Equal(t, "5", got.Steps[0].Calls[0].Observation, id)
		require.Len(t, got.Assessments, 1, id)
	}
	rep, err := store.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, "%+v", rep)
	assert.Equal(t, int64(2), rep.Runs)
}

package middleware_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/tools/calculator"
	"github.com/reagent-go/reagent/trajectory"
)

// twoStepModel asks for the calculator once, then answers with what it saw.
type twoStepModel struct{}

func (twoStepModel) GenerateContent(_ context.Context, msgs []llms.MessageContent, _ ...llms.CallOption) (*llms.ContentResponse, error) {
	prompt := msgs[len(msgs)-1].Parts[0].(llms.TextContent).Text
	text := "Thought: I should compute it.\nAction: calculator\nAction Input: 17*23"
	// The scratchpad after the question holds what the tool answered.
	if _, pad, ok := strings.Cut(prompt, "Question: What is 17*23?"); ok {
		if _, obs, ok := strings.Cut(pad, "Observation: "); ok {
			obs = strings.TrimSpace(strings.SplitN(obs, "\n", 2)[0])
			text = "Thought: I know it now.\nFinal Answer: " + obs
		}
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: text}}}, nil
}

func (m twoStepModel) Call(ctx context.Context, p string, o ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, p, o...)
}

// ExampleWrap wraps a langchaingo executor in one line: every run is
// recorded and judged, and the trajectory comes back through a handle.
func ExampleWrap() {
	agent := agents.NewOneShotAgent(twoStepModel{}, []tools.Tool{calculator.New()})
	exec := middleware.Wrap(agents.NewExecutor(agent),
		run.WithJudge(rrm.NewHeuristic()), run.WithSyncJudge(true))
	defer exec.Shutdown(context.Background())

	h := run.NewHandle()
	answer, err := chains.Run(run.ContextWithHandle(context.Background(), h), exec, "What is 17*23?")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	t := h.Trajectory()
	a, _ := t.LastAssessment()
	fmt.Println("answer:", answer)
	fmt.Println("status:", t.Status, "steps:", len(t.Steps), "tool calls:", len(t.ToolCalls()))
	fmt.Println("judged:", a.Status == trajectory.AssessmentOK)
	// Output:
	// answer: 391
	// status: finished steps: 2 tool calls: 1
	// judged: true
}

package suite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/reagent-go/reagent/run"

	"github.com/reagent-go/reagent/reagent"
	"github.com/reagent-go/reagent/trajectory"
)

// Demonstration is what a task teaches a policy by imitation, as chats in
// the shape reagent's tool-calling agent produces (trainable: the
// assistant's own messages).
type Demonstration struct {
	Task Task `json:"task"`
	// Ideal is the ideal run: system prompt, question, the solution's tool
	// calls with the real tools' observations, and the reference answer.
	Ideal trajectory.Chat `json:"ideal"`
	// Flawed is a typical wrong first attempt.
	Flawed trajectory.Chat `json:"flawed"`
	// Critique is the reviewer's note on the flawed attempt, and Feedback
	// what the second attempt is shown (reagent.Feedback of the flawed
	// answer and the critique).
	Critique string `json:"critique"`
	Feedback string `json:"feedback"`
	// Refined is the corrected second attempt: the ideal run with the
	// feedback injected before the question, exactly where the middleware
	// puts it (Reagent-C data).
	Refined trajectory.Chat `json:"refined"`
}

// ErrNoSolution is returned by Demonstrate for a task without a solution.
var ErrNoSolution = errors.New("suite: the task has no solution to demonstrate")

// Demonstrate builds a task's demonstrations by running its solution's tool
// calls with the env's real tools, so every observation is what the agent
// would see. ctx bounds the tool calls.
func (e *Env) Demonstrate(ctx context.Context, t Task) (*Demonstration, error) {
	if t.Solution == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSolution, t.ID)
	}
	sys := e.SystemPrompt(t)
	head := []trajectory.Message{{Role: "system", Content: sys}, {Role: "user", Content: t.Question}}

	// Each attempt runs in its own "run", as the middleware would: tools
	// that keep per-run state (the browser's tab) start afresh.
	ideal, err := e.play(trajectory.ContextWithRunID(ctx, "demo-ideal-"+t.ID), t, len(t.Solution.Calls))
	if err != nil {
		return nil, err
	}
	d := &Demonstration{Task: t}
	d.Ideal = chatOf(head, ideal, t.Answer)

	f := t.Solution.Flawed
	if f == nil {
		return d, nil
	}
	flawed, err := e.play(trajectory.ContextWithRunID(ctx, "demo-flawed-"+t.ID), t, f.Calls)
	if err != nil {
		return nil, err
	}
	d.Flawed = chatOf(head, flawed, f.Answer)
	d.Critique = f.Critique
	d.Feedback = reagent.Feedback(f.Answer, f.Critique)
	refinedHead := []trajectory.Message{
		{Role: "system", Content: sys},
		{Role: "system", Content: run.CritiquePrefix + d.Feedback},
		{Role: "user", Content: t.Question},
	}
	refined, err := e.play(trajectory.ContextWithRunID(ctx, "demo-refined-"+t.ID), t, len(t.Solution.Calls))
	if err != nil {
		return nil, err
	}
	d.Refined = chatOf(refinedHead, refined, t.Answer)
	return d, nil
}

// played is one solution call with its observation.
type played struct {
	call Call
	args string
	obs  string
}

// play runs the first n solution calls with the real tools.
func (e *Env) play(ctx context.Context, t Task, n int) ([]played, error) {
	var out []played
	for i, c := range t.Solution.Calls[:n] {
		tool, ok := e.tools[c.Tool]
		if !ok {
			return nil, fmt.Errorf("suite: demonstrate %s: tool %q was not started", t.ID, c.Tool)
		}
		args := string(e.Expand(c.Arguments))
		obs, err := tool.Call(ctx, args)
		if err != nil {
			return nil, fmt.Errorf("suite: demonstrate %s: call %d (%s): %w", t.ID, i, c.Tool, err)
		}
		if looksFailed(c.Tool, obs) {
			return nil, fmt.Errorf("suite: demonstrate %s: call %d (%s %s) failed: %s", t.ID, i, c.Tool, args, firstLine(obs))
		}
		out = append(out, played{call: c, args: args, obs: obs})
	}
	return out, nil
}

// looksFailed catches a tool error in an ideal run, which would teach the
// model a broken trace.
func looksFailed(tool, obs string) bool {
	switch {
	case strings.HasPrefix(obs, "calculator error:"), strings.HasPrefix(obs, "browser error:"):
		return true
	case strings.HasPrefix(obs, tool+": "):
		return true
	case strings.HasPrefix(obs, "HTTP ") && !strings.HasPrefix(obs, "HTTP 200"):
		return true
	}
	return false
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// chatOf builds a chat: the head (not trainable), one assistant turn per
// call followed by its tool message, and the final answer.
func chatOf(head []trajectory.Message, calls []played, answer string) trajectory.Chat {
	var c trajectory.Chat
	add := func(m trajectory.Message, trainable bool) {
		c.Messages = append(c.Messages, m)
		c.Trainable = append(c.Trainable, trainable)
	}
	for _, m := range head {
		add(m, false)
	}
	for i, p := range calls {
		id := fmt.Sprintf("call_%d", i+1)
		add(trajectory.Message{Role: "assistant", ToolCalls: []trajectory.ToolCallSpec{{ID: id, Name: p.call.Tool, Arguments: p.args}}}, true)
		add(trajectory.Message{Role: "tool", Name: p.call.Tool, ToolCallID: id, Content: p.obs}, false)
	}
	add(trajectory.Message{Role: "assistant", Content: answer}, true)
	return c
}

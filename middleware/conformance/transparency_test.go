package conformance_test

// The transparency suite: each scenario runs once on the user's executor and
// once on the wrapped one, and everything the user can observe must be the
// same (bareAndWrapped). Then what the wrapper recorded is checked. Models
// are scripted in-process (helpers_test.go); tools are langchaingo's real
// calculator or small functions.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/memory"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/trajectory"
)

// TestCallbacksSameEventsSameOrder: a callbacks.Handler on the executor, on
// the agent's chain and on the tool sees the same events in the same order.
func TestCallbacksSameEventsSameOrder(t *testing.T) {
	type outcome struct {
		Answer string
		Err    string
		Events []string
		Calls  []modelCall
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		rec := &callbackRecorder{}
		model := &scriptedModel{name: "m", script: arithmeticMRKL, callbacks: rec}
		calc := tools.Calculator{CallbacksHandler: rec}
		agent := agents.NewOneShotAgent(model, []tools.Tool{calc}, agents.WithCallbacksHandler(rec))
		exec := agents.NewExecutor(agent, agents.WithCallbacksHandler(rec))
		answer, err := chains.Run(t.Context(), m.chain(exec), "What is 2+3?")
		return outcome{answer, errText(err), rec.list(), model.seen()}
	})
	require.Empty(t, got.Err)
	require.Equal(t, "What is 2+3? is 5", got.Answer)
	// The recorder saw the whole run: two model calls, one tool call.
	kinds := map[string]int{}
	for _, e := range got.Events {
		for _, k := range []string{"chain start", "chain end", "llm generate start", "llm generate end", "stream", "agent action", "tool start", "tool end", "agent finish"} {
			if strings.HasPrefix(e, k+" ") {
				kinds[k]++
			}
		}
	}
	require.Equal(t, map[string]int{
		"chain start": 3, "chain end": 3, // the executor's run and two LLM chain calls
		"llm generate start": 2, "llm generate end": 2, "stream": 2,
		"agent action": 1, "tool start": 1, "tool end": 1, "agent finish": 1,
	}, kinds, "events: %q", got.Events)

	runs := w.stored(t)
	require.Len(t, runs, 1)
	require.Equal(t, trajectory.StatusFinished, runs[0].Status)
	require.Equal(t, "What is 2+3?", runs[0].Task)
	require.Len(t, runs[0].Steps, 2)
}

// TestReturnIntermediateSteps: the intermediate steps come back unchanged.
func TestReturnIntermediateSteps(t *testing.T) {
	type outcome struct {
		Out   map[string]any
		Err   string
		Calls []modelCall
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		model := &scriptedModel{name: "m", script: arithmeticMRKL}
		agent := agents.NewOneShotAgent(model, []tools.Tool{tools.Calculator{}})
		exec := agents.NewExecutor(agent, agents.WithReturnIntermediateSteps())
		out, err := chains.Call(t.Context(), m.chain(exec), map[string]any{"input": "What is 6*7?"})
		return outcome{out, errText(err), model.seen()}
	})
	require.Empty(t, got.Err)
	require.Equal(t, "What is 6*7? is 42", got.Out["output"])
	steps, ok := got.Out["intermediateSteps"].([]schema.AgentStep)
	require.True(t, ok, "intermediateSteps is %T", got.Out["intermediateSteps"])
	require.Len(t, steps, 1)
	require.Equal(t, "calculator", steps[0].Action.Tool)
	require.Equal(t, "6*7", steps[0].Action.ToolInput)
	require.Equal(t, "42", steps[0].Observation)

	runs := w.stored(t)
	require.Len(t, runs, 1)
	require.Equal(t, trajectory.StatusFinished, runs[0].Status)
}

// conversational is a script for langchaingo's ConversationalAgent: sums go
// to the calculator; "What did I ask first?" is answered from the history
// in the prompt, so the answer shows what memory gave the model.
func conversational(prompt string, _ []llms.MessageContent) reply {
	q := question(prompt)
	if strings.HasPrefix(q, "What did I ask first") {
		_, history, _ := strings.Cut(prompt, "Previous conversation history:\n")
		history, _, _ = strings.Cut(history, "\nNew input:")
		first := "nothing"
		for _, line := range strings.Split(history, "\n") {
			if h, ok := strings.CutPrefix(line, "Human: "); ok {
				first = h
				break
			}
		}
		return reply{text: "Thought: Do I need to use a tool? No\nAI: You first asked: " + first}
	}
	obs := observations(prompt)
	if len(obs) == 0 {
		expr := sumRE.FindString(q)
		return reply{text: "Thought: Do I need to use a tool? Yes\nAction: calculator\nAction Input: " + expr}
	}
	return reply{text: "Thought: Do I need to use a tool? No\nAI: It is " + obs[len(obs)-1]}
}

// TestMemoryAfterSeveralTurns: a conversation buffer (with the output key
// that ReturnIntermediateSteps needs) holds the same history after three
// turns, and the model sees the same history in every prompt.
func TestMemoryAfterSeveralTurns(t *testing.T) {
	type outcome struct {
		Outputs []map[string]any
		Errs    []string
		History []string
		Calls   []modelCall
	}
	turns := []string{"What is 2+3?", "What is 4*5?", "What did I ask first?"}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		model := &scriptedModel{name: "m", script: conversational}
		buf := memory.NewConversationBuffer(memory.WithOutputKey("output"))
		agent := agents.NewConversationalAgent(model, []tools.Tool{tools.Calculator{}})
		exec := agents.NewExecutor(agent, agents.WithMemory(buf), agents.WithReturnIntermediateSteps())
		chain := m.chain(exec)
		var o outcome
		for _, turn := range turns {
			out, err := chains.Call(t.Context(), chain, map[string]any{"input": turn})
			o.Outputs = append(o.Outputs, out)
			o.Errs = append(o.Errs, errText(err))
		}
		msgs, err := buf.ChatHistory.Messages(t.Context())
		require.NoError(t, err)
		for _, msg := range msgs {
			o.History = append(o.History, fmt.Sprintf("%s: %s", msg.GetType(), msg.GetContent()))
		}
		o.Calls = model.seen()
		return o
	})
	require.Equal(t, []string{"", "", ""}, got.Errs)
	require.Equal(t, []string{
		"human: What is 2+3?", "ai:  It is 5",
		"human: What is 4*5?", "ai:  It is 20",
		"human: What did I ask first?", "ai:  You first asked: What is 2+3?",
	}, got.History)
	require.Len(t, got.Calls, 5)

	runs := w.stored(t)
	require.Equal(t, []trajectory.Status{trajectory.StatusFinished, trajectory.StatusFinished, trajectory.StatusFinished}, statuses(runs))
}

// TestErrNotFinishedAtMaxIterations: an agent that never finishes stops at
// MaxIterations with ErrNotFinished, and the run is stored as such.
func TestErrNotFinishedAtMaxIterations(t *testing.T) {
	type outcome struct {
		Out         map[string]any
		Err         string
		NotFinished bool
		Calls       []modelCall
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		model := &scriptedModel{name: "m", script: loopingMRKL}
		agent := agents.NewOneShotAgent(model, []tools.Tool{tools.Calculator{}})
		exec := agents.NewExecutor(agent, agents.WithMaxIterations(3))
		out, err := chains.Call(t.Context(), m.chain(exec), map[string]any{"input": "Count forever"})
		return outcome{out, errText(err), errors.Is(err, agents.ErrNotFinished), model.seen()}
	})
	require.True(t, got.NotFinished)
	require.Len(t, got.Calls, 3)

	runs := w.stored(t)
	require.Len(t, runs, 1)
	require.Equal(t, trajectory.StatusMaxIterations, runs[0].Status)
	require.Len(t, runs[0].Steps, 3)
}

// confusedOnce is a MRKL script that first answers in no known format, then
// (seeing the parser error handler's observation) finishes.
func confusedOnce(prompt string, _ []llms.MessageContent) reply {
	obs := observations(prompt)
	if len(obs) == 0 {
		return reply{text: "Hmm, I cannot decide."}
	}
	return reply{text: "Thought: I now know the final answer\nFinal Answer: told " + obs[0]}
}

// TestParserErrorHandler: with the executor's parser error handler the
// unparsable answer becomes an observation and the run goes on.
func TestParserErrorHandler(t *testing.T) {
	type outcome struct {
		Answer string
		Err    string
		Calls  []modelCall
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		model := &scriptedModel{name: "m", script: confusedOnce}
		agent := agents.NewOneShotAgent(model, []tools.Tool{tools.Calculator{}})
		handler := agents.NewParserErrorHandler(func(string) string { return "use the format" })
		exec := agents.NewExecutor(agent, agents.WithParserErrorHandler(handler))
		answer, err := chains.Run(t.Context(), m.chain(exec), "Decide")
		return outcome{answer, errText(err), model.seen()}
	})
	require.Empty(t, got.Err)
	require.Equal(t, "told use the format", got.Answer)
	require.Len(t, got.Calls, 2)

	runs := w.stored(t)
	require.Len(t, runs, 1)
	require.Equal(t, trajectory.StatusFinished, runs[0].Status)
	require.Len(t, runs[0].Steps, 2)
	require.NotEmpty(t, runs[0].Steps[0].ParseError, "the first step's parse error is recorded")
}

// TestParseErrorWithoutHandler: without a handler the parse error ends the
// run, reaches the caller, and the run is stored as parse-error.
func TestParseErrorWithoutHandler(t *testing.T) {
	type outcome struct {
		Answer      string
		Err         string
		ParseFailed bool
		Calls       []modelCall
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		model := &scriptedModel{name: "m", script: confusedOnce}
		agent := agents.NewOneShotAgent(model, []tools.Tool{tools.Calculator{}})
		exec := agents.NewExecutor(agent)
		answer, err := chains.Run(t.Context(), m.chain(exec), "Decide")
		return outcome{answer, errText(err), errors.Is(err, agents.ErrUnableToParseOutput), model.seen()}
	})
	require.True(t, got.ParseFailed, "error: %s", got.Err)
	require.Len(t, got.Calls, 1)

	runs := w.stored(t)
	require.Len(t, runs, 1)
	require.Equal(t, trajectory.StatusParseError, runs[0].Status)
}

// TestCancellation: a run whose context is cancelled mid-way (by a tool, so
// no timing is involved) fails at the next model call as bare, and is stored
// as cancelled.
func TestCancellation(t *testing.T) {
	type outcome struct {
		Answer    string
		Err       string
		Cancelled bool
		Tool      []string
		Calls     int
	}
	script := func(prompt string, _ []llms.MessageContent) reply {
		if len(observations(prompt)) == 0 {
			return reply{text: "Thought: stop it.\nAction: stop\nAction Input: now"}
		}
		return reply{text: "Final Answer: not reached"}
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		model := &scriptedModel{name: "m", script: script}
		stop := &fnTool{name: "stop", fn: func(context.Context, string) (string, error) {
			cancel()
			return "stopped", nil
		}}
		exec := agents.NewExecutor(agents.NewOneShotAgent(model, []tools.Tool{stop}))
		answer, err := chains.Run(ctx, m.chain(exec), "Stop yourself")
		return outcome{answer, errText(err), errors.Is(err, context.Canceled), stop.seen(), len(model.seen())}
	})
	require.True(t, got.Cancelled, "error: %s", got.Err)
	require.Equal(t, []string{"now"}, got.Tool)
	require.Equal(t, 2, got.Calls)

	runs := w.stored(t)
	require.Len(t, runs, 1)
	require.Equal(t, trajectory.StatusCancelled, runs[0].Status)
}

// countingAgent is a user's own stateful agent. Its exported LLM field can
// be swapped at any time, and it counts every Plan.
type countingAgent struct {
	LLM   llms.Model
	Tools []tools.Tool

	Plans     int
	StepsSeen []int
	PanicAt   int // Plan number that panics (0: never)
}

// planPanic is the value countingAgent panics with.
type planPanic struct{ Plan int }

func (a *countingAgent) Plan(ctx context.Context, steps []schema.AgentStep, inputs map[string]string, _ ...chains.ChainCallOption) ([]schema.AgentAction, *schema.AgentFinish, error) {
	a.Plans++
	a.StepsSeen = append(a.StepsSeen, len(steps))
	if a.Plans == a.PanicAt {
		panic(planPanic{a.Plans})
	}
	prompt := "Task: " + inputs["input"]
	for _, s := range steps {
		prompt += "\nObservation: " + s.Observation
	}
	out, err := llms.GenerateFromSinglePrompt(ctx, a.LLM, prompt)
	if err != nil {
		return nil, nil, err
	}
	if tool, in, ok := strings.Cut(out, " "); ok && tool == "calculator" {
		return []schema.AgentAction{{Tool: tool, ToolInput: in, Log: out}}, nil, nil
	}
	return nil, &schema.AgentFinish{ReturnValues: map[string]any{"output": out}, Log: out}, nil
}

func (a *countingAgent) GetInputKeys() []string  { return []string{"input"} }
func (a *countingAgent) GetOutputKeys() []string { return []string{"output"} }
func (a *countingAgent) GetTools() []tools.Tool  { return a.Tools }

// countingScript drives countingAgent: a calculator call, then the result.
func countingScript(prompt string, _ []llms.MessageContent) reply {
	_, last, seen := strings.Cut(prompt, "\nObservation: ")
	if !seen {
		return reply{text: "calculator " + sumRE.FindString(prompt)}
	}
	return reply{text: "result " + strings.TrimSpace(last)}
}

// TestStatefulCustomAgent: the user's own agent sees every Plan (its
// counters move), whether the executor is called through chains.Run or
// directly.
func TestStatefulCustomAgent(t *testing.T) {
	type outcome struct {
		Answers   []string
		Errs      []string
		Plans     int
		StepsSeen []int
		Calls     []modelCall
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		model := &scriptedModel{name: "m", script: countingScript}
		agent := &countingAgent{LLM: model, Tools: []tools.Tool{tools.Calculator{}}}
		chain := m.chain(agents.NewExecutor(agent))
		var o outcome
		answer, err := chains.Run(t.Context(), chain, "add 1+2")
		o.Answers = append(o.Answers, answer)
		o.Errs = append(o.Errs, errText(err))
		out, err := chain.Call(t.Context(), map[string]any{"input": "add 3+4"})
		o.Answers = append(o.Answers, fmt.Sprint(out["output"]))
		o.Errs = append(o.Errs, errText(err))
		o.Plans, o.StepsSeen, o.Calls = agent.Plans, agent.StepsSeen, model.seen()
		return o
	})
	require.Equal(t, []string{"result 3", "result 7"}, got.Answers)
	require.Equal(t, []string{"", ""}, got.Errs)
	require.Equal(t, 4, got.Plans)
	require.Equal(t, []int{0, 1, 0, 1}, got.StepsSeen)

	runs := w.stored(t)
	require.Equal(t, []trajectory.Status{trajectory.StatusFinished, trajectory.StatusFinished}, statuses(runs))
	for _, r := range runs {
		require.Len(t, r.Steps, 2, "run %q", r.Task)
	}
}

// TestSwapModelAfterWrap: assigning another model to an OpenAIFunctionsAgent
// after its executor is wrapped takes effect: the old model is never called.
func TestSwapModelAfterWrap(t *testing.T) {
	type outcome struct {
		Answer string
		Err    string
		OldN   int
		New    []modelCall
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		old := &scriptedModel{name: "old", script: callsFunction("old")}
		agent := agents.NewOpenAIFunctionsAgent(old, []tools.Tool{tools.Calculator{}})
		chain := m.chain(agents.NewExecutor(agent))
		swapped := &scriptedModel{name: "new", script: callsFunction("new")}
		agent.LLM = swapped
		answer, err := chains.Run(t.Context(), chain, "What is 6*7?")
		return outcome{answer, errText(err), len(old.seen()), swapped.seen()}
	})
	require.Empty(t, got.Err)
	require.Equal(t, "new: the result is 42", got.Answer)
	require.Zero(t, got.OldN)
	require.Len(t, got.New, 2)
	require.Equal(t, []string{"calculator"}, got.New[0].Tools)

	runs := w.stored(t)
	require.Len(t, runs, 1)
	require.Equal(t, trajectory.StatusFinished, runs[0].Status)
	require.Len(t, runs[0].Steps, 2)
}

// TestApplyOverSeveralInputs: chains.Apply runs the wrapped executor on
// several inputs at once; results come back in order, and each stored run
// holds its own task and answer.
func TestApplyOverSeveralInputs(t *testing.T) {
	type outcome struct {
		Results []map[string]any
		Err     string
		Prompts []string // sorted: Apply's workers interleave
	}
	var inputs []map[string]any
	want := map[string]string{}
	for i := range 6 {
		q := fmt.Sprintf("What is %d+%d?", i, 10*i)
		inputs = append(inputs, map[string]any{"input": q})
		want[q] = fmt.Sprintf("%s is %d", q, 11*i)
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		model := &scriptedModel{name: "m", script: arithmeticMRKL}
		exec := agents.NewExecutor(agents.NewOneShotAgent(model, []tools.Tool{tools.Calculator{}}))
		results, err := chains.Apply(t.Context(), m.chain(exec), inputs, 3)
		var prompts []string
		for _, c := range model.seen() {
			prompts = append(prompts, c.Prompt)
		}
		slices.Sort(prompts)
		return outcome{results, errText(err), prompts}
	})
	require.Empty(t, got.Err)
	require.Len(t, got.Results, len(inputs))
	for i, in := range inputs {
		require.Equal(t, want[in["input"].(string)], got.Results[i]["output"])
	}

	runs := w.stored(t)
	require.Len(t, runs, len(inputs))
	for _, r := range runs {
		require.Equal(t, trajectory.StatusFinished, r.Status)
		require.Equal(t, want[r.Task], r.FinalAnswer, "run %q", r.Task)
		require.Len(t, r.Steps, 2, "run %q", r.Task)
	}
	require.Len(t, w.endedRuns(), len(inputs))
}

// errDisk is the error the failing tool returns.
var errDisk = errors.New("disk on fire")

// TestToolErrorWithAbort: with tool-error abort on, a tool's error reaches
// the caller exactly as bare.
func TestToolErrorWithAbort(t *testing.T) {
	type outcome struct {
		Answer string
		Err    string
		IsDisk bool
		Calls  []modelCall
	}
	script := func(string, []llms.MessageContent) reply {
		return reply{text: "Thought: save it.\nAction: disk\nAction Input: save"}
	}
	got, w := bareAndWrapped(t, wrapOptions{toolErrorAbort: true}, func(t *testing.T, m mode) outcome {
		model := &scriptedModel{name: "m", script: script}
		disk := &fnTool{name: "disk", fn: func(context.Context, string) (string, error) { return "", errDisk }}
		exec := agents.NewExecutor(agents.NewOneShotAgent(model, []tools.Tool{disk}))
		answer, err := chains.Run(t.Context(), m.chain(exec), "Save the file")
		return outcome{answer, errText(err), errors.Is(err, errDisk), model.seen()}
	})
	require.True(t, got.IsDisk, "error: %s", got.Err)
	require.Equal(t, errDisk.Error(), got.Err)

	runs := w.stored(t)
	require.Len(t, runs, 1)
	require.Equal(t, trajectory.StatusError, runs[0].Status)
}

// toolPanic is the value the panicking tool panics with.
type toolPanic struct{ What string }

// TestToolPanicWithAbort: with tool-error abort on, a tool's panic reaches
// the caller exactly as bare, and the run is stored with status panic.
func TestToolPanicWithAbort(t *testing.T) {
	type outcome struct {
		Panic any
		Tool  []string
		Calls []modelCall
	}
	script := func(string, []llms.MessageContent) reply {
		return reply{text: "Thought: try it.\nAction: boom\nAction Input: now"}
	}
	got, w := bareAndWrapped(t, wrapOptions{toolErrorAbort: true}, func(t *testing.T, m mode) outcome {
		model := &scriptedModel{name: "m", script: script}
		boom := &fnTool{name: "boom", fn: func(context.Context, string) (string, error) { panic(toolPanic{"boom"}) }}
		chain := m.chain(agents.NewExecutor(agents.NewOneShotAgent(model, []tools.Tool{boom})))
		p := catch(func() { _, _ = chains.Run(t.Context(), chain, "Blow up") })
		return outcome{p, boom.seen(), model.seen()}
	})
	require.Equal(t, toolPanic{"boom"}, got.Panic)
	require.Equal(t, []string{"now"}, got.Tool)

	runs := w.stored(t)
	require.Len(t, runs, 1)
	require.Equal(t, trajectory.StatusPanic, runs[0].Status)
	require.Len(t, w.endedRuns(), 1)
}

// TestPlanPanic: a panicking Plan reaches the caller as bare; the run ends
// once, with status panic, and the next run on the same executor is a run of
// its own.
func TestPlanPanic(t *testing.T) {
	type outcome struct {
		Panic     any
		StepsSeen []int
		Answer    string
		Err       string
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		model := &scriptedModel{name: "m", script: countingScript}
		agent := &countingAgent{LLM: model, Tools: []tools.Tool{tools.Calculator{}}, PanicAt: 2}
		chain := m.chain(agents.NewExecutor(agent))
		p := catch(func() { _, _ = chains.Run(t.Context(), chain, "add 1+2") })
		answer, err := chains.Run(t.Context(), chain, "add 5+5")
		return outcome{p, agent.StepsSeen, answer, errText(err)}
	})
	require.Equal(t, planPanic{2}, got.Panic)
	require.Equal(t, []int{0, 1, 0, 1}, got.StepsSeen)
	require.Equal(t, "result 10", got.Answer)
	require.Empty(t, got.Err)

	runs := w.stored(t)
	require.Len(t, w.endedRuns(), 2, "each run ends exactly once")
	require.Len(t, runs, 2)
	require.Equal(t, "add 1+2", runs[0].Task)
	require.Equal(t, trajectory.StatusPanic, runs[0].Status)
	require.Equal(t, "add 5+5", runs[1].Task)
	require.Equal(t, trajectory.StatusFinished, runs[1].Status)
	require.Len(t, runs[1].Steps, 2, "the run after the panic holds only its own steps")
}

// TestExecutorsKeepTheirOwnLimits: two executors wrapped with the same
// options but different MaxIterations each stop at their own limit, run
// after run and at the same time.
func TestExecutorsKeepTheirOwnLimits(t *testing.T) {
	type outcome struct {
		Errs   []string
		CallsA int
		CallsB int
	}
	got, w := bareAndWrapped(t, wrapOptions{}, func(t *testing.T, m mode) outcome {
		modelA := &scriptedModel{name: "a", script: loopingMRKL}
		modelB := &scriptedModel{name: "b", script: loopingMRKL}
		a := m.chain(agents.NewExecutor(agents.NewOneShotAgent(modelA, []tools.Tool{tools.Calculator{}}), agents.WithMaxIterations(2)))
		b := m.chain(agents.NewExecutor(agents.NewOneShotAgent(modelB, []tools.Tool{tools.Calculator{}}), agents.WithMaxIterations(4)))
		var o outcome
		for _, c := range []struct {
			chain chains.Chain
			task  string
		}{{a, "A first"}, {b, "B first"}, {a, "A second"}} {
			_, err := chains.Run(t.Context(), c.chain, c.task)
			o.Errs = append(o.Errs, errText(err))
		}
		// Both at once.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, c := range []chains.Chain{a, b} {
			wg.Go(func() { _, errs[i] = chains.Run(t.Context(), c, fmt.Sprintf("%c together", 'A'+i)) })
		}
		wg.Wait()
		o.Errs = append(o.Errs, errText(errs[0]), errText(errs[1]))
		o.CallsA, o.CallsB = len(modelA.seen()), len(modelB.seen())
		return o
	})
	for _, e := range got.Errs {
		require.Equal(t, agents.ErrNotFinished.Error(), e)
	}
	require.Equal(t, 3*2, got.CallsA)
	require.Equal(t, 2*4, got.CallsB)

	runs := w.stored(t)
	require.Len(t, runs, 5)
	for _, r := range runs {
		require.Equal(t, trajectory.StatusMaxIterations, r.Status, "run %q", r.Task)
		limit := 2
		if strings.HasPrefix(r.Task, "B") {
			limit = 4
		}
		require.Len(t, r.Steps, limit, "run %q", r.Task)
	}
}

package conformance_test

// Shared parts of the transparency suite: in-process scripted models (no
// network), tools, a recording callbacks.Handler, and the bare-versus-wrapped
// driver. Nothing here names the middleware's API (see wrap_test.go).

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/callbacks"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/schema"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

// record keeps a finished run handed to the run-end hook.
func (w *wrapper) record(tr *trajectory.Trajectory) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = append(w.ended, tr.Clone())
}

// endedRuns returns the runs the run-end hook saw, in the order they ended.
func (w *wrapper) endedRuns() []*trajectory.Trajectory {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ended)
}

// stored shuts the wrapped executors down (so everything is written) and
// returns every run in the audit store, sorted by task.
func (w *wrapper) stored(t *testing.T) []*trajectory.Trajectory {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, w.shutdown(ctx))
	require.NoError(t, w.store.Flush(ctx))
	runs, err := w.store.List(ctx, audit.Query{})
	require.NoError(t, err)
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Task < runs[j].Task })
	return runs
}

// statuses lists the runs' statuses.
func statuses(runs []*trajectory.Trajectory) []trajectory.Status {
	out := make([]trajectory.Status, len(runs))
	for i, r := range runs {
		out[i] = r.Status
	}
	return out
}

// mode is one way of running a scenario: bare (the user's executor as is)
// or wrapped.
type mode struct {
	name string
	w    *wrapper // nil when bare
}

// chain returns what the scenario runs: the executor itself, or the wrapped
// executor.
func (m mode) chain(exec *agents.Executor) chains.Chain {
	if m.w == nil {
		return exec
	}
	return m.w.wrap(exec)
}

// bareAndWrapped runs scenario once bare and once wrapped, requires the two
// outcomes to be equal, and returns the wrapper for checks of what it
// recorded. An outcome must hold everything the user can observe: results,
// errors (as text and as errors.Is checks), what the model, the tools and
// the callbacks saw.
func bareAndWrapped[O any](t *testing.T, o wrapOptions, scenario func(t *testing.T, m mode) O) (O, *wrapper) {
	t.Helper()
	bare := scenario(t, mode{name: "bare"})
	w := newWrapper(t, o)
	wrapped := scenario(t, mode{name: "wrapped", w: w})
	require.Equal(t, bare, wrapped, "bare and wrapped runs differ")
	return wrapped, w
}

// errText is an error's text, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// catch runs fn and returns the value it panicked with (nil if it did not).
func catch(fn func()) (v any) {
	defer func() { v = recover() }()
	fn()
	return nil
}

// modelCall is what a scripted model was asked.
type modelCall struct {
	Prompt string   // the text of every message, role-prefixed
	Stop   []string // stop words
	Tools  []string // function names offered
}

// reply is one scripted model answer: text, or tool calls.
type reply struct {
	text  string
	calls []llms.ToolCall
	err   error
}

// scriptedModel is an llms.Model that answers from a script: a function of
// the prompt it is sent. It never blocks, honours a cancelled context as a
// network client would, streams its answer to a streaming function when one
// is given, and records every call.
type scriptedModel struct {
	name   string
	script func(prompt string, msgs []llms.MessageContent) reply
	// callbacks, when set, hears about each call as langchaingo's own
	// models tell their CallbacksHandler.
	callbacks callbacks.Handler

	mu    sync.Mutex
	calls []modelCall
}

var _ llms.Model = (*scriptedModel)(nil)

func (m *scriptedModel) GenerateContent(ctx context.Context, msgs []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	var opts llms.CallOptions
	for _, o := range options {
		o(&opts)
	}
	var prompt strings.Builder
	for _, msg := range msgs {
		for _, p := range msg.Parts {
			switch p := p.(type) {
			case llms.TextContent:
				fmt.Fprintf(&prompt, "[%s] %s\n", msg.Role, p.Text)
			case llms.ToolCall:
				fmt.Fprintf(&prompt, "[%s] call %s %s(%s)\n", msg.Role, p.ID, p.FunctionCall.Name, p.FunctionCall.Arguments)
			case llms.ToolCallResponse:
				fmt.Fprintf(&prompt, "[%s] result %s %s\n", msg.Role, p.ToolCallID, p.Content)
			}
		}
	}
	call := modelCall{Prompt: prompt.String(), Stop: opts.StopWords}
	for _, f := range opts.Functions {
		call.Tools = append(call.Tools, f.Name)
	}
	for _, tl := range opts.Tools {
		if tl.Function != nil {
			call.Tools = append(call.Tools, tl.Function.Name)
		}
	}
	m.mu.Lock()
	m.calls = append(m.calls, call)
	m.mu.Unlock()
	if m.callbacks != nil {
		m.callbacks.HandleLLMGenerateContentStart(ctx, msgs)
	}
	fail := func(err error) (*llms.ContentResponse, error) {
		if m.callbacks != nil {
			m.callbacks.HandleLLMError(ctx, err)
		}
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	r := m.script(call.Prompt, msgs)
	if r.err != nil {
		return fail(r.err)
	}
	if opts.StreamingFunc != nil && r.text != "" {
		if err := opts.StreamingFunc(ctx, []byte(r.text)); err != nil {
			return fail(err)
		}
	}
	resp := &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: r.text, ToolCalls: r.calls, StopReason: "stop"}}}
	if m.callbacks != nil {
		m.callbacks.HandleLLMGenerateContentEnd(ctx, resp)
	}
	return resp, nil
}

func (m *scriptedModel) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// seen returns the calls the model received.
func (m *scriptedModel) seen() []modelCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

var (
	questionRE = regexp.MustCompile(`(?m)^(?:Question|New input): (.*)$`)
	sumRE      = regexp.MustCompile(`(\d+) ?([-+*]) ?(\d+)`)
)

// question is the task in a ReAct prompt (MRKL's "Question:" or the
// conversational agent's "New input:"): the last such line, since MRKL's
// format instructions show the form first.
func question(prompt string) string {
	m := questionRE.FindAllStringSubmatch(prompt, -1)
	if m == nil {
		return ""
	}
	return m[len(m)-1][1]
}

// observations returns the observations in a ReAct prompt's scratchpad,
// in order.
func observations(prompt string) []string {
	_, pad, ok := strings.Cut(prompt, "\nBegin!")
	if !ok {
		return nil
	}
	_, pad, _ = strings.Cut(pad, question(prompt))
	var obs []string
	for _, line := range strings.Split(pad, "\n") {
		if o, ok := strings.CutPrefix(line, "Observation: "); ok {
			obs = append(obs, strings.TrimSpace(o))
		}
	}
	return obs
}

// arithmeticMRKL is a MRKL (zero-shot ReAct) script: for "What is A+B?" it
// asks the calculator, then answers with what the calculator returned.
func arithmeticMRKL(prompt string, _ []llms.MessageContent) reply {
	q := question(prompt)
	obs := observations(prompt)
	if len(obs) == 0 {
		expr := sumRE.FindString(q)
		return reply{text: fmt.Sprintf("Thought: I should compute %s.\nAction: calculator\nAction Input: %s", expr, expr)}
	}
	return reply{text: fmt.Sprintf("Thought: I now know the final answer\nFinal Answer: %s is %s", q, obs[len(obs)-1])}
}

// loopingMRKL never finishes: it asks the calculator again and again.
func loopingMRKL(prompt string, _ []llms.MessageContent) reply {
	n := len(observations(prompt))
	return reply{text: fmt.Sprintf("Thought: once more.\nAction: calculator\nAction Input: %d+1", n)}
}

// callsFunction is an OpenAI-functions script: first a calculator call for
// the sum in the user's message, then an answer with the result, prefixed
// with the model's name so a swapped model shows.
func callsFunction(name string) func(string, []llms.MessageContent) reply {
	return func(prompt string, msgs []llms.MessageContent) reply {
		var results []string
		for _, msg := range msgs {
			for _, p := range msg.Parts {
				if r, ok := p.(llms.ToolCallResponse); ok {
					results = append(results, r.Content)
				}
			}
		}
		if len(results) == 0 {
			expr := sumRE.FindString(prompt)
			return reply{calls: []llms.ToolCall{{
				ID:           "call_" + name,
				Type:         "function",
				FunctionCall: &llms.FunctionCall{Name: "calculator", Arguments: fmt.Sprintf(`{"__arg1":%q}`, expr)},
			}}}
		}
		return reply{text: fmt.Sprintf("%s: the result is %s", name, results[len(results)-1])}
	}
}

// callbackRecorder is a callbacks.Handler that records every event it is
// given, in order, as text.
type callbackRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *callbackRecorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *callbackRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// sortedMap renders a map with sorted keys.
func sortedMap(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v;", k, m[k])
	}
	return b.String()
}

func (r *callbackRecorder) HandleText(_ context.Context, text string) { r.add("text %s", text) }
func (r *callbackRecorder) HandleLLMStart(_ context.Context, prompts []string) {
	r.add("llm start %q", prompts)
}

func (r *callbackRecorder) HandleLLMGenerateContentStart(_ context.Context, ms []llms.MessageContent) {
	r.add("llm generate start %v", ms)
}

func (r *callbackRecorder) HandleLLMGenerateContentEnd(_ context.Context, res *llms.ContentResponse) {
	var parts []string
	for _, c := range res.Choices {
		parts = append(parts, fmt.Sprintf("%q %v", c.Content, c.ToolCalls))
	}
	r.add("llm generate end %s", strings.Join(parts, " | "))
}
func (r *callbackRecorder) HandleLLMError(_ context.Context, err error) { r.add("llm error %v", err) }
func (r *callbackRecorder) HandleChainStart(_ context.Context, inputs map[string]any) {
	r.add("chain start %s", sortedMap(inputs))
}

func (r *callbackRecorder) HandleChainEnd(_ context.Context, outputs map[string]any) {
	r.add("chain end %s", sortedMap(outputs))
}
func (r *callbackRecorder) HandleChainError(_ context.Context, err error) {
	r.add("chain error %v", err)
}
func (r *callbackRecorder) HandleToolStart(_ context.Context, input string) {
	r.add("tool start %q", input)
}

func (r *callbackRecorder) HandleToolEnd(_ context.Context, output string) {
	r.add("tool end %q", output)
}
func (r *callbackRecorder) HandleToolError(_ context.Context, err error) { r.add("tool error %v", err) }
func (r *callbackRecorder) HandleAgentAction(_ context.Context, a schema.AgentAction) {
	r.add("agent action %q %q %q", a.Tool, a.ToolInput, a.Log)
}

func (r *callbackRecorder) HandleAgentFinish(_ context.Context, f schema.AgentFinish) {
	r.add("agent finish %s %q", sortedMap(f.ReturnValues), f.Log)
}

func (r *callbackRecorder) HandleRetrieverStart(_ context.Context, query string) {
	r.add("retriever start %q", query)
}

func (r *callbackRecorder) HandleRetrieverEnd(_ context.Context, query string, docs []schema.Document) {
	r.add("retriever end %q %d", query, len(docs))
}

func (r *callbackRecorder) HandleStreamingFunc(_ context.Context, chunk []byte) {
	r.add("stream %q", chunk)
}

// fnTool is a tools.Tool made of a function; it records its inputs.
type fnTool struct {
	name string
	fn   func(ctx context.Context, input string) (string, error)

	mu     sync.Mutex
	inputs []string
}

func (f *fnTool) Name() string        { return f.name }
func (f *fnTool) Description() string { return "the " + f.name + " tool" }
func (f *fnTool) Call(ctx context.Context, input string) (string, error) {
	f.mu.Lock()
	f.inputs = append(f.inputs, input)
	f.mu.Unlock()
	return f.fn(ctx, input)
}

// seen returns the inputs the tool was called with.
func (f *fnTool) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.inputs)
}

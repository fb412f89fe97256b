package rrm

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/trajectory"
)

// run builds a trajectory from steps; the last step's answer becomes the
// final answer when status is finished.
func run(task string, tools []string, status trajectory.Status, steps ...trajectory.Step) *trajectory.Trajectory {
	t := &trajectory.Trajectory{SchemaVersion: 1, ID: "t", Task: task, Agent: "test", Status: status, StartedAt: time.Unix(0, 0)}
	for _, n := range tools {
		t.Tools = append(t.Tools, trajectory.ToolSpec{Name: n})
	}
	for i, s := range steps {
		s.Index = i
		if s.Final {
			t.FinalAnswer = s.Answer
		}
		t.Steps = append(t.Steps, s)
	}
	return t
}

func callStep(thought string, calls ...trajectory.ToolCall) trajectory.Step {
	return trajectory.Step{Thought: thought, Calls: calls}
}

func answerStep(answer string) trajectory.Step {
	return trajectory.Step{Thought: "answer", Final: true, Answer: answer}
}

func TestHeuristicRules(t *testing.T) {
	w := DefaultWeights()
	calc := func(in, obs string) trajectory.ToolCall {
		return trajectory.ToolCall{Tool: "calculator", Input: in, Observation: obs}
	}
	failed := func(tool, in, err string) trajectory.ToolCall {
		return trajectory.ToolCall{Tool: tool, Input: in, Error: err, Observation: "error: " + err}
	}
	blocked := func(tool, in string) trajectory.ToolCall {
		return trajectory.ToolCall{Tool: tool, Input: in, Blocked: true, BlockedBy: "policy", Observation: "Blocked by guardrail policy: no"}
	}
	cases := []struct {
		name    string
		traj    *trajectory.Trajectory
		rule    string  // the check that must fail ("" for none)
		penalty float64 // the total penalty expected
		advice  string  // a word the critique must contain
	}{
		{"clean", run("What is 6*7?", []string{"calculator"}, trajectory.StatusFinished,
			callStep("compute", calc("6*7", "42")), answerStep("6*7 = 42")), "", 0, "You used the tools"},
		{"ignored error", run("What is the USD rate at https://x.example?", []string{"http_get"}, trajectory.StatusFinished,
			callStep("get", failed("http_get", "https://x.example", "connection refused")), answerStep("The rate is high today.")),
			"tool errors", w.IgnoredError, `http_get(https://x.example) failed with "connection refused"`},
		{"admitted error is fine", run("What is the USD rate at https://x.example?", []string{"http_get"}, trajectory.StatusFinished,
			callStep("get", failed("http_get", "https://x.example", "connection refused")), answerStep("I could not reach the API, so I do not know.")),
			"", 0, "You used"},
		{"error in observation text", run("Look up the weather in Rome", []string{"weather"}, trajectory.StatusFinished,
			callStep("get", trajectory.ToolCall{Tool: "weather", Input: "Rome", Observation: "Error: city service down"}), answerStep("It is sunny in Rome.")),
			"tool errors", w.IgnoredError, `weather(Rome) failed with "Error: city service down"`},
		{"loop", run("What is 6*7?", []string{"calculator"}, trajectory.StatusFinished,
			callStep("a", calc("6*7", "42")), callStep("b", calc("6 * 7", "42")), callStep("c", calc("6*7", "42")), answerStep("42")),
			"repeated calls", 2 * w.Loop, "repeated the identical call calculator(6 * 7)"},
		{"one retry after failure is free", run("What is 6*7?", []string{"calculator"}, trajectory.StatusFinished,
			callStep("a", failed("calculator", "6*7", "busy")), callStep("b", calc("6*7", "42")), answerStep("42")),
			"", 0, "You used"},
		{"ungrounded number", run("What is the population of Lagos?", []string{"search"}, trajectory.StatusFinished,
			callStep("s", trajectory.ToolCall{Tool: "search", Input: "Lagos population", Observation: "Lagos is a large city in Nigeria."}),
			answerStep("Lagos has 21,300,000 people.")), "grounded numbers", w.UngroundedNumber, "Your answer states 21,300,000, which appears in no observation"},
		{"rounded number is grounded", run("What is the population of Canada?", []string{"search"}, trajectory.StatusFinished,
			callStep("s", trajectory.ToolCall{Tool: "search", Input: "Canada population", Observation: "Canada: 40,097,761 (2023)"}),
			answerStep("About 40.1 million (2023).")), "", 0, "You used"},
		{"ungrounded names", run("Who founded SpaceX?", []string{"search"}, trajectory.StatusFinished,
			callStep("s", trajectory.ToolCall{Tool: "search", Input: "SpaceX founder", Observation: "SpaceX was founded in 2002 by Elon Musk."}),
			answerStep("SpaceX was founded by Elon Musk and Gwynne Shotwell.")), "grounded names", 2 * w.UngroundedName, "Your answer names Gwynne and Shotwell, which no observation mentions"},
		{"no tool", run("What is 347 * 29?", []string{"calculator"}, trajectory.StatusFinished, answerStep("It is 10,063.")),
			"tool use", w.NoTool + w.UngroundedNumber, "without using your tools"},
		{"no tool needed", run("Translate 'thank you' into French.", []string{"calculator"}, trajectory.StatusFinished, answerStep("Merci.")),
			"", 0, "You used"},
		{"blocked retry", run("Delete the temp files", []string{"shell"}, trajectory.StatusFinished,
			callStep("a", blocked("shell", "rm -rf /tmp/x")), callStep("b", blocked("shell", "rm -rf /tmp/x")),
			callStep("c", blocked("shell", "rm /tmp/x")), answerStep("Deleting is blocked by policy.")),
			"blocked actions", w.BlockedRetry + w.BlockedSameTool, "you tried it again (shell(rm -rf /tmp/x))"},
		{"parse errors", run("What is 6*7?", []string{"calculator"}, trajectory.StatusFinished,
			trajectory.Step{ParseError: "blah"}, callStep("a", calc("6*7", "42")), answerStep("42")),
			"format", w.ParseError, "format"},
		{"max iterations", run("What is 6*7?", []string{"calculator"}, trajectory.StatusMaxIterations,
			callStep("a", calc("6*7", "42"))), "outcome", w.Unfinished, "ran out of steps"},
		{"parse-error status", run("What is 6*7?", []string{"calculator"}, trajectory.StatusParseError,
			trajectory.Step{ParseError: "blah"}), "outcome", w.Unfinished + w.ParseError, "parsed"},
		{"error status", run("What is 6*7?", []string{"calculator"}, trajectory.StatusError,
			callStep("a", calc("6*7", "42"))), "outcome", w.Unfinished, "error"},
		{"cancelled", run("What is 6*7?", []string{"calculator"}, trajectory.StatusCancelled,
			callStep("a", calc("6*7", "42"))), "outcome", w.Cancelled, "cancelled"},
		{"unknown tool", run("What is 6*7?", []string{"calculator"}, trajectory.StatusFinished,
			callStep("a", trajectory.ToolCall{Tool: "calc", Input: "6*7", UnknownTool: true, Observation: "calc is not a valid tool"}),
			callStep("b", calc("6*7", "42")), answerStep("42")), "unknown tools", w.UnknownTool, "You called calc, which does not exist; use only the tools listed for you, with their exact names (calculator)."},
		{"empty answer", run("What is 6*7?", []string{"calculator"}, trajectory.StatusFinished,
			callStep("a", calc("6*7", "42")), answerStep("")), "outcome", w.EmptyAnswer, "without an answer"},
		{"tool call cut off as the answer", run("Which city does Ada Falk live in?", []string{"get_person"}, trajectory.StatusFinished,
			callStep("a", trajectory.ToolCall{Tool: "get_person", Input: `{"id":"ada-falk"}`, Observation: `{"city":"Tartu"}`}), answerStep("<tool_cal")),
			"outcome", w.EmptyAnswer, "never made"},
		{"malformed tool call as the answer", run("Which city does Ada Falk live in?", []string{"get_person"}, trajectory.StatusFinished,
			answerStep(`<tool_call>{"name": "get_person", "arguments": {"id"}}</tool_call>`)),
			"outcome", w.EmptyAnswer + w.NoTool, "never made"},
		{"partial run is judged so far", run("What is 6*7?", []string{"calculator"}, trajectory.StatusRunning,
			callStep("a", calc("6*7", "42")), callStep("b", calc("6*7", "42"))), "repeated calls", w.Loop, "So far"},
	}
	h := NewHeuristic()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := h.Judge(context.Background(), tc.traj)
			require.True(t, a.OK())
			assert.InDelta(t, max(0, 1-tc.penalty), a.Score, 1e-9, a.Think)
			if tc.rule != "" {
				assert.Contains(t, a.Think, "- "+tc.rule+": FAIL", a.Think)
			} else {
				assert.NotContains(t, a.Think, "FAIL", a.Think)
			}
			assert.Contains(t, a.Critique, tc.advice)
			assert.Contains(t, strings.ToLower(a.Critique), "you")
			assert.Equal(t, "heuristic", a.Judge)
			assert.Equal(t, HeuristicVersion, a.Model)
			assert.Equal(t, len(tc.traj.Steps), a.Steps)
			assert.Equal(t, !tc.traj.Ended(), a.Partial)
			assert.False(t, a.CreatedAt.IsZero())

			// Raw is a well-formed Agent-RRM reply with the same parts.
			p, err := Parse(a.Raw)
			require.NoError(t, err)
			assert.Equal(t, a.Score, p.Score)
			assert.Equal(t, strings.TrimSpace(a.Think), p.Think)
			assert.Equal(t, strings.TrimSpace(a.Critique), p.Critique)
			assert.Empty(t, p.Notes)

			// Deterministic.
			b := h.Judge(context.Background(), tc.traj)
			assert.Equal(t, a.Think, b.Think)
			assert.Equal(t, a.Critique, b.Critique)
			assert.Equal(t, a.Score, b.Score)
		})
	}
}

func TestHeuristicWeightsOption(t *testing.T) {
	w := DefaultWeights()
	w.NoTool = 1
	tr := run("What is 347 * 29?", []string{"calculator"}, trajectory.StatusFinished, answerStep("I guess a lot."))
	assert.InDelta(t, 1-DefaultWeights().NoTool, NewHeuristic().Judge(context.Background(), tr).Score, 1e-9)
	assert.Equal(t, 0.0, NewHeuristic(WithWeights(w)).Judge(context.Background(), tr).Score)
}

func TestHeuristicNil(t *testing.T) {
	a := NewHeuristic().Judge(context.Background(), nil)
	assert.Equal(t, trajectory.AssessmentError, a.Status)
	assert.NotEmpty(t, a.Error)
}

func TestForEachNumber(t *testing.T) {
	var got []string
	forEachNumber("1,048,576 and 2.5 million, 2025-06-01, v2, 3rd, 12,13", func(n number) {
		got = append(got, fmt.Sprintf("%g±%g", n.value, n.tol))
	})
	assert.Equal(t, []string{"1.048576e+06±0.5", "2.5e+06±50000", "2025±0.5", "6±0.5", "1±0.5", "3±0.5", "12±0.5", "13±0.5"}, got)
}

// tenSteps is a 10-step run with a mix of calls, one error and an answer.
func tenSteps() *trajectory.Trajectory {
	var steps []trajectory.Step
	for i := 0; i < 9; i++ {
		c := trajectory.ToolCall{Tool: "search", Input: fmt.Sprintf("query number %d about the Eiffel Tower", i),
			Observation: fmt.Sprintf("The Eiffel Tower in Paris is %d metres tall and was completed in 1889; it had %d,000 visitors in 202%d. %s",
				300+i, 5000+i, i, strings.Repeat("More context about the tower. ", 6))}
		if i == 4 {
			c.Error, c.Observation = "timeout", "error: timeout"
		}
		steps = append(steps, callStep(fmt.Sprintf("I should look up detail %d before answering.", i), c))
	}
	steps = append(steps, answerStep("The Eiffel Tower in Paris is about 300 metres tall and was completed in 1889."))
	return run("How tall is the Eiffel Tower and when was it completed?", []string{"search", "calculator"}, trajectory.StatusFinished, steps...)
}

// BenchmarkHeuristic judges a 10-step run; the baseline, encoding that run
// to JSON, runs interleaved with it in chunks so that load on the machine
// hits both alike. x_json_encode says how many JSON encodes one judgment
// costs.
func BenchmarkHeuristic(b *testing.B) { benchJudge(b, tenSteps()) }

// BenchmarkHeuristicLookup judges a real lookup run (two JSON API calls,
// one an HTTP 404, fenced as the demo fences them), the same way: the cost
// of reading HTTP statuses, JSON fields and ids.
func BenchmarkHeuristicLookup(b *testing.B) {
	benchJudge(b, loadLookupRuns(b)["fenced-404-altarhus"])
}

func benchJudge(b *testing.B, tr *trajectory.Trajectory) {
	h := NewHeuristic()
	ctx := context.Background()
	b.ReportAllocs()
	var judging, encoding time.Duration
	for done := 0; done < b.N; {
		k := min(100, b.N-done)
		t0 := time.Now()
		for range k {
			if a := h.Judge(ctx, tr); !a.OK() {
				b.Fatal(a.Error)
			}
		}
		t1 := time.Now()
		for range k {
			if _, err := trajectory.Marshal(tr); err != nil {
				b.Fatal(err)
			}
		}
		judging += t1.Sub(t0)
		encoding += time.Since(t1)
		done += k
	}
	b.ReportMetric(float64(b.N)/judging.Seconds(), "judgments/s")
	b.ReportMetric(float64(judging)/float64(encoding), "x_json_encode")
}

// FuzzHeuristic feeds arbitrary task, input, observation and answer text to
// the heuristic judge and the renderer: no panic, a score in [0,1], a Raw
// reply that parses back to the same score, and valid UTF-8 rendering.
// Run longer with: go test ./rrm -run '^$' -fuzz FuzzHeuristic -fuzztime 60s
func FuzzHeuristic(f *testing.F) {
	f.Add("What is 17*23?", "17*23", "391", "17*23 = 391", false)
	f.Add("Population of Canada?", "Canada", "40,097,761 (2023)", "About 40.1 million.", false)
	f.Add("Who founded SpaceX?", "q", "error: timeout", "Elon Musk and Gwynne Shotwell.", true)
	f.Add("1,2,3,,,4.5.6e", "1e400", "999999999999999999999999", "1.7976931348623157e308 million billion", false)
	f.Add("é×ü÷", "\xff\xfe", "ÅÅ 3 ÷ 4", "- Ünicode. Name: Zoë-Ann's", true)
	f.Fuzz(func(t *testing.T, task, input, obs, answer string, blocked bool) {
		tr := run(task, []string{"search", "calculator"}, trajectory.StatusFinished,
			callStep("thinking", trajectory.ToolCall{Tool: "search", Input: input, Observation: obs, Blocked: blocked}),
			callStep("again", trajectory.ToolCall{Tool: "search", Input: input, Observation: obs}),
			answerStep(answer))
		a := NewHeuristic().Judge(context.Background(), tr)
		if !a.OK() || a.Score < 0 || a.Score > 1 {
			t.Fatalf("bad assessment %+v", a)
		}
		p, err := Parse(a.Raw)
		if err != nil || p.Score != a.Score {
			t.Fatalf("Raw does not parse back: %v (%v vs %v)", err, p.Score, a.Score)
		}
		out := Render(tr, Limits{Task: 7, Input: 5, Observation: 9, Answer: 6, Thought: 4, Total: 300})
		if utf8.ValidString(task) && utf8.ValidString(input) && utf8.ValidString(obs) && utf8.ValidString(answer) && !utf8.ValidString(out) {
			t.Fatalf("render broke UTF-8: %q", out)
		}
	})
}

func TestCallFailedReadsToolErrorText(t *testing.T) {
	cases := map[string]bool{
		"Tool error: backend unavailable":                                true,
		"calculator error: syntax error: unexpected \"*\" at position 8": true,
		"error: not found": true,
		"391":              false,
		"The report lists no error: all 12 checks passed":   false,
		"Title: Error handling in Go\nURL: http://x/errors": false,
		// API and browser tools report the HTTP status (heuristic-v5).
		"HTTP 404 Not Found\n{\"error\":\"no person with id Adalk Falk\"}":    true,
		"HTTP 500 Internal Server Error":                                      true,
		"HTTP 200 OK\n{\"error_rate\":0.1}":                                   false,
		"HTTP 200 OK\nError: quota exceeded":                                  true,
		"URL: http://x/a\nTitle: Gone\nHTTP status: 410\nThis page is gone.":  true,
		"URL: http://x/a\nTitle: HTTP 404 explained\nA page on status codes.": false,
		fenceForTest("get_person", "HTTP 404 Not Found\n{\"error\":\"x\"}"):   true,
		fenceForTest("get_person", "HTTP 200 OK\n{\"id\":\"x\"}"):             false,
	}
	for obs, want := range cases {
		if got := callFailed(&trajectory.ToolCall{Observation: obs}); got != want {
			t.Errorf("callFailed(%q) = %v, want %v", obs, got, want)
		}
	}
}

// TestIsCallMarkup: answers that are a failed or garbled tool call are
// told from real answers.
func TestIsCallMarkup(t *testing.T) {
	for _, a := range []string{
		`<tool_call>{"name": "get_person", "arguments": {"id": "ada"}}</tool_call>`,
		`<tool_calm>{"name": "get_person"`, `<tool_cal`, `<tool`, `x tool_call>`,
		`{"name": "argume": "ada"}`, `{"name": "get_company", "arguments": {"id"`,
		"Action: calculator\nAction Input: 2+2",
	} {
		assert.True(t, IsCallMarkup(a), a)
	}
	for _, a := range []string{
		"Ada Falk", "42", `{"name": "Ada Falk"}`, "The tool returned nothing; the answer is 7.",
		"<b>bold</b>", "Use the toolbox.",
	} {
		assert.False(t, IsCallMarkup(a), a)
	}
}

func TestTaskExpression(t *testing.T) {
	for task, want := range map[string]string{
		"What is 37 * 12 + 5?":                       "37 * 12 + 5",
		"Compute (57 + 22) * 8.":                     "(57 + 22) * 8",
		"What is 206 - 581":                          "206 - 581",
		"How much is 1463 / 19?":                     "1463 / 19",
		"Evaluate 6×7.":                              "6×7",
		"Sam has 209 coins and finds 23 more.":       "",
		"What happened on 2024-05-01 in Lagos?":      "",
		"What is 1,234 + 5?":                         "",
		"In which city does the CEO of Corvel live?": "",
		"Is (3 + 4) the same as 7?":                  "3 + 4",
	} {
		assert.Equal(t, want, taskExpression(task), task)
	}
}

func TestHeuristicTaskExpressionRule(t *testing.T) {
	w := DefaultWeights()
	h := NewHeuristic()
	calc := func(in, obs string) trajectory.ToolCall {
		return trajectory.ToolCall{Tool: "calculator", Input: in, Observation: obs}
	}
	judge := func(task string, answer string, calls ...trajectory.ToolCall) trajectory.Assessment {
		return h.Judge(context.Background(), run(task, []string{"calculator"}, trajectory.StatusFinished,
			callStep("compute", calls...), answerStep(answer)))
	}

	// The call computed the task's expression (spaces aside): no penalty.
	a := judge("Compute (57 + 22) * 8.", "632", calc(`{"expression":"(57+22) * 8"}`, "632"))
	assert.Equal(t, 1.0, a.Score)
	assert.Contains(t, a.Think, "task expression: ok")

	// Another expression, its number backed by the observation: only this
	// rule sees the wrong answer, and the critique names call and expression.
	a = judge("What is 704 + 636 - 35?", "1340", calc(`{"expression":"704 + 636"}`, "1340"))
	assert.InDelta(t, 1-w.TaskExpression, a.Score, 1e-9)
	assert.Contains(t, a.Think, "task expression: FAIL")
	assert.Contains(t, a.Critique, `calculator({"expression":"704 + 636"})`)
	assert.Contains(t, a.Critique, "expression 704 + 636 - 35")
	assert.Less(t, a.Score, FlawThreshold, "a wrong expression must be flagged for refinement")

	// A longer expression that contains the task's is not the task's.
	a = judge("What is 46 * 20", "18400", calc(`{"expression":"46 * 20 * 20"}`, "18400"))
	assert.InDelta(t, 1-w.TaskExpression, a.Score, 1e-9)

	// A computation in parts: every number of the expression in some call.
	a = judge("What is (57 + 22) * 8?", "632", calc(`{"expression":"57 + 22"}`, "79"), calc(`{"expression":"79 * 8"}`, "632"))
	assert.Equal(t, 1.0, a.Score)
	a = judge("What is (57 + 22) * 16?", "632", calc(`{"expression":"57 + 22"}`, "79"), calc(`{"expression":"79 * 8"}`, "632"))
	assert.InDelta(t, 1-w.TaskExpression, a.Score, 1e-9)

	// No successful call: the rule does not apply (others do).
	a = judge("What is 6 * 7?", "42")
	assert.NotContains(t, a.Think, "task expression: FAIL")
	// A task without an expression has no such check.
	a = judge("Sam has 5 coins and finds 3 more. How many coins does Sam have now?", "8", calc(`{"expression":"5 + 3"}`, "8"))
	assert.NotContains(t, a.Think, "task expression")
}

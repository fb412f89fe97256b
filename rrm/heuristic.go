package rrm

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

// HeuristicVersion names the rule set; it is the Model of every heuristic
// assessment, so scores from different rule sets are not mixed up.
// heuristic-v3 scored every trajectory exactly as heuristic-v2 did (same
// rules, same weights), with critiques that name what they found: the
// failing call and its error, the repeated or blocked call, the unknown
// tool, the unsupported numbers and names of the answer. heuristic-v4 adds
// one rule (Weights.TaskExpression): a task that states an arithmetic
// expression must have it computed by a call, and the critique names the
// call and the expression. heuristic-v5 reads observations as API and
// browser tools write them (an HTTP status of 400 or more, fenced as
// untrusted content or not, is a failed call, and the critique quotes the
// status and the JSON error message; a status line is no evidence), and
// adds four rules for lookups: a call whose id neither the task nor an
// earlier observation gives (Weights.UngroundedID; the critique names the
// id the previous observation gave, or the task's name closest to the one
// used), a bare answer ("Bents") found in no observation
// (Weights.UngroundedAnswer), an answer of the wrong kind (a number where
// the task asks "which city", none where it asks "how many";
// Weights.AnswerType), and an answer copied from another field of an
// observation than the one the task names, or of another kind of thing
// than it asks for (Weights.AnswerField). An
// ignored failure alone now flags a run (IgnoredError 0.35, was 0.30), and
// names are matched as whole words. The arith critiques read as in v4.
const HeuristicVersion = "heuristic-v5"

// Weights are the penalties of the heuristic judge's rules. The score is
// 1 minus the sum of the penalties that apply, floored at 0.
type Weights struct {
	// IgnoredError applies once when a tool call failed (an error, a crash,
	// an error message, an HTTP status of 400 or more) or was blocked, no
	// later call succeeded, and the final answer does not admit the failure.
	IgnoredError float64
	// Loop applies per call identical (same tool, same input up to case and
	// spaces) to an earlier one; one identical retry right after a failure
	// is free. Capped at LoopCap.
	Loop, LoopCap float64
	// UngroundedNumber applies once when the final answer has a number
	// (other than a small count 0–10) that matches no number in the task,
	// the inputs, any observation or any successful tool input, allowing
	// for the answer's rounding and "million"/"billion".
	UngroundedNumber float64
	// UngroundedName applies per capitalised word of the final answer (not
	// at the start of a sentence, 3+ letters, not a common word) found in no
	// evidence text. Capped at UngroundedNameCap.
	UngroundedName, UngroundedNameCap float64
	// NoTool applies when tools were available, none of them was called
	// (calls to unknown tools do not count), and the task looks like it needs one (arithmetic, a URL,
	// a question about facts, "current", "latest", "find", …).
	NoTool float64
	// BlockedRetry applies per call that repeats a blocked call exactly;
	// BlockedSameTool per other call to a tool that was blocked before.
	// Both capped at BlockedCap.
	BlockedRetry, BlockedSameTool, BlockedCap float64
	// ParseError applies per step whose output could not be parsed, capped
	// at ParseErrorCap.
	ParseError, ParseErrorCap float64
	// UnknownTool applies per call to a tool that does not exist, capped at
	// UnknownToolCap.
	UnknownTool, UnknownToolCap float64
	// Unfinished applies when the run hit the step limit, stopped on a
	// parse error or failed; Cancelled when it was cancelled.
	Unfinished, Cancelled float64
	// EmptyAnswer applies when a finished run has an empty final answer.
	EmptyAnswer float64
	// TaskExpression applies once when the task states an arithmetic
	// expression ("What is 37 * 12 + 5?"), the agent made successful
	// calls, and none of them computed that expression: with one
	// successful call its input must be the expression (spaces aside),
	// with more every number of the expression must appear in one of
	// their inputs (a computation in parts).
	TaskExpression float64
	// UngroundedID applies once when a call passes an id (an input field
	// "id" or "…_id") that neither the task nor an earlier successful
	// observation gives, and no later call to that tool with a grounded id
	// succeeded.
	UngroundedID float64
	// UngroundedAnswer applies once, instead of UngroundedName, when the
	// answer is bare (a few words, no sentence) and one of its capitalised
	// words, the first included, is found in no evidence.
	UngroundedAnswer float64
	// AnswerType applies once when the task asks for a name ("who", "which
	// city") and the answer has no letter, or for a number ("how many",
	// "which year", "population") and the answer has no digit.
	AnswerType float64
	// AnswerField applies once when a bare answer is the value of a field
	// of an observation whose other field the task names ("Which city …"
	// answered with the employer's name) or goes through to another record
	// ("the employer of …"), and of no field the task asks about; or when
	// the task asks "which X" and X and the answer's field name the things
	// of two different tools (company, city: get_company, get_city).
	AnswerField float64
}

// DefaultWeights returns the weights of HeuristicVersion.
func DefaultWeights() Weights {
	return Weights{
		IgnoredError:      0.35,
		Loop:              0.20,
		LoopCap:           0.60,
		UngroundedNumber:  0.35,
		UngroundedName:    0.15,
		UngroundedNameCap: 0.45,
		NoTool:            0.35,
		BlockedRetry:      0.40,
		BlockedSameTool:   0.10,
		BlockedCap:        0.60,
		ParseError:        0.10,
		ParseErrorCap:     0.30,
		UnknownTool:       0.20,
		UnknownToolCap:    0.40,
		Unfinished:        0.50,
		Cancelled:         0.30,
		EmptyAnswer:       0.40,
		TaskExpression:    0.35,
		UngroundedID:      0.35,
		UngroundedAnswer:  0.35,
		AnswerType:        0.35,
		AnswerField:       0.35,
	}
}

// FlawThreshold is the score below which the heuristic judge's verdict
// counts as "flawed" (used for the labelled-set accuracy).
const FlawThreshold = 0.7

// Heuristic is an offline, deterministic judge: a fixed set of rules over
// the trajectory, no model. It cannot tell whether an answer is right, only
// whether the process shows known flaws. It is safe for concurrent use.
type Heuristic struct {
	w Weights
}

// HeuristicOption configures a Heuristic judge.
type HeuristicOption func(*Heuristic)

// WithWeights replaces the rule weights.
func WithWeights(w Weights) HeuristicOption { return func(h *Heuristic) { h.w = w } }

// NewHeuristic returns the heuristic judge with DefaultWeights.
func NewHeuristic(opts ...HeuristicOption) *Heuristic {
	h := &Heuristic{w: DefaultWeights()}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Name returns "heuristic".
func (h *Heuristic) Name() string { return "heuristic" }

// Judge applies the rules to t. It writes the three Agent-RRM parts: Think
// lists every check and its outcome, Critique gives advice to the agent, and
// Raw holds them in the Agent-RRM format.
func (h *Heuristic) Judge(_ context.Context, t *trajectory.Trajectory) trajectory.Assessment {
	start := time.Now()
	a := trajectory.Assessment{Judge: h.Name(), Model: HeuristicVersion, CreatedAt: start.UTC()}
	if t == nil {
		a.Status, a.Error = trajectory.AssessmentError, "rrm: heuristic judge: nil trajectory"
		return a
	}
	a.Steps, a.Partial = len(t.Steps), !t.Ended()
	r := h.evaluate(t)
	a.Status = trajectory.AssessmentOK
	a.Think, a.Critique, a.Score = r.think.String(), r.critique.String(), r.score()
	a.Raw = Format(a.Think, a.Critique, a.Score)
	a.Latency = time.Since(start)
	return a
}

// report accumulates the checks of one judgment.
type report struct {
	think    strings.Builder
	critique strings.Builder
	penalty  float64
	partial  bool
}

func (r *report) check(name string, pen float64, detail string, advice string) {
	if pen > 0 {
		fmt.Fprintf(&r.think, "- %s: FAIL (−%.2f) %s\n", name, pen, detail)
		r.penalty += pen
		if advice == "" {
			return
		}
		if r.critique.Len() > 0 {
			r.critique.WriteByte(' ')
		}
		r.critique.WriteString(advice)
		return
	}
	fmt.Fprintf(&r.think, "- %s: ok %s\n", name, detail)
}

func (r *report) score() float64 {
	s := 1 - r.penalty
	if s < 0 {
		return 0
	}
	// Round away float noise so equal penalties give equal scores.
	return math.Round(s*1e6) / 1e6
}

func (h *Heuristic) evaluate(t *trajectory.Trajectory) *report {
	w := h.w
	r := &report{partial: !t.Ended()}
	r.think.Grow(1024)
	if r.partial {
		r.think.WriteString("The run is still in progress; judging the steps so far.\n")
	}
	r.think.WriteString("Checks:\n")

	known := make(map[string]bool, len(t.Tools))
	for _, s := range t.Tools {
		known[strings.ToLower(s.Name)] = true
	}

	// One pass over the calls for the tool-use rules.
	type key struct{ tool, input string }
	var (
		seen            = make(map[key]bool)
		blockedKeys     = make(map[key]bool)
		blockedTools    = make(map[string]bool)
		calls, okCalls  int
		attempted       int // calls to existing tools, whatever their outcome
		loops           int
		blockedRetries  int
		blockedSameTool int
		unknown         int
		unknownNames    []string
		lastFailed      bool
		lastKey         key
		failedSinceOK   int // failures (errors or blocks) after the last success
		failures        int
		parseErrors     int
		// What the critique names: the first failed call after the last
		// success, the first repeated call, the first retried blocked call.
		failedCall, loopCall, blockedCall *trajectory.ToolCall
		okInputs                          []*trajectory.ToolCall // successful calls, for the task-expression rule
		infos                             []callInfo             // every call with its parsed observation
	)
	for si := range t.Steps {
		s := &t.Steps[si]
		if s.ParseError != "" {
			parseErrors++
		}
		for ci := range s.Calls {
			c := &s.Calls[ci]
			calls++
			tool := strings.ToLower(strings.TrimSpace(c.Tool))
			k := key{tool, normalizeInput(c.Input)}
			isUnknown := c.UnknownTool || (len(known) > 0 && !known[tool])
			if isUnknown {
				unknown++
				if len(unknownNames) < 3 {
					unknownNames = append(unknownNames, c.Tool)
				}
			} else {
				attempted++
			}
			switch {
			case c.Blocked:
				if blockedKeys[k] || blockedTools[tool] {
					blockedCall = firstOf(blockedCall, c)
				}
				if blockedKeys[k] {
					blockedRetries++
				} else if blockedTools[tool] {
					blockedSameTool++
				}
				blockedKeys[k] = true
				blockedTools[tool] = true
			case blockedKeys[k]:
				blockedRetries++
				blockedCall = firstOf(blockedCall, c)
			case blockedTools[tool]:
				blockedSameTool++
				blockedCall = firstOf(blockedCall, c)
			}
			if !c.Blocked && seen[k] && !(lastFailed && lastKey == k) {
				loops++
				loopCall = firstOf(loopCall, c)
			}
			if !c.Blocked {
				seen[k] = true
			}
			o := parseObservation(c.Observation)
			failed := c.Blocked || isUnknown || failedWith(c, o.body, o.status)
			infos = append(infos, callInfo{c: c, obs: o, ok: !failed, unknown: isUnknown})
			if failed {
				failures++
				failedSinceOK++
				if failedSinceOK == 1 {
					failedCall = c
				}
			} else {
				okCalls++
				failedSinceOK = 0
				okInputs = append(okInputs, c)
			}
			lastFailed, lastKey = failed, k
		}
	}
	finished := t.Status == trajectory.StatusFinished
	answer := t.FinalAnswer

	// Run status.
	switch t.Status {
	case trajectory.StatusMaxIterations:
		r.check("outcome", w.Unfinished, "the run hit the step limit without an answer.",
			"You ran out of steps without answering: plan fewer, more targeted tool calls and give a final answer (or say what you could not find) before the limit.")
	case trajectory.StatusParseError:
		r.check("outcome", w.Unfinished, "the run stopped on output that could not be parsed.",
			"Your output could not be parsed and the run stopped: follow the required action format exactly.")
	case trajectory.StatusError, trajectory.StatusPanic:
		r.check("outcome", w.Unfinished, "the run failed: "+clip(t.Error, 120),
			"Your run ended in an error before you answered; handle tool failures and keep going to a final answer.")
	case trajectory.StatusCancelled:
		r.check("outcome", w.Cancelled, "the run was cancelled before an answer.",
			"The run was cancelled before you answered; reach a conclusion in fewer steps.")
	case trajectory.StatusFinished:
		if strings.TrimSpace(answer) == "" {
			r.check("outcome", w.EmptyAnswer, "the run finished with an empty answer.",
				"You finished without an answer: always end with a final answer that addresses the task.")
		} else if IsCallMarkup(answer) {
			r.check("outcome", w.EmptyAnswer, "the run finished with tool-call markup as its answer (a call that was malformed or cut off, never made).",
				"Your final answer is a tool call that was never made (malformed or cut off): write the call in the exact format, or give the answer itself.")
		} else {
			r.check("outcome", 0, "finished with an answer.", "")
		}
	default:
		r.check("outcome", 0, "not finished yet.", "")
	}

	// Ids from nowhere; a finding on the call that failed last joins the
	// tool-errors critique, which then says what to call instead.
	idf := ungroundedIDs(t, infos)
	joined := idf.call != nil && idf.call == failedCall && idf.suggest != ""
	failedAdvice := "read the error, fix the input or try another tool, and if you still cannot get the information, say so."
	if joined {
		failedAdvice = idf.advice()
	}

	// Ignored failures.
	switch {
	case failures == 0:
		r.check("tool errors", 0, "no failed or blocked calls.", "")
	case failedSinceOK == 0:
		r.check("tool errors", 0, fmt.Sprintf("%d failed or blocked call(s), recovered by a later successful call.", failures), "")
	case finished && answer != "" && !admitsFailure(answer):
		r.check("tool errors", w.IgnoredError, fmt.Sprintf("%d failed or blocked call(s) with no successful call after them, and the answer does not mention it: %s.", failedSinceOK, describeFailure(failedCall)),
			"Your call "+describeFailure(failedCall)+", yet you answered as if it had worked: "+failedAdvice)
	default:
		joined = false
		r.check("tool errors", 0, fmt.Sprintf("%d failed or blocked call(s) at the end, acknowledged or not yet answered.", failedSinceOK), "")
	}

	// Ids.
	switch {
	case idf.call != nil:
		advice := "Your call " + describeCall(idf.call) + " used the id " + strconv.Quote(idf.value) +
			", which neither the task nor an earlier observation gives" + idf.failure() + ": " + idf.advice()
		if joined {
			advice = "" // the tool-errors critique names the call and the fix
		}
		r.check("call ids", w.UngroundedID, fmt.Sprintf("%s passed the id %q, found in neither the task nor an earlier successful observation%s.",
			describeCall(idf.call), idf.value, idf.suggestion()), advice)
	case idf.checked > 0:
		r.check("call ids", 0, fmt.Sprintf("%d id(s) passed, each from the task or an earlier observation%s.", idf.checked, recoveredNote(idf.recovered)), "")
	}

	// Loops.
	r.check("repeated calls", min(float64(loops)*w.Loop, w.LoopCap), fmt.Sprintf("%d call(s) identical to an earlier one%s.", loops, callListed(loopCall)),
		"You repeated the identical call "+describeCall(loopCall)+"; the same input gives the same result, so change the input, use another tool, or answer from what you already have.")

	// Blocked actions.
	bp := min(float64(blockedRetries)*w.BlockedRetry+float64(blockedSameTool)*w.BlockedSameTool, w.BlockedCap)
	r.check("blocked actions", bp, fmt.Sprintf("%d exact retr(ies) of a blocked call, %d other call(s) to a blocked tool.", blockedRetries, blockedSameTool),
		"A guardrail blocked your action and you tried it again ("+describeCall(blockedCall)+"): a block will not change on retry, so choose a different, permitted approach or explain that the action is not allowed.")

	// Unknown tools.
	r.check("unknown tools", min(float64(unknown)*w.UnknownTool, w.UnknownToolCap), fmt.Sprintf("%d call(s) to tools that do not exist%s.", unknown, listed(unknownNames)),
		"You called "+quoteList(unknownNames)+", which "+plural(len(unknownNames), "does", "do")+" not exist; use only the tools listed for you, with their exact names"+toolNames(t.Tools)+".")

	// Parse errors.
	r.check("format", min(float64(parseErrors)*w.ParseError, w.ParseErrorCap), fmt.Sprintf("%d step(s) with unparseable output.", parseErrors),
		"Some of your outputs did not follow the action format; write exactly one action with its input, or a final answer, per step.")

	// Tool use.
	if finished && len(t.Tools) > 0 && attempted == 0 && needsTool(t.Task) {
		r.check("tool use", w.NoTool, "tools were available and the task needs outside information or exact computation, but the agent called none of them.",
			"You answered without using your tools although the task needs them: look the facts up or compute them with a tool before answering.")
	} else {
		r.check("tool use", 0, fmt.Sprintf("%d call(s), %d successful.", calls, okCalls), "")
	}

	// The task's own expression.
	if expr, call, missed := missedExpression(t.Task, okInputs); finished && missed {
		r.check("task expression", w.TaskExpression, fmt.Sprintf("the task states %s, and no successful call computed it (first call: %s).", expr, describeCall(call)),
			"Your call "+describeCall(call)+" did not compute the task's expression "+expr+": call the calculator with exactly that expression, then answer with the number it returns.")
	} else if expr != "" {
		r.check("task expression", 0, fmt.Sprintf("the task states %s; a call computed it or none succeeded.", expr), "")
	}

	// Grounding of the final answer.
	if finished && answer != "" {
		ev := gatherEvidence(t, infos)
		nums, badNums := ungroundedNumbers(answer, ev)
		np := 0.0
		if len(badNums) > 0 {
			np = w.UngroundedNumber
		}
		r.check("grounded numbers", np, fmt.Sprintf("%d number(s) checked in the answer, %d unsupported%s.", nums, len(badNums), listed(badNums)),
			"Your answer states "+quoteList(badNums)+", which "+plural(len(badNums), "appears", "appear")+" in no observation: report only figures you read from a tool or computed with one, and compute derived figures with a tool.")
		// A bare answer ("Tartu") of a run that called a tool is a
		// name to find in an observation, its first word included.
		bare, isBare := bareAnswer(answer)
		isBare = isBare && attempted > 0
		names, badNames := ungroundedNames(answer, ev, isBare)
		var ask *asked // what the task asks of the observations, found when a critique needs it
		hint := func() string {
			if ask == nil {
				a := askedField(t.Task, infos)
				ask = &a
			}
			return ask.hint()
		}
		if isBare && len(badNames) > 0 {
			r.check("grounded names", w.UngroundedAnswer, fmt.Sprintf("the answer is a bare name; %d name(s) checked, %d unsupported%s.", names, len(badNames), listed(badNames)),
				"Your answer "+bare+" appears in no observation: answer with a name exactly as an observation gives it"+hint()+".")
		} else {
			r.check("grounded names", min(float64(len(badNames))*w.UngroundedName, w.UngroundedNameCap), fmt.Sprintf("%d name(s) checked in the answer, %d unsupported%s.", names, len(badNames), listed(badNames)),
				"Your answer names "+quoteList(badNames)+", which no observation mentions: do not add details you did not verify; look them up or leave them out.")
		}

		// The kind of answer the task asks for.
		if want, cue := expectedKind(t.Task); want != kindAny {
			if wrongKind(answer, want) {
				r.check("answer type", w.AnswerType, fmt.Sprintf("the task asks %q, and the answer %q %s.", cue, clip(oneLine(answer), 40), kindLack(want)),
					"The task asks "+strconv.Quote(cue)+", but your answer "+clip(oneLine(answer), 40)+" "+kindLack(want)+": answer with "+kindWant(want)+" an observation gives"+hint()+", or say that you could not find it.")
			} else {
				r.check("answer type", 0, fmt.Sprintf("the task asks %q and the answer is of that kind.", cue), "")
			}
		}

		// The field the answer was copied from.
		if isBare {
			if f := answerField(t.Task, bare, infos, t.Tools); f.call != nil {
				how := "asks about the"
				switch {
				case f.kind:
					how = "asks which"
				case f.want.hop:
					how = "goes through the"
				}
				r.check("answer field", w.AnswerField, fmt.Sprintf("the answer is the %s in the observation of %s, and the task %s %s.", f.got, describeCall(f.call), how, f.want.key),
					f.advice(bare))
			}
		}
	}

	if r.critique.Len() == 0 {
		if r.partial {
			r.critique.WriteString("So far you are using the tools sensibly and your steps follow from what you observed; keep grounding each conclusion in an observation.")
		} else {
			r.critique.WriteString("You used the tools where the task needed them and your answer is backed by what you observed. Keep checking every figure and name against an observation before you answer.")
		}
	} else if r.partial {
		s := r.critique.String()
		r.critique.Reset()
		r.critique.WriteString("So far: ")
		r.critique.WriteString(s)
	}
	fmt.Fprintf(&r.think, "Total penalty %.2f, score %s.", r.penalty, strconv.FormatFloat(r.score(), 'g', -1, 64))
	return r
}

func firstOf(prev, c *trajectory.ToolCall) *trajectory.ToolCall {
	if prev != nil {
		return prev
	}
	return c
}

// describeCall names a call for a critique: tool(input), the input clipped.
func describeCall(c *trajectory.ToolCall) string {
	if c == nil {
		return "a tool call"
	}
	return strings.TrimSpace(c.Tool) + "(" + clip(oneLine(c.Input), 60) + ")"
}

// describeFailure names a failed call and what it saw.
func describeFailure(c *trajectory.ToolCall) string {
	if c == nil {
		return "failed"
	}
	why := c.Error
	switch {
	case c.Blocked:
		if c.BlockedBy != "" {
			return describeCall(c) + " was blocked by the " + c.BlockedBy + " guard"
		}
		return describeCall(c) + " was blocked"
	case c.Panicked && why == "":
		why = "the tool crashed"
	case why == "":
		o := parseObservation(c.Observation)
		why = o.body
		if o.status >= 400 {
			why = o.statusLine
			if o.errMsg != "" {
				why += ": " + o.errMsg
			}
		}
	}
	return describeCall(c) + " failed with " + strconv.Quote(clip(oneLine(why), 80))
}

// callListed formats a call for the think text: "" or ": tool(input)".
func callListed(c *trajectory.ToolCall) string {
	if c == nil {
		return ""
	}
	return ": " + describeCall(c)
}

// quoteList joins items for a critique: "a", "a and b", "a, b and c" (at
// most four, then "…").
func quoteList(items []string) string {
	if len(items) > 4 {
		items = append(items[:4:4], "…")
	}
	switch len(items) {
	case 0:
		return "something"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// plural picks the verb form for n things.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// toolNames lists the available tools for a critique: "" or " (a, b)".
func toolNames(specs []trajectory.ToolSpec) string {
	if len(specs) == 0 {
		return ""
	}
	names := make([]string, 0, min(len(specs), 6))
	for _, s := range specs[:min(len(specs), 6)] {
		names = append(names, s.Name)
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// callFailed reports a tool call that returned an error, crashed, or whose
// observation reads as an error message or reports an HTTP error status
// (fenced as untrusted content or not).
func callFailed(c *trajectory.ToolCall) bool {
	code, _, body := httpStatus(unfence(c.Observation))
	return failedWith(c, body, code)
}

// failedWith is callFailed on an observation already read: its body
// (unfenced, without the status line) and HTTP status (0: none).
func failedWith(c *trajectory.ToolCall, body string, status int) bool {
	if c.Error != "" || c.Panicked || status >= 400 {
		return true
	}
	o := strings.TrimLeft(body, " \t\r\n")
	for _, p := range [...]string{"error", "exception", "traceback", "failed", "fatal"} {
		if len(o) >= len(p) && strings.EqualFold(o[:len(p)], p) {
			return true
		}
	}
	// Tools that report failures as text name themselves first:
	// "calculator error: …", "browser: timeout: …".
	head := o
	if i := strings.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	if len(head) > 48 {
		head = head[:48]
	}
	head = strings.ToLower(head)
	i := strings.Index(head, " error:")
	return i > 0 && !strings.ContainsAny(head[:i], " \t:")
}

func normalizeInput(s string) string {
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		c := s[i]
		clean = !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || (c >= 'A' && c <= 'Z'))
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			continue
		}
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// admitsFailure reports whether an answer says that something could not be
// done or found.
func admitsFailure(answer string) bool {
	a := strings.ToLower(answer)
	for _, p := range []string{"could not", "couldn't", "can't", "cannot", "unable", "not able", "failed", "error",
		"unavailable", "blocked", "not allowed", "no results", "not found", "don't know", "do not know", "no data", "did not work"} {
		if strings.Contains(a, p) {
			return true
		}
	}
	return false
}

// needsTool guesses whether a task needs outside information or exact
// computation: arithmetic, a URL, or a question about facts.
func needsTool(task string) bool {
	t := strings.ToLower(task)
	if strings.Contains(t, "http://") || strings.Contains(t, "https://") || hasArithmetic(t) {
		return true
	}
	for _, p := range []string{"who ", "what ", "what's", "when ", "where ", "which ", "how many", "how much",
		"find ", "look up", "search", "fetch", "current", "latest", "today", "price", "weather", "population"} {
		if strings.Contains(t, p) {
			return true
		}
	}
	return false
}

// taskExpression returns the first arithmetic expression a task states:
// the longest run of digits, spaces, ".", parentheses and operators that
// starts with a digit or "(" and joins two numbers with + * / ^ × ÷, or
// with a "-" that has a space on either side (so that 2024-05-01 is not
// one). Trailing spaces, "." and unmatched ")" are trimmed. "" when the
// task states none.
func taskExpression(task string) string {
	best := ""
	for i := 0; i < len(task); i++ {
		c := task[i]
		if !isDigit(c) && c != '(' {
			continue
		}
		if i > 0 && (isDigit(task[i-1]) || task[i-1] == '.' || isLetter(task[i-1])) ||
			i > 1 && task[i-1] == ',' && isDigit(task[i-2]) {
			continue // inside a number ("1,234") or a word
		}
		j := i
		for j < len(task) && (isDigit(task[j]) || strings.IndexByte(" .()+-*/^", task[j]) >= 0 ||
			strings.HasPrefix(task[j:], "×") || strings.HasPrefix(task[j:], "÷")) {
			if task[j] >= 0x80 {
				j += len("×")
				continue
			}
			j++
		}
		span := strings.TrimRight(task[i:j], " .")
		for strings.Count(span, ")") > strings.Count(span, "(") && strings.HasSuffix(span, ")") {
			span = strings.TrimRight(span[:len(span)-1], " .")
		}
		span = unwrapParens(span)
		if len(span) > len(best) && isExpression(span) {
			best = span
		}
		i = j
	}
	return best
}

// unwrapParens removes parentheses that enclose the whole expression.
func unwrapParens(s string) string {
	for len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		depth := 0
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 && i < len(s)-1 {
				return s // the first "(" closes before the end: (1+2)*(3+4)
			}
		}
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// isExpression reports whether span joins two numbers with an operator
// (a "-" only with a space beside it).
func isExpression(span string) bool {
	for i := 0; i < len(span); i++ {
		switch {
		case strings.IndexByte("+*/^", span[i]) >= 0, strings.HasPrefix(span[i:], "×"), strings.HasPrefix(span[i:], "÷"):
		case span[i] == '-' && (i > 0 && span[i-1] == ' ' || i+1 < len(span) && span[i+1] == ' '):
		default:
			continue
		}
		return hasArithmetic(span)
	}
	return false
}

// compactExpr removes spaces and writes × ÷ as * /.
func compactExpr(s string) string {
	s = strings.NewReplacer("×", "*", "÷", "/").Replace(s)
	return strings.Join(strings.Fields(s), "")
}

// missedExpression applies the task-expression rule: expr is the task's
// expression ("" when it states none); missed is true when successful
// calls were made and none computed it; call is the first of them.
func missedExpression(task string, ok []*trajectory.ToolCall) (expr string, call *trajectory.ToolCall, missed bool) {
	expr = taskExpression(task)
	if expr == "" || len(ok) == 0 {
		return expr, nil, false
	}
	want := compactExpr(expr)
	if len(ok) == 1 {
		in := compactExpr(ok[0].Input)
		if in == want || strings.Contains(in, `"`+want+`"`) {
			return expr, nil, false
		}
		return expr, ok[0], true
	}
	var inputs strings.Builder
	for _, c := range ok {
		inputs.WriteString(c.Input)
		inputs.WriteByte('\n')
	}
	have := map[string]bool{}
	forEachNumber(inputs.String(), func(n number) { have[n.original] = true })
	all := true
	forEachNumber(expr, func(n number) {
		if !have[n.original] {
			all = false
		}
	})
	if all {
		return expr, nil, false
	}
	return expr, ok[0], true
}

// hasArithmetic finds "digits operator digits" such as 12*3 or 81 / 9.
func hasArithmetic(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("+-*/^×÷", rune(s[i])) && !strings.HasPrefix(s[i:], "×") && !strings.HasPrefix(s[i:], "÷") {
			continue
		}
		l := i - 1
		for l >= 0 && s[l] == ' ' {
			l--
		}
		r := i + 1
		if strings.HasPrefix(s[i:], "×") || strings.HasPrefix(s[i:], "÷") {
			r = i + len("×")
		}
		for r < len(s) && s[r] == ' ' {
			r++
		}
		if l >= 0 && r < len(s) && isDigit(s[l]) && isDigit(s[r]) {
			return true
		}
	}
	return false
}

// evidence is what an answer may rest on: the task, the inputs, the
// observations and the inputs of successful calls. Its numbers are found
// on first use.
type evidence struct {
	lower    string    // all evidence text, ASCII lower-cased
	nums     []float64 // every number in it, scaled by million/billion
	numsDone bool
}

// gatherEvidence reads the observations as parsed in infos: without a
// fence and without an HTTP status line (a status code is no evidence).
func gatherEvidence(t *trajectory.Trajectory, infos []callInfo) *evidence {
	n := len(t.Task)
	for _, v := range t.Inputs {
		n += len(v) + 1
	}
	for i := range infos {
		c := infos[i].c
		n += len(infos[i].obs.body) + len(c.Error) + len(c.Input) + 3
	}
	// Lower-cased as it is copied: numbers and scale words read the same.
	var b strings.Builder
	b.Grow(n)
	writeLower(&b, t.Task)
	for _, v := range t.Inputs {
		b.WriteByte('\n')
		writeLower(&b, v)
	}
	for i := range infos {
		c := infos[i].c
		b.WriteByte('\n')
		writeLower(&b, infos[i].obs.body)
		if c.Error != "" {
			b.WriteByte('\n')
			writeLower(&b, c.Error)
		}
		if infos[i].ok {
			b.WriteByte('\n')
			writeLower(&b, c.Input)
		}
	}
	return &evidence{lower: b.String()}
}

func (e *evidence) numbers() []float64 {
	if !e.numsDone {
		forEachNumber(e.lower, func(n number) { e.nums = append(e.nums, n.value) })
		e.numsDone = true
	}
	return e.nums
}

// writeLower copies s to b with ASCII letters lower-cased, so that a word
// and the text it is searched in are folded alike, in one allocation.
func writeLower(b *strings.Builder, s string) {
	var chunk [512]byte
	for len(s) > 0 {
		k := copy(chunk[:], s)
		for i := range k {
			if c := chunk[i]; c >= 'A' && c <= 'Z' {
				chunk[i] = c + 'a' - 'A'
			}
		}
		b.Write(chunk[:k])
		s = s[k:]
	}
}

// asciiLower lower-cases the ASCII letters of a short string.
func asciiLower(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	writeLower(&b, s)
	return b.String()
}

// number is a number found in text, with the precision it was written at.
type number struct {
	value    float64
	tol      float64 // half a unit of the last written digit, scaled
	integer  bool
	original string
}

// forEachNumber finds unsigned decimal numbers (with "," thousands
// separators) and applies a following "thousand", "million", "billion" or
// "trillion".
func forEachNumber(s string, f func(number)) {
	var scratch [40]byte
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || (i > 0 && (isDigit(s[i-1]) || isLetter(s[i-1]))) {
			i++
			continue
		}
		j := i
		digits := scratch[:0]
		decimals := -1
		for j < len(s) {
			c := s[j]
			switch {
			case isDigit(c):
				digits = append(digits, c)
				if decimals >= 0 {
					decimals++
				}
				j++
				continue
			case c == ',' && decimals < 0 && allDigits(s, j+1, 3) && !isDigit(byteAt(s, j+4)):
				j++
				continue
			case c == '.' && decimals < 0 && j+1 < len(s) && isDigit(s[j+1]):
				digits = append(digits, '.')
				decimals = 0
				j++
				continue
			}
			break
		}
		var v float64
		var err error
		if j-i == len(digits) {
			v, err = strconv.ParseFloat(s[i:j], 64) // no separators: no copy
		} else {
			v, err = strconv.ParseFloat(string(digits), 64)
		}
		if err == nil {
			if decimals < 0 {
				decimals = 0
			}
			tol := 0.5
			for range min(decimals, 30) {
				tol /= 10
			}
			scale := scaleWord(s[j:])
			f(number{value: v * scale, tol: tol * scale, integer: decimals == 0 && scale == 1, original: s[i:j]})
		}
		i = j
	}
}

func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func allDigits(s string, from, n int) bool {
	if from+n > len(s) {
		return false
	}
	for k := from; k < from+n; k++ {
		if !isDigit(s[k]) {
			return false
		}
	}
	return true
}

// scaleWord reads a magnitude word after a number (" million").
func scaleWord(s string) float64 {
	s = strings.TrimLeft(s, " ")
	for _, w := range [...]struct {
		word  string
		scale float64
	}{{"thousand", 1e3}, {"million", 1e6}, {"billion", 1e9}, {"trillion", 1e12}} {
		if len(s) >= len(w.word) && strings.EqualFold(s[:len(w.word)], w.word) {
			return w.scale
		}
	}
	return 1
}

// IsCallMarkup reports whether a final answer is in fact a tool call the
// agent failed to make: it holds tool-call tags, garbled ones included
// (`<tool_calm`, `tool_call>`), a ReAct action input, or a call's JSON
// (`{"name": …, "arguments": …`, however cut), or it is the start of a
// <tool_call> tag cut off by the token limit.
func IsCallMarkup(answer string) bool {
	a := strings.TrimSpace(answer)
	if strings.Contains(a, "<tool_") || strings.Contains(a, "</tool") || strings.Contains(a, "tool_call>") || strings.Contains(a, "Action Input:") {
		return true
	}
	if strings.HasPrefix(a, "{") && strings.Contains(a, `"name"`) && strings.Contains(a, `"argum`) {
		return true
	}
	return len(a) >= 2 && strings.HasPrefix("<tool_call>", a)
}

// ungroundedNumbers returns how many numbers the answer checks and those
// that match no evidence number within the answer's own rounding. Small
// integer counts (0–10) are not checked: they are often found by counting.
func ungroundedNumbers(answer string, ev *evidence) (int, []string) {
	checked := 0
	var bad []string
	forEachNumber(answer, func(n number) {
		if n.integer && n.value <= 10 {
			return
		}
		checked++
		for _, e := range ev.numbers() {
			if math.Abs(e-n.value) <= n.tol+1e-9*math.Abs(n.value) {
				return
			}
		}
		bad = append(bad, n.original)
	})
	return checked, bad
}

// ungroundedNames returns how many capitalised words of the answer it
// checks and those that appear nowhere in the evidence as whole words. In a
// bare answer the first word is checked too: it is a name, not the start
// of a sentence.
func ungroundedNames(answer string, ev *evidence, bare bool) (int, []string) {
	checked := 0
	var bad []string
	sentenceStart := !bare
	for i := 0; i < len(answer); {
		c := answer[i]
		if !isLetter(c) && c < 0x80 {
			if c == '.' || c == '!' || c == '?' || c == ':' || c == '\n' || c == '-' && (i == 0 || answer[i-1] == '\n') {
				sentenceStart = true
			}
			i++
			continue
		}
		j := i
		for j < len(answer) && (isLetter(answer[j]) || answer[j] >= 0x80 || answer[j] == '-' || answer[j] == '\'' || isDigit(answer[j])) {
			j++
		}
		word := strings.TrimRight(answer[i:j], "-'")
		atStart := sentenceStart
		sentenceStart = false
		if j == i {
			i++
			continue
		}
		i = j
		if atStart || len(word) < 3 && !(bare && len(word) == 2) || c < 'A' || c > 'Z' || commonWord(word) {
			continue
		}
		checked++
		if !containsWord(ev.lower, strings.TrimSuffix(asciiLower(word), "'s")) {
			bad = append(bad, word)
		}
	}
	return checked, bad
}

// commonWord lists capitalised words that are not names.
func commonWord(w string) bool {
	switch strings.ToLower(w) {
	case "the", "and", "but", "for", "with", "from", "this", "that", "these", "those", "its", "his", "her",
		"their", "our", "your", "you", "they", "she", "not", "yes", "according", "answer", "final", "result",
		"about", "approximately", "around", "note", "however", "also", "there", "here", "based", "because",
		"since", "what", "who", "when", "where", "which", "how", "why", "done", "sorry", "unfortunately",
		"total", "step", "source", "sources", "observation", "thought", "action", "input",
		"api", "url", "http", "https", "json", "html",
		"no", "none", "true", "false", "unknown", "nothing", "nobody", "n/a":
		return true
	}
	return false
}

// listed formats names for the think text: "" or ": a, b".
func listed(names []string) string {
	switch {
	case len(names) == 0:
		return ""
	case len(names) > 8:
		return ": " + strings.Join(names[:8], ", ") + ", …"
	}
	return ": " + strings.Join(names, ", ")
}

package rrm

import (
	"fmt"
	"sort"
	"strings"

	"github.com/reagent-go/reagent/trajectory"
)

// Limits bounds how much of each field Render copies, so one huge
// observation cannot push the rest of the run out of the judge's context.
// A field longer than its limit keeps its head and tail around a marker
// that says how much was cut. Zero means the default.
type Limits struct {
	Task        int // the task and each input value
	Thought     int // each thought, reasoning or raw completion
	Input       int // each tool input
	Observation int // each observation or error
	Answer      int // the final answer
	// Total caps the whole rendering; when a run is longer, steps in the
	// middle are left out (the first and last ones are kept) with a marker.
	Total int
}

func (l Limits) withDefaults() Limits {
	d := Limits{Task: 4000, Thought: 2000, Input: 1000, Observation: 2000, Answer: 2000, Total: 100_000}
	if l.Task <= 0 {
		l.Task = d.Task
	}
	if l.Thought <= 0 {
		l.Thought = d.Thought
	}
	if l.Input <= 0 {
		l.Input = d.Input
	}
	if l.Observation <= 0 {
		l.Observation = d.Observation
	}
	if l.Answer <= 0 {
		l.Answer = d.Answer
	}
	if l.Total <= 0 {
		l.Total = d.Total
	}
	return l
}

// Render writes the task and the whole trajectory as plain text for a judge:
// the tools on offer, every step's thought, tool calls with their inputs,
// observations, errors, blocked and unknown calls, parse errors, injected
// critiques, and the final answer or how the run ended. A run still in
// progress is marked as such.
func Render(t *trajectory.Trajectory, lim Limits) string {
	lim = lim.withDefaults()
	var b strings.Builder
	fmt.Fprintf(&b, "## Task\n%s\n", cut(t.Task, lim.Task))
	if len(t.Inputs) > 0 {
		keys := make([]string, 0, len(t.Inputs))
		for k := range t.Inputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("\n## Inputs\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "- %s: %s\n", k, cut(t.Inputs[k], lim.Task))
		}
	}
	b.WriteString("\n## Tools available\n")
	if len(t.Tools) == 0 {
		b.WriteString("(none listed)\n")
	}
	for _, s := range t.Tools {
		fmt.Fprintf(&b, "- %s", s.Name)
		if s.Description != "" {
			fmt.Fprintf(&b, ": %s", cut(oneLine(s.Description), 300))
		}
		if len(s.Tags) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(s.Tags, ", "))
		}
		b.WriteByte('\n')
	}
	head := b.String()

	steps := make([]string, len(t.Steps))
	size := len(head)
	for i := range t.Steps {
		steps[i] = renderStep(&t.Steps[i], i, lim)
		size += len(steps[i])
	}
	tail := renderEnd(t, lim)
	size += len(tail)

	b.Reset()
	b.Grow(min(size, lim.Total) + 256)
	b.WriteString(head)
	b.WriteString("\n## Trajectory\n")
	if len(steps) == 0 {
		b.WriteString("(no steps recorded)\n")
	}
	// Leave out middle steps when the whole would exceed Total, keeping
	// the start (how the agent set out) and the end (how it concluded).
	keepFrom, keepTo := len(steps), len(steps)
	if size > lim.Total && len(steps) > 2 {
		budget := lim.Total - len(head) - len(tail) - len(steps[0]) - len(steps[len(steps)-1])
		front, back := 1, len(steps)-1
		for front < back {
			added := false
			if len(steps[front]) <= budget {
				budget -= len(steps[front])
				front++
				added = true
			}
			if front < back && len(steps[back-1]) <= budget {
				budget -= len(steps[back-1])
				back--
				added = true
			}
			if !added {
				break
			}
		}
		keepFrom, keepTo = front, back
	}
	for i, s := range steps {
		if i == keepFrom && keepFrom < keepTo {
			fmt.Fprintf(&b, "\n[… %d steps left out to fit the judge's context …]\n", keepTo-keepFrom)
		}
		if i >= keepFrom && i < keepTo {
			continue
		}
		b.WriteString(s)
	}
	b.WriteString(tail)
	return b.String()
}

func renderStep(s *trajectory.Step, i int, lim Limits) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Step %d\n", i+1)
	if s.Critique != "" {
		fmt.Fprintf(&b, "Critique shown to the agent before this step: %s\n", cut(s.Critique, lim.Thought))
	}
	for _, l := range s.LLMCalls {
		if l.Reasoning != "" {
			fmt.Fprintf(&b, "Model reasoning: %s\n", cut(l.Reasoning, lim.Thought))
		}
		if l.Error != "" {
			fmt.Fprintf(&b, "Model call failed: %s\n", cut(l.Error, lim.Observation))
		}
	}
	thought := s.Thought
	if thought == "" && len(s.LLMCalls) > 0 {
		// No parsed thought: show what the model wrote.
		thought = s.LLMCalls[len(s.LLMCalls)-1].Completion
	}
	if thought != "" {
		fmt.Fprintf(&b, "Thought: %s\n", cut(thought, lim.Thought))
	}
	for j := range s.Calls {
		c := &s.Calls[j]
		fmt.Fprintf(&b, "Tool call: %s\n", c.Tool)
		fmt.Fprintf(&b, "  Input: %s\n", cut(c.Input, lim.Input))
		switch {
		case c.Blocked:
			by := c.BlockedBy
			if by == "" {
				by = "a guardrail"
			}
			fmt.Fprintf(&b, "  BLOCKED by %s (the tool did not run)\n", by)
		case c.UnknownTool:
			b.WriteString("  UNKNOWN TOOL (no tool by that name)\n")
		case c.Panicked:
			b.WriteString("  The tool crashed\n")
		}
		if c.Error != "" {
			fmt.Fprintf(&b, "  Error: %s\n", cut(c.Error, lim.Observation))
		}
		fmt.Fprintf(&b, "  Observation: %s\n", cut(c.Observation, lim.Observation))
	}
	if s.ParseError != "" {
		fmt.Fprintf(&b, "Unparseable model output: %s\n", cut(s.ParseError, lim.Observation))
	}
	if s.Final {
		fmt.Fprintf(&b, "Final answer: %s\n", cut(s.Answer, lim.Answer))
	}
	return b.String()
}

func renderEnd(t *trajectory.Trajectory, lim Limits) string {
	var b strings.Builder
	b.WriteString("\n## Outcome\n")
	switch t.Status {
	case trajectory.StatusRunning, "":
		b.WriteString("The run is still in progress: judge the steps so far.\n")
	case trajectory.StatusFinished:
		b.WriteString("The run finished.\n")
	case trajectory.StatusMaxIterations:
		b.WriteString("The run hit the step limit without a final answer.\n")
	case trajectory.StatusParseError:
		b.WriteString("The run stopped because the agent's output could not be parsed.\n")
	case trajectory.StatusError, trajectory.StatusPanic:
		b.WriteString("The run failed with an error.\n")
	case trajectory.StatusCancelled:
		b.WriteString("The run was cancelled before it finished.\n")
	default:
		fmt.Fprintf(&b, "The run ended with status %q.\n", t.Status)
	}
	if t.Error != "" {
		fmt.Fprintf(&b, "Error: %s\n", cut(t.Error, lim.Observation))
	}
	if t.Ended() {
		ans := t.FinalAnswer
		if ans == "" {
			ans = "(none)"
		}
		fmt.Fprintf(&b, "Final answer: %s\n", cut(ans, lim.Answer))
	}
	return b.String()
}

// cut keeps the head and tail of s around a marker when s is longer than n
// bytes, never splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	headN := n * 2 / 3
	tailN := n - headN
	head := truncateUTF8(s, headN)
	start := len(s) - tailN
	for start < len(s) && s[start]&0xC0 == 0x80 {
		start++
	}
	return fmt.Sprintf("%s […%d bytes cut…] %s", head, len(s)-len(head)-(len(s)-start), s[start:])
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

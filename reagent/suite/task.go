// Package suite holds the task suites of reagent's rollout collector: the
// built-in suites (arith with the calculator, lookup over a local JSON API,
// web over a local multi-page site with the browser), generated
// deterministically from seeds with train and test splits that never
// overlap, a JSONL format for users' own suites, the local servers and tools
// the tasks need, and demonstrations (ideal, flawed and critique-refined
// chats) for supervised fine-tuning.
package suite

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
)

// Split names a part of a suite. Train and test never share a question.
type Split string

// Splits.
const (
	Train Split = "train"
	Test  Split = "test"
)

// ParseSplit reads "train" or "test".
func ParseSplit(s string) (Split, error) {
	switch Split(s) {
	case Train, Test:
		return Split(s), nil
	}
	return "", fmt.Errorf("suite: unknown split %q (want train or test)", s)
}

// Task is one question with its reference answer.
type Task struct {
	ID       string `json:"id"`
	Question string `json:"question"`
	// Answer is the reference answer, compared with the agent's final
	// answer by the rule named in Reward.
	Answer string `json:"answer"`
	Suite  string `json:"suite"`
	// Tools names the tools the agent gets for this task.
	Tools []string `json:"tools"`
	// Reward names the rule reward (see reward.NewRules): "text",
	// "numeric", "exact", "f1", a custom name, or "" for auto (numeric when
	// the answer is a number, text otherwise).
	Reward string `json:"reward,omitempty"`
	// Split is "train", "test" or empty (a user suite without splits).
	Split    Split             `json:"split,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// Solution is the ideal way to solve the task, when known; it makes
	// demonstrations possible.
	Solution *Solution `json:"solution,omitempty"`
}

// Solution is the ideal sequence of tool calls for a task, and a typical
// flawed first attempt with the critique that corrects it.
type Solution struct {
	Calls  []Call  `json:"calls"`
	Flawed *Flawed `json:"flawed,omitempty"`
}

// Call is one tool call of a solution. Arguments are the JSON arguments as
// the model writes them.
type Call struct {
	Tool      string          `json:"tool"`
	Arguments json.RawMessage `json:"arguments"`
}

// Flawed is a typical wrong first attempt: the first Calls calls of the
// solution, then the wrong Answer; Critique is what a reviewer tells the
// agent about it (without the true answer).
type Flawed struct {
	Calls    int    `json:"calls"`
	Answer   string `json:"answer"`
	Critique string `json:"critique"`
}

// Validate checks that a task can be run and scored.
func (t *Task) Validate() error {
	var errs []string
	if strings.TrimSpace(t.ID) == "" {
		errs = append(errs, `missing "id"`)
	}
	if strings.TrimSpace(t.Question) == "" {
		errs = append(errs, `missing "question"`)
	}
	if strings.TrimSpace(t.Answer) == "" {
		errs = append(errs, `missing "answer"`)
	}
	if strings.TrimSpace(t.Suite) == "" {
		errs = append(errs, `missing "suite"`)
	}
	for i, name := range t.Tools {
		if strings.TrimSpace(name) == "" {
			errs = append(errs, fmt.Sprintf("tools[%d] is empty", i))
		}
	}
	if t.Split != "" && t.Split != Train && t.Split != Test {
		errs = append(errs, fmt.Sprintf("split %q is not train or test", t.Split))
	}
	if s := t.Solution; s != nil {
		for i, c := range s.Calls {
			if c.Tool == "" {
				errs = append(errs, fmt.Sprintf("solution.calls[%d]: missing tool", i))
			} else if !t.HasTool(c.Tool) {
				errs = append(errs, fmt.Sprintf("solution.calls[%d]: tool %q is not in the task's tools", i, c.Tool))
			}
			if len(c.Arguments) == 0 || !json.Valid(c.Arguments) {
				errs = append(errs, fmt.Sprintf("solution.calls[%d]: arguments are not valid JSON", i))
			}
		}
		if f := s.Flawed; f != nil {
			if f.Calls < 0 || f.Calls > len(s.Calls) {
				errs = append(errs, fmt.Sprintf("solution.flawed.calls %d is outside 0..%d", f.Calls, len(s.Calls)))
			}
			if strings.TrimSpace(f.Critique) == "" {
				errs = append(errs, "solution.flawed: missing critique")
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// HasTool reports whether the task names the tool.
func (t *Task) HasTool(name string) bool {
	for _, n := range t.Tools {
		if n == name {
			return true
		}
	}
	return false
}

// TaskID is the stable id of a generated task: the suite name and a digest
// of the question, so that the same question has the same id whatever the
// seed or count it was generated with.
func TaskID(suite, question string) string {
	sum := sha256.Sum256([]byte(question))
	return suite + "-" + hex.EncodeToString(sum[:6])
}

// SplitOf assigns a question to a split by a hash of its text: about one
// question in five is a test question. Since the split depends on the
// question alone, the same question can never be in both.
func SplitOf(question string) Split {
	h := fnv.New64a()
	_, _ = h.Write([]byte(question))
	if h.Sum64()%5 == 0 {
		return Test
	}
	return Train
}

// args renders tool arguments as compact JSON with keys in the given order,
// the way the demonstrations teach the model to write them.
func args(kv ...string) json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv[i])
		v, _ := json.Marshal(kv[i+1])
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}

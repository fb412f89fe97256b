package redact

import (
	"encoding/json"
	"strconv"

	"github.com/reagent-go/reagent/trajectory"
)

// Trajectory returns t with secrets removed from every free-text string
// field: task, inputs, steps, LLM messages and completions, tool inputs and
// observations, errors, assessments, guard decisions and metadata (keys and
// values). Enumerations (statuses, verdicts) are left as they are. t is never
// modified: when it holds no secret it is returned as is, otherwise a
// redacted deep copy is returned.
func (r *Redactor) Trajectory(t *trajectory.Trajectory) *trajectory.Trajectory {
	if r == nil || t == nil {
		return t
	}
	scan := &scanner{r: r}
	walkTrajectory(t, scan)
	if !scan.found {
		return t
	}
	c := t.Clone()
	walkTrajectory(c, &rewriter{r: r})
	return c
}

// Assessment returns a with secrets removed from its text fields.
func (r *Redactor) Assessment(a trajectory.Assessment) trajectory.Assessment {
	if r == nil {
		return a
	}
	scan := &scanner{r: r}
	walkAssessment(&a, scan)
	if !scan.found {
		return a
	}
	a.Notes = append([]string(nil), a.Notes...)
	walkAssessment(&a, &rewriter{r: r})
	return a
}

// visitor sees every string the walkers reach; the same walkers serve the
// read-only scan and the rewrite, so both cover exactly the same fields.
type visitor interface {
	str(s *string)
	strMap(m map[string]string) map[string]string
	raw(m *json.RawMessage)
	done() bool
	// readOnly is true for the scan, which walks the caller's trajectory
	// and must not write to it (others may be reading it concurrently).
	readOnly() bool
}

type scanner struct {
	r     *Redactor
	found bool
}

func (s *scanner) done() bool     { return s.found }
func (s *scanner) readOnly() bool { return true }

func (s *scanner) str(p *string) {
	if !s.found && s.r.Contains(*p) {
		s.found = true
	}
}

func (s *scanner) strMap(m map[string]string) map[string]string {
	for k, v := range m {
		if s.found {
			break
		}
		s.str(&k)
		s.str(&v)
	}
	return m
}

func (s *scanner) raw(m *json.RawMessage) {
	if !s.found && len(*m) > 0 && s.r.Contains(string(*m)) {
		s.found = true
	}
}

type rewriter struct{ r *Redactor }

func (w *rewriter) done() bool     { return false }
func (w *rewriter) readOnly() bool { return false }

func (w *rewriter) str(p *string) { *p = w.r.String(*p) }

func (w *rewriter) strMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		k2 := w.r.String(k)
		// Two keys may redact to the same text; keep both values.
		for n := 2; ; n++ {
			if _, dup := out[k2]; !dup {
				break
			}
			k2 = w.r.String(k) + "#" + strconv.Itoa(n)
		}
		out[k2] = w.r.String(v)
	}
	return out
}

func (w *rewriter) raw(m *json.RawMessage) {
	if len(*m) == 0 {
		return
	}
	red := w.r.String(string(*m))
	if red == string(*m) {
		return
	}
	if json.Valid([]byte(red)) {
		*m = json.RawMessage(red)
		return
	}
	// The text rules cut through JSON syntax here: redact the decoded strings
	// instead.
	var v any
	if err := json.Unmarshal(*m, &v); err != nil {
		// Not JSON to begin with: keep it as a redacted JSON string.
		b, _ := json.Marshal(red)
		*m = b
		return
	}
	b, err := json.Marshal(w.redactAny(v))
	if err != nil {
		b, _ = json.Marshal(red)
	}
	*m = b
}

func (w *rewriter) redactAny(v any) any {
	switch x := v.(type) {
	case string:
		return w.r.String(x)
	case []any:
		for i := range x {
			x[i] = w.redactAny(x[i])
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[w.r.String(k)] = w.redactAny(e)
		}
		return out
	default:
		return v
	}
}

func walkTrajectory(t *trajectory.Trajectory, v visitor) {
	v.str(&t.ID)
	v.str(&t.Task)
	if m := v.strMap(t.Inputs); !v.readOnly() {
		t.Inputs = m
	}
	v.str(&t.Agent)
	v.str(&t.Model)
	for i := range t.Tools {
		s := &t.Tools[i]
		v.str(&s.Name)
		v.str(&s.Description)
		for j := range s.Tags {
			v.str(&s.Tags[j])
		}
		v.raw(&s.Parameters)
	}
	for i := range t.Steps {
		if v.done() {
			return
		}
		walkStep(&t.Steps[i], v)
	}
	v.str(&t.FinalAnswer)
	v.str(&t.Error)
	for i := range t.Assessments {
		walkAssessment(&t.Assessments[i], v)
	}
	for i := range t.Decisions {
		d := &t.Decisions[i]
		v.str(&d.Guard)
		v.str(&d.Reason)
		v.str(&d.Tool)
		v.str(&d.CallID)
		v.str(&d.Resolution)
		v.str(&d.ResolvedBy)
	}
	if m := v.strMap(t.Metadata); !v.readOnly() {
		t.Metadata = m
	}
	v.str(&t.ParentID)
	v.str(&t.GroupID)
	if t.Training != nil {
		v.str(&t.Training.Rule)
	}
}

func walkStep(s *trajectory.Step, v visitor) {
	v.str(&s.Thought)
	for i := range s.LLMCalls {
		c := &s.LLMCalls[i]
		v.str(&c.Model)
		for j := range c.Messages {
			m := &c.Messages[j]
			v.str(&m.Role)
			v.str(&m.Content)
			v.str(&m.Name)
			walkToolCallSpecs(m.ToolCalls, v)
			v.str(&m.ToolCallID)
		}
		v.str(&c.Completion)
		v.str(&c.Reasoning)
		walkToolCallSpecs(c.ToolCalls, v)
		v.str(&c.StopReason)
		v.str(&c.Error)
	}
	for i := range s.Calls {
		c := &s.Calls[i]
		v.str(&c.ID)
		v.str(&c.Tool)
		v.str(&c.Input)
		v.str(&c.Observation)
		v.str(&c.Error)
		v.str(&c.BlockedBy)
	}
	v.str(&s.Answer)
	v.str(&s.ParseError)
	v.str(&s.Critique)
}

func walkToolCallSpecs(specs []trajectory.ToolCallSpec, v visitor) {
	for i := range specs {
		v.str(&specs[i].ID)
		v.str(&specs[i].Name)
		v.str(&specs[i].Arguments)
	}
}

func walkAssessment(a *trajectory.Assessment, v visitor) {
	v.str(&a.Judge)
	v.str(&a.Model)
	v.str(&a.Error)
	v.str(&a.Think)
	v.str(&a.Critique)
	for i := range a.Notes {
		v.str(&a.Notes[i])
	}
	v.str(&a.Raw)
}

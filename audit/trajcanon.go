package audit

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/reagent-go/reagent/trajectory"
)

// The functions below write a trajectory's RFC 8785 form in one pass from
// the typed value, instead of encoding/json's output re-read by
// Canonicalize: keys are written in their canonical order, strings in
// canonical escaping, numbers as Canonicalize writes them. They produce
// exactly Canonicalize(trajectory.Marshal(t)); TestCanonicalTrajectory
// checks that on trajectories whose every field (found by reflection, so a
// field added later is covered) is set to random values. Whatever they do
// not handle exactly the same (a time outside what JSON can carry, a
// non-finite number, a map key that is not valid UTF-8, tool parameters
// that are not canonical-ready JSON) makes them report !ok, and the caller
// takes the two-pass path, which gives the same error as before.

// sizeHint is the size of the last trajectory encoded, so that the next
// one's buffer is allocated once rather than grown and copied.
var sizeHint atomic.Int64

// canonicalTrajectory returns Canonicalize(trajectory.Marshal(t)).
func canonicalTrajectory(t *trajectory.Trajectory) ([]byte, error) {
	hint := min(max(sizeHint.Load(), 1024), 1<<20)
	if b, ok := appendTrajectory(make([]byte, 0, hint+hint/4), t); ok {
		sizeHint.Store(int64(len(b)))
		return b, nil
	}
	raw, err := trajectory.Marshal(t)
	if err != nil {
		return nil, err
	}
	return Canonicalize(raw)
}

// encBufs keeps the one-pass encoder's buffers: a record leaves the
// preparer as text (the form the database takes), so the buffer is free
// again at once.
var encBufs = sync.Pool{New: func() any { return new([]byte) }}

// canonicalTrajectoryText returns canonicalTrajectory(t) as text, with the
// hex SHA-256 of its bytes, encoding into a pooled buffer.
func canonicalTrajectoryText(t *trajectory.Trajectory) (text, digest string, err error) {
	buf := encBufs.Get().(*[]byte)
	b, ok := appendTrajectory((*buf)[:0], t)
	if !ok {
		encBufs.Put(buf)
		payload, err := canonicalTrajectory(t)
		if err != nil {
			return "", "", err
		}
		return string(payload), payloadDigest(payload), nil
	}
	text, digest = string(b), payloadDigest(b)
	if cap(b) <= 4<<20 {
		*buf = b[:0]
		encBufs.Put(buf)
	}
	return text, digest, nil
}

// canonicalAssessment returns Canonicalize(json.Marshal(a)).
func canonicalAssessment(a *trajectory.Assessment) ([]byte, error) {
	if b, ok := appendAssessment(make([]byte, 0, 256), a); ok {
		return b, nil
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return Canonicalize(raw)
}

// tenc accumulates one canonical encoding; ok turns false at the first
// value it cannot write exactly as the two-pass path would.
type tenc struct {
	b  []byte
	ok bool
}

// key writes a member's key (given with its quotes and colon), preceded by
// a comma unless it is the first member of the object opened at mark.
func (e *tenc) key(mark int, k string) {
	if len(e.b) > mark {
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, k...)
}

// str writes s as a canonical JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json writes it.
func (e *tenc) str(s string) {
	b := append(e.b, '"')
	for i := 0; i < len(s); {
		start := i
		for i < len(s) && plainByte[s[i]] {
			i++
		}
		b = append(b, s[start:i]...)
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = appendStringRune(b, rune(c))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	e.b = append(b, '"')
}

// int writes v as Canonicalize writes encoding/json's integer: digit for
// digit below 10^15, else as the nearest double.
func (e *tenc) int(v int64) {
	if v > -1e15 && v < 1e15 {
		e.b = strconv.AppendInt(e.b, v, 10)
		return
	}
	e.b = appendFloat(e.b, float64(v))
}

func (e *tenc) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.ok = false // encoding/json refuses it
		return
	}
	e.b = appendFloat(e.b, f)
}

func (e *tenc) bool(v bool) {
	if v {
		e.b = append(e.b, "true"...)
	} else {
		e.b = append(e.b, "false"...)
	}
}

// time writes t as time.Time.MarshalJSON does (RFC 3339 with nanoseconds),
// and refuses what MarshalJSON refuses: a year outside 0–9999, a zone
// offset of 24 hours or more.
func (e *tenc) time(t time.Time) {
	b := append(e.b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	switch {
	case len(b) < n0+len("2006-01-02T15:04:05Z") || b[n0+4] != '-':
		e.ok = false
	case b[len(b)-1] != 'Z':
		c := b[len(b)-len("Z07:00")]
		h := b[len(b)-len("07:00"):]
		if ('0' <= c && c <= '9') || 10*(h[0]-'0')+(h[1]-'0') >= 24 {
			e.ok = false
		}
	}
	e.b = append(b, '"')
}

// strMap writes m with its keys in RFC 8785 order.
func (e *tenc) strMap(m map[string]string) {
	if m == nil {
		e.b = append(e.b, "null"...)
		return
	}
	var small [8]string
	keys := small[:0]
	for k := range m {
		if !utf8.ValidString(k) {
			e.ok = false // encoding/json would rewrite it; let it
			return
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return compareUTF16([]byte(a), []byte(b)) })
	e.b = append(e.b, '{')
	for i, k := range keys {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(k)
		e.b = append(e.b, ':')
		e.str(m[k])
	}
	e.b = append(e.b, '}')
}

func (e *tenc) strs(s []string) {
	if s == nil {
		e.b = append(e.b, "null"...)
		return
	}
	e.b = append(e.b, '[')
	for i, v := range s {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(v)
	}
	e.b = append(e.b, ']')
}

// raw writes embedded JSON in canonical form.
func (e *tenc) raw(m json.RawMessage) {
	if m == nil {
		e.b = append(e.b, "null"...)
		return
	}
	out, err := appendCanonical(e.b, m, FormRFC8785)
	if err != nil {
		e.ok = false
		return
	}
	e.b = out
}

// optFloat writes k (a key with its comma and colon) and *p unless p is
// nil (omitempty).
func (e *tenc) optFloat(k string, p *float64) {
	if p != nil {
		e.b = append(e.b, k...)
		e.float(*p)
	}
}

// optStr writes k (a key with its comma and colon) and v unless v is empty
// (omitempty).
func (e *tenc) optStr(k, v string) {
	if v != "" {
		e.b = append(e.b, k...)
		e.str(v)
	}
}

func appendTrajectory(dst []byte, t *trajectory.Trajectory) ([]byte, bool) {
	if t == nil {
		return dst, false
	}
	e := &tenc{b: dst, ok: true}
	e.b = append(e.b, `{"agent":`...)
	e.str(t.Agent)
	if len(t.Assessments) > 0 {
		e.b = append(e.b, `,"assessments":[`...)
		for i := range t.Assessments {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.assessment(&t.Assessments[i])
		}
		e.b = append(e.b, ']')
	}
	if len(t.Decisions) > 0 {
		e.b = append(e.b, `,"decisions":[`...)
		for i := range t.Decisions {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.decision(&t.Decisions[i])
		}
		e.b = append(e.b, ']')
	}
	if !t.EndedAt.IsZero() {
		e.b = append(e.b, `,"ended_at":`...)
		e.time(t.EndedAt)
	}
	if t.Error != "" {
		e.b = append(e.b, `,"error":`...)
		e.str(t.Error)
	}
	e.b = append(e.b, `,"final_answer":`...)
	e.str(t.FinalAnswer)
	if t.GroupID != "" {
		e.b = append(e.b, `,"group_id":`...)
		e.str(t.GroupID)
	}
	e.b = append(e.b, `,"id":`...)
	e.str(t.ID)
	if len(t.Inputs) > 0 {
		e.b = append(e.b, `,"inputs":`...)
		e.strMap(t.Inputs)
	}
	if len(t.Metadata) > 0 {
		e.b = append(e.b, `,"metadata":`...)
		e.strMap(t.Metadata)
	}
	if t.Model != "" {
		e.b = append(e.b, `,"model":`...)
		e.str(t.Model)
	}
	if t.ParentID != "" {
		e.b = append(e.b, `,"parent_id":`...)
		e.str(t.ParentID)
	}
	if t.Round != 0 {
		e.b = append(e.b, `,"round":`...)
		e.int(int64(t.Round))
	}
	e.b = append(e.b, `,"schema_version":`...)
	e.int(trajectory.SchemaVersion) // trajectory.Marshal writes the current version
	e.b = append(e.b, `,"started_at":`...)
	e.time(t.StartedAt)
	e.b = append(e.b, `,"status":`...)
	e.str(string(t.Status))
	e.b = append(e.b, `,"steps":`...)
	if t.Steps == nil {
		e.b = append(e.b, "null"...)
	} else {
		e.b = append(e.b, '[')
		for i := range t.Steps {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.step(&t.Steps[i])
		}
		e.b = append(e.b, ']')
	}
	e.b = append(e.b, `,"task":`...)
	e.str(t.Task)
	if len(t.Tools) > 0 {
		e.b = append(e.b, `,"tools":[`...)
		for i := range t.Tools {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.toolSpec(&t.Tools[i])
		}
		e.b = append(e.b, ']')
	}
	if t.Training != nil {
		e.b = append(e.b, `,"training":`...)
		e.training(t.Training)
	}
	if t.Usage != (trajectory.Usage{}) {
		e.b = append(e.b, `,"usage":`...)
		e.usage(t.Usage)
	}
	e.b = append(e.b, '}')
	return e.b, e.ok
}

func appendAssessment(dst []byte, a *trajectory.Assessment) ([]byte, bool) {
	e := &tenc{b: dst, ok: true}
	e.assessment(a)
	return e.b, e.ok
}

func (e *tenc) assessment(a *trajectory.Assessment) {
	e.b = append(e.b, `{"created_at":`...)
	e.time(a.CreatedAt)
	e.optStr(`,"critique":`, a.Critique)
	e.optStr(`,"error":`, a.Error)
	e.b = append(e.b, `,"judge":`...)
	e.str(a.Judge)
	e.b = append(e.b, `,"latency_ns":`...)
	e.int(int64(a.Latency))
	e.optStr(`,"model":`, a.Model)
	if len(a.Notes) > 0 {
		e.b = append(e.b, `,"notes":`...)
		e.strs(a.Notes)
	}
	if a.Partial {
		e.b = append(e.b, `,"partial":true`...)
	}
	e.optStr(`,"raw":`, a.Raw)
	e.b = append(e.b, `,"score":`...)
	e.float(a.Score)
	e.b = append(e.b, `,"status":`...)
	e.str(string(a.Status))
	e.b = append(e.b, `,"steps":`...)
	e.int(int64(a.Steps))
	e.optStr(`,"think":`, a.Think)
	e.b = append(e.b, '}')
}

func (e *tenc) decision(d *trajectory.Decision) {
	e.b = append(e.b, `{"at":`...)
	e.time(d.At)
	e.optStr(`,"call_id":`, d.CallID)
	e.b = append(e.b, `,"event":`...)
	e.str(string(d.Event))
	e.b = append(e.b, `,"guard":`...)
	e.str(d.Guard)
	e.optStr(`,"reason":`, d.Reason)
	e.optStr(`,"resolution":`, d.Resolution)
	e.optStr(`,"resolved_by":`, d.ResolvedBy)
	e.optFloat(`,"score":`, d.Score)
	e.b = append(e.b, `,"step":`...)
	e.int(int64(d.Step))
	e.optStr(`,"tool":`, d.Tool)
	e.b = append(e.b, `,"verdict":`...)
	e.str(string(d.Verdict))
	e.b = append(e.b, '}')
}

func (e *tenc) step(s *trajectory.Step) {
	e.b = append(e.b, '{')
	mark := len(e.b)
	if s.Answer != "" {
		e.key(mark, `"answer":`)
		e.str(s.Answer)
	}
	if s.Critique != "" {
		e.key(mark, `"critique":`)
		e.str(s.Critique)
	}
	e.key(mark, `"duration_ns":`)
	e.int(int64(s.Duration))
	if s.Final {
		e.b = append(e.b, `,"final":true`...)
	}
	e.b = append(e.b, `,"index":`...)
	e.int(int64(s.Index))
	if len(s.LLMCalls) > 0 {
		e.b = append(e.b, `,"llm_calls":[`...)
		for i := range s.LLMCalls {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.llmCall(&s.LLMCalls[i])
		}
		e.b = append(e.b, ']')
	}
	e.optStr(`,"parse_error":`, s.ParseError)
	e.b = append(e.b, `,"started_at":`...)
	e.time(s.StartedAt)
	e.optStr(`,"thought":`, s.Thought)
	if len(s.Calls) > 0 {
		e.b = append(e.b, `,"tool_calls":[`...)
		for i := range s.Calls {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.toolCall(&s.Calls[i])
		}
		e.b = append(e.b, ']')
	}
	e.b = append(e.b, '}')
}

func (e *tenc) llmCall(l *trajectory.LLMCall) {
	e.b = append(e.b, `{"completion":`...)
	e.str(l.Completion)
	e.b = append(e.b, `,"duration_ns":`...)
	e.int(int64(l.Duration))
	e.optStr(`,"error":`, l.Error)
	if len(l.Messages) > 0 {
		e.b = append(e.b, `,"messages":[`...)
		for i := range l.Messages {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.message(&l.Messages[i])
		}
		e.b = append(e.b, ']')
	}
	e.optStr(`,"model":`, l.Model)
	e.optStr(`,"reasoning":`, l.Reasoning)
	e.b = append(e.b, `,"started_at":`...)
	e.time(l.StartedAt)
	e.optStr(`,"stop_reason":`, l.StopReason)
	if len(l.ToolCalls) > 0 {
		e.b = append(e.b, `,"tool_calls":`...)
		e.callSpecs(l.ToolCalls)
	}
	if l.Usage != (trajectory.Usage{}) {
		e.b = append(e.b, `,"usage":`...)
		e.usage(l.Usage)
	}
	e.b = append(e.b, '}')
}

func (e *tenc) message(m *trajectory.Message) {
	e.b = append(e.b, `{"content":`...)
	e.str(m.Content)
	e.optStr(`,"name":`, m.Name)
	e.b = append(e.b, `,"role":`...)
	e.str(m.Role)
	e.optStr(`,"tool_call_id":`, m.ToolCallID)
	if len(m.ToolCalls) > 0 {
		e.b = append(e.b, `,"tool_calls":`...)
		e.callSpecs(m.ToolCalls)
	}
	e.b = append(e.b, '}')
}

func (e *tenc) callSpecs(specs []trajectory.ToolCallSpec) {
	e.b = append(e.b, '[')
	for i := range specs {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `{"arguments":`...)
		e.str(specs[i].Arguments)
		e.b = append(e.b, `,"id":`...)
		e.str(specs[i].ID)
		e.b = append(e.b, `,"name":`...)
		e.str(specs[i].Name)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, ']')
}

func (e *tenc) toolCall(c *trajectory.ToolCall) {
	e.b = append(e.b, '{')
	mark := len(e.b)
	if c.Blocked {
		e.b = append(e.b, `"blocked":true`...)
	}
	if c.BlockedBy != "" {
		e.key(mark, `"blocked_by":`)
		e.str(c.BlockedBy)
	}
	e.key(mark, `"duration_ns":`)
	e.int(int64(c.Duration))
	e.optStr(`,"error":`, c.Error)
	e.optStr(`,"id":`, c.ID)
	e.b = append(e.b, `,"input":`...)
	e.str(c.Input)
	e.b = append(e.b, `,"observation":`...)
	e.str(c.Observation)
	if c.Panicked {
		e.b = append(e.b, `,"panicked":true`...)
	}
	e.b = append(e.b, `,"started_at":`...)
	e.time(c.StartedAt)
	e.b = append(e.b, `,"tool":`...)
	e.str(c.Tool)
	if c.UnknownTool {
		e.b = append(e.b, `,"unknown_tool":true`...)
	}
	e.b = append(e.b, '}')
}

func (e *tenc) toolSpec(s *trajectory.ToolSpec) {
	e.b = append(e.b, '{')
	mark := len(e.b)
	if s.Description != "" {
		e.key(mark, `"description":`)
		e.str(s.Description)
	}
	e.key(mark, `"name":`)
	e.str(s.Name)
	if len(s.Parameters) > 0 {
		e.b = append(e.b, `,"parameters":`...)
		e.raw(s.Parameters)
	}
	if len(s.Tags) > 0 {
		e.b = append(e.b, `,"tags":`...)
		e.strs(s.Tags)
	}
	e.b = append(e.b, '}')
}

func (e *tenc) training(t *trajectory.Training) {
	e.b = append(e.b, `{"lambda":`...)
	e.float(t.Lambda)
	e.optFloat(`,"reward":`, t.Reward)
	e.optStr(`,"reward_status":`, string(t.Status))
	e.optFloat(`,"rrm_score":`, t.Score)
	e.optStr(`,"rule":`, t.Rule)
	e.b = append(e.b, `,"rule_reward":`...)
	e.float(t.RuleReward)
	e.b = append(e.b, '}')
}

func (e *tenc) usage(u trajectory.Usage) {
	e.b = append(e.b, '{')
	mark := len(e.b)
	if u.CompletionTokens != 0 {
		e.key(mark, `"completion_tokens":`)
		e.int(int64(u.CompletionTokens))
	}
	if u.PromptTokens != 0 {
		e.key(mark, `"prompt_tokens":`)
		e.int(int64(u.PromptTokens))
	}
	if u.TotalTokens != 0 {
		e.key(mark, `"total_tokens":`)
		e.int(int64(u.TotalTokens))
	}
	e.b = append(e.b, '}')
}

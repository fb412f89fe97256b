// Package trajectory defines one agent run as data: its steps, LLM calls,
// tool calls, guard decisions and RRM assessments, with a stable, versioned
// JSON form. Every other reagent package builds on these types.
package trajectory

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the version of the JSON form written by this package.
// Readers accept this version and reject newer ones with a clear error.
const SchemaVersion = 1

// Status says how a run ended.
type Status string

// Run statuses. StatusRunning marks a partial trajectory (one that is still
// being recorded, as seen by a guard or a per-step judge).
const (
	StatusRunning       Status = "running"
	StatusFinished      Status = "finished"
	StatusMaxIterations Status = "max-iterations"
	StatusParseError    Status = "parse-error"
	StatusError         Status = "error"
	StatusCancelled     Status = "cancelled"
	// StatusPanic marks a run whose agent (or a tool, when tool errors
	// abort) panicked; the panic went on to the caller.
	StatusPanic Status = "panic"
)

// Trajectory is one run of an agent on one task.
type Trajectory struct {
	SchemaVersion int               `json:"schema_version"`
	ID            string            `json:"id"`
	Task          string            `json:"task"`
	Inputs        map[string]string `json:"inputs,omitempty"`
	Agent         string            `json:"agent"`
	Model         string            `json:"model,omitempty"`
	Tools         []ToolSpec        `json:"tools,omitempty"`
	Steps         []Step            `json:"steps"`
	FinalAnswer   string            `json:"final_answer"`
	Status        Status            `json:"status"`
	Error         string            `json:"error,omitempty"`
	StartedAt     time.Time         `json:"started_at"`
	EndedAt       time.Time         `json:"ended_at,omitzero"`
	Usage         Usage             `json:"usage,omitzero"`
	Assessments   []Assessment      `json:"assessments,omitempty"`
	Decisions     []Decision        `json:"decisions,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	// ParentID and Round link a refined run (Reagent-C) to the run it refines;
	// the first attempt has Round 0 and no parent.
	ParentID string `json:"parent_id,omitempty"`
	Round    int    `json:"round,omitempty"`
	// GroupID ties samples of one training group together (GRPO, Reagent-U).
	GroupID string `json:"group_id,omitempty"`
	// Training holds the rewards of a run collected for training or
	// evaluation; nil for other runs. Runs collected before it existed keep
	// these figures as strings in Metadata (see reagent.TrainingOf).
	Training *Training `json:"training,omitempty"`
}

// Step is one iteration of the agent loop: the model's completion(s), the
// thought in it, the tool calls it asked for with their observations, or the
// final answer.
type Step struct {
	Index    int        `json:"index"`
	Thought  string     `json:"thought,omitempty"`
	LLMCalls []LLMCall  `json:"llm_calls,omitempty"`
	Calls    []ToolCall `json:"tool_calls,omitempty"`
	Final    bool       `json:"final,omitempty"`
	Answer   string     `json:"answer,omitempty"`
	// ParseError holds the text the agent could not parse from the model.
	ParseError string `json:"parse_error,omitempty"`
	// Critique is the RRM critique injected into this step's prompt, if any.
	Critique  string        `json:"critique,omitempty"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
}

// Message is one chat message of a prompt, in the OpenAI shape.
type Message struct {
	Role       string         `json:"role"`
	Content    string         `json:"content"`
	Name       string         `json:"name,omitempty"`
	ToolCalls  []ToolCallSpec `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

// ToolCallSpec is a tool call as the model asked for it (OpenAI shape,
// flattened).
type ToolCallSpec struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// LLMCall is one call to the agent's model.
type LLMCall struct {
	Model      string         `json:"model,omitempty"`
	Messages   []Message      `json:"messages,omitempty"`
	Completion string         `json:"completion"`
	Reasoning  string         `json:"reasoning,omitempty"`
	ToolCalls  []ToolCallSpec `json:"tool_calls,omitempty"`
	StopReason string         `json:"stop_reason,omitempty"`
	Usage      Usage          `json:"usage,omitzero"`
	Error      string         `json:"error,omitempty"`
	StartedAt  time.Time      `json:"started_at"`
	Duration   time.Duration  `json:"duration_ns"`
}

// ToolCall is one tool call with its outcome. A blocked call has Blocked set
// and was never executed; its Observation is what the agent was shown.
type ToolCall struct {
	ID          string        `json:"id,omitempty"`
	Tool        string        `json:"tool"`
	Input       string        `json:"input"`
	Observation string        `json:"observation"`
	Error       string        `json:"error,omitempty"`
	Panicked    bool          `json:"panicked,omitempty"`
	UnknownTool bool          `json:"unknown_tool,omitempty"`
	Blocked     bool          `json:"blocked,omitempty"`
	BlockedBy   string        `json:"blocked_by,omitempty"`
	StartedAt   time.Time     `json:"started_at"`
	Duration    time.Duration `json:"duration_ns"`
}

// Usage counts tokens when the model reports them.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens,omitempty"`
	CompletionTokens int `json:"completion_tokens,omitempty"`
	TotalTokens      int `json:"total_tokens,omitempty"`
}

// Add returns the sum of two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{
		PromptTokens:     u.PromptTokens + o.PromptTokens,
		CompletionTokens: u.CompletionTokens + o.CompletionTokens,
		TotalTokens:      u.TotalTokens + o.TotalTokens,
	}
}

// ToolSpec describes a tool to guards, judges and trainers.
type ToolSpec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Tags classify the tool for guardrails: "read-only", "egress",
	// "secret", "risky", or any user tag.
	Tags []string `json:"tags,omitempty"`
	// Parameters is the JSON schema of the tool's arguments, if it has one.
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// HasTag reports whether the tool carries tag.
func (s ToolSpec) HasTag(tag string) bool {
	for _, t := range s.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Specifier is implemented by tools that describe themselves with tags and a
// JSON schema. Tools that do not implement it get a spec with name and
// description only.
type Specifier interface {
	ToolSpec() ToolSpec
}

// AssessmentStatus says whether a judgment succeeded.
type AssessmentStatus string

// Assessment statuses. An assessment with StatusError carries no score:
// consumers must never read its Score as a 0 or 1.
const (
	AssessmentOK    AssessmentStatus = "ok"
	AssessmentError AssessmentStatus = "error"
)

// Assessment is a reasoning reward model's judgment of a trajectory (or of
// its first Steps steps, for gating and critique injection).
type Assessment struct {
	Judge    string           `json:"judge"`
	Model    string           `json:"model,omitempty"`
	Status   AssessmentStatus `json:"status"`
	Error    string           `json:"error,omitempty"`
	Think    string           `json:"think,omitempty"`
	Critique string           `json:"critique,omitempty"`
	Score    float64          `json:"score"`
	// Notes records what the parser had to repair (a clamped score, a
	// missing tag), so that nothing is adjusted silently.
	Notes []string `json:"notes,omitempty"`
	Raw   string   `json:"raw,omitempty"`
	// Partial is set when only the first Steps steps were judged.
	Partial   bool          `json:"partial,omitempty"`
	Steps     int           `json:"steps"`
	Latency   time.Duration `json:"latency_ns"`
	CreatedAt time.Time     `json:"created_at"`
}

// OK reports whether the assessment holds a usable score.
func (a Assessment) OK() bool { return a.Status == AssessmentOK }

// Verdict is a guard's answer.
type Verdict string

// Verdicts, in increasing order of precedence when combined: Block wins,
// then Escalate, then Allow.
const (
	Allow    Verdict = "allow"
	Escalate Verdict = "escalate"
	Block    Verdict = "block"
)

// GuardEvent names the point of the run at which a guard decided.
type GuardEvent string

// Guard events.
const (
	EventToolCall    GuardEvent = "tool_call"
	EventToolResult  GuardEvent = "tool_result"
	EventFinalAnswer GuardEvent = "final_answer"
)

// Decision is one guard's decision at one event. Every guard's decision is
// kept, not only the combined one.
type Decision struct {
	Guard   string     `json:"guard"`
	Event   GuardEvent `json:"event"`
	Verdict Verdict    `json:"verdict"`
	Reason  string     `json:"reason,omitempty"`
	Score   *float64   `json:"score,omitempty"`
	Step    int        `json:"step"`
	Tool    string     `json:"tool,omitempty"`
	CallID  string     `json:"call_id,omitempty"`
	// Resolution records how an escalation ended: "approved", "denied" or
	// "timeout", and by whom.
	Resolution string    `json:"resolution,omitempty"`
	ResolvedBy string    `json:"resolved_by,omitempty"`
	At         time.Time `json:"at"`
}

// Broken reports whether a run with this status broke rather than ended on
// its own terms: an error, a cancellation or a panic. Such runs carry no
// signal about the agent's reasoning and are left out of training by default.
func (s Status) Broken() bool {
	return s == StatusError || s == StatusCancelled || s == StatusPanic
}

// Ended reports whether the run has a final status.
func (t *Trajectory) Ended() bool { return t.Status != "" && t.Status != StatusRunning }

// ToolCalls returns every tool call of the run in order.
func (t *Trajectory) ToolCalls() []ToolCall {
	var out []ToolCall
	for _, s := range t.Steps {
		out = append(out, s.Calls...)
	}
	return out
}

// LastAssessment returns the most recent assessment, if any.
func (t *Trajectory) LastAssessment() (Assessment, bool) {
	if len(t.Assessments) == 0 {
		return Assessment{}, false
	}
	return t.Assessments[len(t.Assessments)-1], true
}

// Clone returns a deep copy, so that a snapshot handed to a guard or judge
// cannot race with the recorder.
func (t *Trajectory) Clone() *Trajectory {
	if t == nil {
		return nil
	}
	c := *t
	c.Inputs = cloneMap(t.Inputs)
	c.Metadata = cloneMap(t.Metadata)
	c.Tools = make([]ToolSpec, len(t.Tools))
	for i, s := range t.Tools {
		s.Tags = append([]string(nil), s.Tags...)
		s.Parameters = append(json.RawMessage(nil), s.Parameters...)
		c.Tools[i] = s
	}
	c.Steps = make([]Step, len(t.Steps))
	for i, s := range t.Steps {
		s.Calls = append([]ToolCall(nil), s.Calls...)
		s.LLMCalls = append([]LLMCall(nil), s.LLMCalls...)
		for j := range s.LLMCalls {
			l := &s.LLMCalls[j]
			l.ToolCalls = append([]ToolCallSpec(nil), l.ToolCalls...)
			l.Messages = append([]Message(nil), l.Messages...)
			for k := range l.Messages {
				l.Messages[k].ToolCalls = append([]ToolCallSpec(nil), l.Messages[k].ToolCalls...)
			}
		}
		c.Steps[i] = s
	}
	c.Assessments = append([]Assessment(nil), t.Assessments...)
	for i := range c.Assessments {
		c.Assessments[i].Notes = append([]string(nil), c.Assessments[i].Notes...)
	}
	c.Training = t.Training.Clone()
	c.Decisions = append([]Decision(nil), t.Decisions...)
	for i, d := range c.Decisions {
		if d.Score != nil {
			v := *d.Score
			c.Decisions[i].Score = &v
		}
	}
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

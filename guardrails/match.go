package guardrails

import (
	"encoding/binary"
	"strings"

	"github.com/reagent-go/reagent/trajectory"
	"golang.org/x/text/unicode/norm"
)

// Common tool tags.
const (
	TagRisky    = "risky"
	TagSecret   = "secret"
	TagEgress   = "egress"
	TagReadOnly = "read-only"
)

// ToolMatch selects tools by name (case-insensitive) or by tag. The zero
// value matches no tool; guards document when an empty match means "every
// tool".
type ToolMatch struct {
	Names []string `json:"names,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

// Empty reports whether the match lists nothing.
func (m ToolMatch) Empty() bool { return len(m.Names) == 0 && len(m.Tags) == 0 }

// Tools returns a match on tool names.
func Tools(names ...string) ToolMatch { return ToolMatch{Names: names} }

// Tagged returns a match on tool tags.
func Tagged(tags ...string) ToolMatch { return ToolMatch{Tags: tags} }

// String describes the match ("tools a, b; tags c").
func (m ToolMatch) String() string {
	var parts []string
	if len(m.Names) > 0 {
		parts = append(parts, "tools "+strings.Join(m.Names, ", "))
	}
	if len(m.Tags) > 0 {
		parts = append(parts, "tags "+strings.Join(m.Tags, ", "))
	}
	if len(parts) == 0 {
		return "no tools"
	}
	return strings.Join(parts, "; ")
}

// matches reports whether tool, as known to the event, is selected, and by
// which tag ("" when by name); matchReason words that for a decision.
func (m ToolMatch) matches(ev *Event, tool string) (ok bool, tag string) {
	for _, n := range m.Names {
		if sameName(n, tool) {
			return true, ""
		}
	}
	for _, t := range m.Tags {
		if hasTag(ev, tool, t) {
			return true, t
		}
	}
	return false, ""
}

// matchReason says why a tool matched: "name" or "tag X".
func matchReason(tag string) string {
	if tag == "" {
		return "name"
	}
	return "tag " + tag
}

// hasTag looks for tag on tool in the event's tool spec, the run's tool
// specs, and the policy's tags (set on the event by the Chain).
func hasTag(ev *Event, tool, tag string) bool {
	if ev != nil {
		if sameName(ev.Tool.Name, tool) && ev.Tool.HasTag(tag) {
			return true
		}
		if ev.Trajectory != nil {
			for _, s := range ev.Trajectory.Tools {
				if sameName(s.Name, tool) && s.HasTag(tag) {
					return true
				}
			}
		}
	}
	if ev != nil && ev.tags != nil {
		for _, t := range ev.tags(tool) {
			if t == tag {
				return true
			}
		}
	}
	return false
}

// sameName compares tool names as langchaingo does (case-insensitively),
// after Unicode compatibility folding and trimming.
func sameName(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if strings.EqualFold(a, b) {
		return true
	}
	if isASCII(a) && isASCII(b) { // canonName would only trim and lower-case
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	return canonName(a) == canonName(b)
}

func canonName(s string) string {
	s = strings.TrimSpace(s)
	if !isASCII(s) {
		s = norm.NFKC.String(s)
	}
	return strings.ToLower(s)
}

func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if binary.LittleEndian.Uint64([]byte(s[i:i+8]))&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allow(reason string) trajectory.Decision {
	return trajectory.Decision{Verdict: trajectory.Allow, Reason: reason}
}

func decide(v trajectory.Verdict, reason string) trajectory.Decision {
	return trajectory.Decision{Verdict: v, Reason: reason}
}

func scored(d trajectory.Decision, score float64) trajectory.Decision {
	d.Score = &score
	return d
}

// callInput returns the input of the call being checked.
func callInput(ev *Event) string {
	if ev.Call == nil {
		return ""
	}
	return ev.Call.Input
}

// verdictOr returns v when it is Block or Escalate, else def.
func verdictOr(v, def trajectory.Verdict) trajectory.Verdict {
	if v == trajectory.Block || v == trajectory.Escalate {
		return v
	}
	return def
}

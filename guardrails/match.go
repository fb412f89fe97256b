package guardrails

import (
	"encoding/binary"
	"strings"
	"unicode"

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
// specs, and the policy's tags (set on the event by the Chain). A tool whose
// name says it reaches the network (see NetworkShapedName) has the egress tag
// whatever else it has.
func hasTag(ev *Event, tool, tag string) bool {
	if ev == nil || !ev.memoOn {
		return findTag(ev, tool, tag)
	}
	for i := range ev.nTagMemo {
		if a := &ev.tagMemo[i]; a.tool == tool && a.tag == tag {
			return a.has
		}
	}
	has := findTag(ev, tool, tag)
	if ev.nTagMemo < len(ev.tagMemo) {
		ev.tagMemo[ev.nTagMemo] = tagAnswer{tool: tool, tag: tag, has: has}
		ev.nTagMemo++
	}
	return has
}

// findTag is hasTag without the memo. Cheapest tests first: a spec's
// tags before its name, the name's shape last.
func findTag(ev *Event, tool, tag string) bool {
	if ev != nil {
		if ev.Tool.HasTag(tag) && sameName(ev.Tool.Name, tool) {
			return true
		}
		if ev.Trajectory != nil {
			for _, s := range ev.Trajectory.Tools {
				if s.HasTag(tag) && sameName(s.Name, tool) {
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
	return tag == TagEgress && NetworkShapedName(tool)
}

// sameName compares tool names as langchaingo does (case-insensitively),
// after Unicode compatibility folding and trimming.
func sameName(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	if isASCII(a) && isASCII(b) {
		// canonName would only trim and lower-case, and ASCII case folding
		// keeps lengths: names of different lengths differ.
		if edgeSpace(a) || edgeSpace(b) {
			a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		}
		return len(a) == len(b) && strings.EqualFold(a, b)
	}
	return strings.EqualFold(a, b) || canonName(a) == canonName(b)
}

// edgeSpace reports whether non-empty ASCII s may start or end with
// white space (TrimSpace would change it).
func edgeSpace(s string) bool { return s[0] <= ' ' || s[len(s)-1] <= ' ' }

func canonName(s string) string {
	if canonASCII(s) {
		return s // nothing to trim, fold or lower-case (FuzzCanonName)
	}
	return canonNameSlow(s)
}

// canonASCII reports whether s is ASCII without upper-case letters and
// without white space or control bytes at either end.
func canonASCII(s string) bool {
	if s != "" && (s[0] <= ' ' || s[len(s)-1] <= ' ') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c >= 'A' && c <= 'Z' {
			return false
		}
	}
	return true
}

// canonNameSlow is canonName without the shortcut.
func canonNameSlow(s string) string {
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

// networkWords are the words of a tool name that say it reaches the
// network: fetch, web_fetch, requests_get, http_get, curl, download_url, ….
var networkWords = map[string]bool{
	"fetch": true, "http": true, "https": true, "curl": true, "wget": true, "url": true, "urls": true,
	"uri": true, "web": true, "webpage": true, "website": true, "browse": true, "browser": true,
	"download": true, "scrape": true, "scraper": true, "crawl": true, "crawler": true, "webhook": true,
	"requests": true, "httpx": true, "urllib": true, "axios": true, "websearch": true,
	"webfetch": true, "httpget": true, "urlfetch": true, "fetchurl": true, "geturl": true,
}

// NetworkShapedName reports whether a tool's name says it reaches the
// network (a word such as fetch, http, url, web, curl, download, requests),
// so that policies treat it as tagged egress even when nobody tagged it.
// Words are split at any non-letter and at lower-to-upper case changes
// ("webFetch", "requests_get", "HTTP-GET").
func NetworkShapedName(tool string) bool {
	if isASCII(tool) {
		return networkShapedASCII(tool)
	}
	return networkShapedAny(tool)
}

// networkShapedAny is NetworkShapedName for any name (NFKC-folded first).
func networkShapedAny(tool string) bool {
	name := canonName(tool)
	if name == "" {
		return false
	}
	raw := strings.TrimSpace(tool)
	if !isASCII(raw) {
		raw = norm.NFKC.String(raw)
	}
	var words []string
	start := -1
	rs := []rune(raw)
	for i, c := range rs {
		letter := unicode.IsLetter(c) || unicode.IsDigit(c)
		boundary := !letter || (i > 0 && unicode.IsUpper(c) && unicode.IsLower(rs[i-1]))
		if boundary && start >= 0 {
			words = append(words, strings.ToLower(string(rs[start:i])))
			start = -1
		}
		if letter && start < 0 {
			start = i
		}
	}
	if start >= 0 {
		words = append(words, strings.ToLower(string(rs[start:])))
	}
	for _, w := range words {
		if networkWords[w] {
			return true
		}
	}
	return networkWords[strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, name)]
}

// networkShapedASCII is NetworkShapedName for ASCII names, without
// allocating: it runs on every tag check of every tool call.
func networkShapedASCII(s string) bool {
	isAlnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	var word, joined [32]byte
	nj := 0
	lookup := func(w string) bool {
		if len(w) > len(word) {
			return false
		}
		for i := 0; i < len(w); i++ {
			word[i] = lowerByte(w[i])
		}
		return networkWords[string(word[:len(w)])]
	}
	start := -1
	for i := 0; i <= len(s); i++ {
		letter := i < len(s) && isAlnum(s[i])
		boundary := !letter || (i > 0 && s[i] >= 'A' && s[i] <= 'Z' && s[i-1] >= 'a' && s[i-1] <= 'z')
		if boundary && start >= 0 {
			if lookup(s[start:i]) {
				return true
			}
			start = -1
		}
		if letter {
			if start < 0 {
				start = i
			}
			if nj < len(joined) {
				joined[nj] = lowerByte(s[i])
			}
			nj++
		}
	}
	return nj <= len(joined) && networkWords[string(joined[:nj])]
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

package guardrails

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/reagent-go/reagent/internal/trunc"
	"github.com/reagent-go/reagent/trajectory"
)

// ArgRule checks a tool's input with regular expressions, on the raw input
// or on one JSON field.
//
// Values are matched in several forms: as given, with percent-encoding and
// HTML references decoded, and normalized (case, Unicode compatibility
// forms, accents, invisible characters, look-alike letters, runs of white
// space); in raw mode every JSON string in the input is matched decoded as
// well. Deny blocks when any form matches; Allow blocks unless every form
// matches. When Field is set but the input is not JSON, the raw input is
// checked instead (fail closed).
type ArgRule struct {
	Name string
	// Tools selects the tools the rule applies to; empty means every tool.
	Tools ToolMatch
	// Field is a dotted JSON path ("url", "headers.Authorization",
	// "items.*.path"); keys compare case-insensitively. Empty: the raw input.
	Field string
	// Deny is a pattern that must not match; Allow one that must.
	Deny, Allow string
	// CaseSensitive turns off the default (?i).
	CaseSensitive bool
	// Verdict is Block (default) or Escalate.
	Verdict trajectory.Verdict
}

type compiledRule struct {
	ArgRule
	field        []string
	deny, allowR *regexp.Regexp
	denyLits     *litFilter // literals every deny match contains
	verdict      trajectory.Verdict
}

// ArgGuard applies argument rules to tool calls.
type ArgGuard struct {
	rules []compiledRule
}

// NewArgGuard compiles rules. A rule needs a Deny or an Allow pattern.
func NewArgGuard(rules ...ArgRule) (*ArgGuard, error) {
	g := &ArgGuard{}
	for i, r := range rules {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("rule %d", i+1)
			r.Name = name
		}
		if r.Deny == "" && r.Allow == "" {
			return nil, fmt.Errorf("argument %s: needs a deny or an allow pattern", name)
		}
		cr := compiledRule{ArgRule: r, field: splitField(r.Field), verdict: verdictOr(r.Verdict, trajectory.Block)}
		if r.Verdict != "" && r.Verdict != trajectory.Block && r.Verdict != trajectory.Escalate {
			return nil, fmt.Errorf("argument %s: verdict %q must be block or escalate", name, r.Verdict)
		}
		var err error
		if r.Deny != "" {
			if cr.deny, err = compilePattern(r.Deny, r.CaseSensitive); err != nil {
				return nil, fmt.Errorf("argument %s: deny: %w", name, err)
			}
			cr.denyLits = newLitFilter(cr.deny)
		}
		if r.Allow != "" {
			if cr.allowR, err = compilePattern(r.Allow, r.CaseSensitive); err != nil {
				return nil, fmt.Errorf("argument %s: allow: %w", name, err)
			}
		}
		g.rules = append(g.rules, cr)
	}
	return g, nil
}

func compilePattern(p string, caseSensitive bool) (*regexp.Regexp, error) {
	if !caseSensitive {
		p = "(?i)" + p
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("bad regular expression: %w", err)
	}
	return re, nil
}

// Name returns "arguments".
func (g *ArgGuard) Name() string { return "arguments" }

// Handles reports that the guard checks tool calls only.
func (g *ArgGuard) Handles(kind trajectory.GuardEvent) bool {
	return kind == trajectory.EventToolCall
}

// Check applies every rule that selects the tool; the first that fails
// decides.
func (g *ArgGuard) Check(_ context.Context, ev *Event) trajectory.Decision {
	tool := toolName(ev)
	input := callInput(ev)
	var (
		parsed    bool
		values    []jsonValue
		unescaped string
		jsonErr   error
		checked   int
		escalated *trajectory.Decision
		memo      variantMemo
	)
	for i := range g.rules {
		r := &g.rules[i]
		if !r.Tools.Empty() {
			if ok, _ := r.Tools.matches(ev, tool); !ok {
				continue
			}
		}
		if !parsed {
			if d, big := tooLarge(input); big {
				return d
			}
			pc := ev.parsed()
			values, jsonErr, unescaped = pc.values, pc.err, pc.unescaped
			// Lenient JSON (NaN, trailing commas) is read with its values,
			// as the tool will read it.
			if jsonErr != nil && pc.lenient {
				jsonErr = nil
			}
			parsed = true
		}
		checked++
		reason, failed := r.check(input, unescaped, values, jsonErr == nil, &memo)
		if !failed {
			continue
		}
		d := decide(r.verdict, fmt.Sprintf("%s: %s", r.Name, reason))
		if r.verdict == trajectory.Block {
			return d
		}
		if escalated == nil {
			escalated = &d
		}
	}
	if escalated != nil {
		return *escalated
	}
	if checked == 0 {
		return allow("no argument rule for this tool")
	}
	if len(input) > maxJSONWalk && looksLikeJSON(input) {
		// Field rules could only be read against the raw text: the
		// patterns found nothing, but a person decides.
		return decide(trajectory.Escalate, fmt.Sprintf("input is %d bytes, over the %d the guards parse as JSON: checked as raw text only", len(input), maxJSONWalk))
	}
	return allow("argument rules passed") // constant: this is the hot path
}

// check returns why the rule fails, if it does. unescaped is the input with
// escapes undone when no JSON reading accepted it ("" otherwise): deny
// patterns see it too, so "\u0072m -rf" in broken JSON is still "rm -rf".
func (r *compiledRule) check(input, unescaped string, values []jsonValue, isJSON bool, memo *variantMemo) (string, bool) {
	var buf [8]string
	targets := buf[:0]
	where := "input"
	switch {
	case len(r.field) == 0:
		targets = append(targets, input)
		if unescaped != "" {
			targets = append(targets, unescaped)
		}
		if isJSON {
			for _, v := range values {
				if v.isText {
					targets = append(targets, v.text)
				}
			}
		}
	case !isJSON:
		targets = append(targets, input)
		if unescaped != "" {
			targets = append(targets, unescaped)
		}
		where = "input (not JSON)"
	default:
		where = "field " + r.Field
		for _, v := range values {
			if pathMatches(r.field, v.path) {
				targets = append(targets, v.text)
			}
		}
		if len(targets) == 0 {
			if r.allowR != nil {
				return fmt.Sprintf("%s is missing", where), true
			}
			return "", false
		}
	}
	for _, t := range targets {
		for _, v := range memo.of(t, !r.CaseSensitive) {
			if r.deny != nil && r.denyLits.mayMatch(v) && r.deny.MatchString(v) {
				return fmt.Sprintf("%s matches denied pattern %q", where, r.Deny), true
			}
		}
	}
	if r.allowR != nil {
		// In raw mode the whole input must have the allowed shape; in field
		// mode every value of the field must.
		if len(r.field) == 0 || !isJSON {
			targets = targets[:1]
		}
		for _, t := range targets {
			for _, v := range memo.of(t, !r.CaseSensitive) {
				if !r.allowR.MatchString(v) {
					return fmt.Sprintf("%s %s does not match allowed pattern %q", where, trunc.Quote(v, 60), r.Allow), true
				}
			}
		}
	}
	return "", false
}

// Describe summarizes the rules.
func (g *ArgGuard) Describe() string {
	var names []string
	for _, r := range g.rules {
		names = append(names, r.Name)
	}
	return fmt.Sprintf("arguments: %d rule(s): %s", len(g.rules), strings.Join(names, ", "))
}

// variantMemo computes the variants of each value once per check, however
// many rules look at it. Its first entries live in the memo itself (no
// pointer into itself, so that a check's memo stays on the stack).
type variantMemo struct {
	n     int
	buf   [6]memoEntry
	extra []memoEntry
}

type memoEntry struct {
	key      string
	foldCase bool
	set      variantSet
}

func (m *variantMemo) of(s string, foldCase bool) []string {
	for i := 0; i < m.n; i++ {
		if e := &m.buf[i]; e.key == s && e.foldCase == foldCase {
			return e.set.forms()
		}
	}
	for i := range m.extra {
		if e := &m.extra[i]; e.key == s && e.foldCase == foldCase {
			return e.set.forms()
		}
	}
	e := memoEntry{key: s, foldCase: foldCase, set: variants(s, foldCase)}
	if m.n < len(m.buf) {
		m.buf[m.n] = e
		m.n++
		return m.buf[m.n-1].set.forms()
	}
	m.extra = append(m.extra, e)
	return m.extra[len(m.extra)-1].set.forms()
}

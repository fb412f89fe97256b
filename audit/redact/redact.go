// Package redact removes secrets from text and from whole trajectories before
// they are persisted: API keys, bearer tokens and Authorization headers,
// passwords in URLs, exact secret values registered by callers, and user
// patterns. It has no storage dependencies, so tools can import it to register
// the secrets they read.
package redact

import (
	"fmt"
	"math/bits"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/zricethezav/gitleaks/v8/config"
)

// Redactor replaces secrets in strings. It is safe for concurrent use;
// AddSecrets may be called while other goroutines redact.
type Redactor struct {
	rules   []rule
	global  []*config.Allowlist // gitleaks' global allowlists
	pf      *prefilter
	always  ruleSet // rules without needles: run on every string
	mask    func(name string) string
	maxText int             // longest text kept, in bytes; 0: no limit
	noWin   bool            // read every text whole (tests compare the windows against it)
	names   map[string]bool // the rules' names, to recognise masks already written
	mu      sync.Mutex      // serialises AddSecrets
	secrets atomic.Pointer[[]string]
}

// DefaultMaxText is the longest text a Redactor keeps by default (1 MiB):
// a tool observation of 10 MB is cut to its first MiB with a note, so that
// screening and storing it stay bounded in time and memory.
const DefaultMaxText = 1 << 20

// WithMaxText sets the longest text kept, in bytes; longer text is cut (at
// a UTF-8 boundary) before it is redacted, and a note saying how much was
// dropped is appended. 0 keeps text of any length.
func WithMaxText(n int) Option {
	return func(r *Redactor) error {
		if n < 0 {
			return fmt.Errorf("redact: WithMaxText(%d): the limit cannot be negative", n)
		}
		r.maxText = n
		return nil
	}
}

// truncate cuts s to the limit, with a note.
func (r *Redactor) truncate(s string) string {
	if r.maxText <= 0 || len(s) <= r.maxText {
		return s
	}
	// The note fits within the limit, so a cut text is not cut again.
	cut := max(0, r.maxText-64)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n[TRUNCATED: %d of %d bytes kept]", cut, len(s))
}

// rule is one pattern. When the pattern has a group named "secret", only that
// group is replaced, so context such as "Bearer " or "password=" survives;
// gitleaks rules replace their secret group the same way.
type rule struct {
	name    string
	re      *regexp.Regexp
	group   int      // index of the secret group, 0 for the whole match (gitleaks: first non-empty group)
	needles []string // the pattern runs only when one of these occurs (ignoring ASCII case); none means always
	accept  func(secret string) bool
	maxLen  int // the longest text a match can span in bytes, 0 when unbounded or very long
	// opAfter: the rule is gitleaks' "identifier, then an assignment
	// operator" shape, so an assignment operator follows each keyword
	// that starts a match within opReach bytes.
	opAfter  bool
	identLen int // opAfter: the longest identifier, in bytes

	builtin  bool                // one of the project's own rules
	gitleaks bool                // from gitleaks' rule set
	entropy  float64             // gitleaks: the secret's entropy must exceed this
	allow    []*config.Allowlist // gitleaks: the rule's allowlists
}

// Option configures a Redactor.
type Option func(*Redactor) error

// WithPattern adds a user rule: every match of the regular expression (Go
// RE2 syntax) is replaced by "[REDACTED:name]", or only its named group
// "secret" when it has one. New reports an invalid expression.
func WithPattern(name, expr string) Option {
	return func(r *Redactor) error {
		if name == "" {
			return fmt.Errorf("redact: pattern %q needs a name", expr)
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return fmt.Errorf("redact: pattern %q: %w", name, err)
		}
		ru := rule{name: name, re: re, group: re.SubexpIndex("secret"), maxLen: matchLimit(re)}
		if ru.group < 0 {
			ru.group = 0
		}
		// A literal prefix is a safe pre-filter: no match can exist without it.
		if prefix, _ := re.LiteralPrefix(); prefix != "" {
			ru.needles = []string{prefix}
		}
		r.rules = append(r.rules, ru)
		return nil
	}
}

// WithSecrets registers exact secret values (for example header values read
// from environment variables). Empty and all-blank values are ignored.
func WithSecrets(values ...string) Option {
	return func(r *Redactor) error {
		r.AddSecrets(values...)
		return nil
	}
}

// WithoutDefaults drops the built-in rules and gitleaks' rules, leaving only
// user patterns and registered secrets.
func WithoutDefaults() Option {
	return func(r *Redactor) error {
		r.rules = slices.DeleteFunc(r.rules, func(ru rule) bool { return ru.builtin || ru.gitleaks })
		r.global = nil
		return nil
	}
}

// WithoutGitleaks drops gitleaks' rules, leaving the project's own rules
// (see Rules), user patterns and registered secrets. It exists to measure
// what the rule set adds; a deployment should keep it.
func WithoutGitleaks() Option {
	return func(r *Redactor) error {
		r.rules = slices.DeleteFunc(r.rules, func(ru rule) bool { return ru.gitleaks })
		return nil
	}
}

// WithMask changes the replacement text; mask receives the rule's name
// ("secret" for registered values). The default is "[REDACTED:name]".
func WithMask(mask func(name string) string) Option {
	return func(r *Redactor) error {
		if mask == nil {
			return fmt.Errorf("redact: WithMask needs a function")
		}
		r.mask = mask
		return nil
	}
}

// New returns a Redactor with the built-in rules and gitleaks' rules (see
// Rules) plus opts. Only an invalid option, or a gitleaks rule set that
// fails to compile, makes it fail.
func New(opts ...Option) (*Redactor, error) {
	gl, err := gitleaksRules()
	if err != nil {
		return nil, err
	}
	r := &Redactor{rules: slices.Concat(builtinRules(), gl.rules), global: gl.global, mask: defaultMask, maxText: DefaultMaxText}
	r.secrets.Store(&[]string{})
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	// User patterns run after the built-in rules and before gitleaks'.
	slices.SortStableFunc(r.rules, func(a, b rule) int { return rank(a) - rank(b) })
	r.index()
	return r, nil
}

func rank(r rule) int {
	switch {
	case r.builtin:
		return 0
	case r.gitleaks:
		return 2
	}
	return 1
}

// Default returns a Redactor with the built-in rules and gitleaks' rules.
// It panics only if gitleaks' embedded rule set does not compile, a broken
// build that every test of this package reports.
func Default() *Redactor {
	r, err := New()
	if err != nil {
		panic(err)
	}
	return r
}

// index builds the prefilter over the rules' needles.
func (r *Redactor) index() {
	r.names = make(map[string]bool, len(r.rules))
	for _, ru := range r.rules {
		r.names[ru.name] = true
	}
	needles := make([][]string, 0, min(len(r.rules), maxIndexed))
	r.always = ruleSet{}
	for i, ru := range r.rules {
		if i >= maxIndexed {
			break
		}
		needles = append(needles, ru.needles)
		if len(ru.needles) == 0 {
			r.always.add(i)
		}
	}
	r.pf = buildPrefilter(needles)
}

// candidates returns the rules that may match s.
func (r *Redactor) candidates(s string) ruleSet {
	m := r.always
	r.pf.scan(s, &m)
	return m
}

func defaultMask(name string) string { return "[REDACTED:" + name + "]" }

// Rules returns the names of the active rules, in the order they run.
func (r *Redactor) Rules() []string {
	names := make([]string, len(r.rules))
	for i, ru := range r.rules {
		names[i] = ru.name
	}
	return names
}

// AddSecrets registers exact values to redact from now on, with their
// URL-encoded forms. Empty and all-blank values are ignored, since replacing
// them would destroy the record rather than protect anything.
func (r *Redactor) AddSecrets(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.secrets.Load()
	next := slices.Clone(cur)
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			if !slices.Contains(next, form) {
				next = append(next, form)
			}
		}
	}
	// Longest first, so a secret that contains another is replaced whole.
	slices.SortStableFunc(next, func(a, b string) int { return len(b) - len(a) })
	r.secrets.Store(&next)
}

// String returns s with every secret replaced, cut to the text limit
// (see WithMaxText) first.
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	s = r.truncate(s)
	spans := r.find(s, false)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(r.mask(r.spanName(sp)))
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// Contains reports whether String would change s.
func (r *Redactor) Contains(s string) bool {
	if r == nil || s == "" {
		return false
	}
	if r.maxText > 0 && len(s) > r.maxText {
		return true
	}
	return len(r.find(s, true)) > 0
}

// span is a part of the text to mask, found by rule (-1 for a registered
// value, which wins ties: it is exactly what the caller declared secret).
type span struct{ start, end, rule int }

// spanName is the name a span's mask carries.
func (r *Redactor) spanName(sp span) string {
	if sp.rule < 0 {
		return "secret"
	}
	return r.rules[sp.rule].name
}

// find returns the disjoint, ordered spans to mask in s: every candidate
// rule runs over the original text, and overlapping findings are merged
// into one mask named after the longest of them (the earlier rule on a
// tie). With first set it stops at the first finding.
func (r *Redactor) find(s string, first bool) []span {
	var found []span
	masked := r.maskedRegions(s)
	// Registered values, found in the same original text as the rules'
	// findings: a short value never cuts a token the rules would mask.
	for _, v := range *r.secrets.Load() {
		for off := 0; off <= len(s)-len(v); {
			i := strings.Index(s[off:], v)
			if i < 0 {
				break
			}
			start, end := off+i, off+i+len(v)
			off = start + 1
			if overlaps(masked, start, end) {
				continue
			}
			found = append(found, span{start, end, -1})
			if first {
				return found
			}
			off = end
		}
	}
	cand := r.candidates(s)
	var lower string // s with ASCII letters lowered, built on first need
	for w, word := range cand {
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if i >= len(r.rules) {
				break
			}
			found = r.runRule(i, s, &lower, masked, found, first)
			if first && len(found) > 0 {
				return found
			}
		}
	}
	for i := maxIndexed; i < len(r.rules); i++ {
		found = r.runRule(i, s, &lower, masked, found, first)
		if first && len(found) > 0 {
			return found
		}
	}
	if len(found) < 2 {
		return found
	}
	sort.Slice(found, func(a, b int) bool {
		if found[a].start != found[b].start {
			return found[a].start < found[b].start
		}
		return found[a].rule < found[b].rule
	})
	merged := found[:1]
	best := found[0].end - found[0].start
	for _, sp := range found[1:] {
		cur := &merged[len(merged)-1]
		if sp.start >= cur.end {
			merged = append(merged, sp)
			best = sp.end - sp.start
			continue
		}
		if n := sp.end - sp.start; n > best || (n == best && sp.rule < cur.rule) {
			cur.rule, best = sp.rule, n
		}
		cur.end = max(cur.end, sp.end)
	}
	return merged
}

// runRule appends rule i's findings in s to found.
func (r *Redactor) runRule(i int, s string, lower *string, masked [][2]int, found []span, first bool) []span {
	ru := &r.rules[i]
	wins := r.windows(ru, s, lower)
	mark := len(found)
	for _, win := range wins {
		text := s[win[0]:win[1]]
		for _, loc := range ru.re.FindAllStringSubmatchIndex(text, -1) {
			// A match that touches a cut made by a window (not the text's
			// own start or end) may be longer in the whole text: read
			// the whole text for this rule instead.
			if (loc[0] == 0 && win[0] > 0) || (loc[1] == len(text) && win[1] < len(s)) {
				return r.runWhole(i, s, masked, found[:mark], first)
			}
			for k := range loc {
				if loc[k] >= 0 {
					loc[k] += win[0]
				}
			}
			if sp, ok := r.accept(i, s, loc, masked); ok {
				found = append(found, sp)
				if first {
					return found
				}
			}
		}
	}
	return found
}

// runWhole appends rule i's findings over the whole of s to found.
func (r *Redactor) runWhole(i int, s string, masked [][2]int, found []span, first bool) []span {
	for _, loc := range r.rules[i].re.FindAllStringSubmatchIndex(s, -1) {
		if sp, ok := r.accept(i, s, loc, masked); ok {
			found = append(found, sp)
			if first {
				return found
			}
		}
	}
	return found
}

// accept decides whether a match of rule i at loc is a secret to mask, and
// which span.
func (r *Redactor) accept(i int, s string, loc []int, masked [][2]int) (span, bool) {
	ru := &r.rules[i]
	start, end := ru.secretSpan(s, loc)
	if start < 0 || end <= start || inside(masked, start) {
		return span{}, false
	}
	if ru.accept != nil && !ru.accept(s[start:end]) {
		return span{}, false
	}
	if ru.gitleaks {
		if ru.entropy != 0 && shannonEntropy(s[start:end]) <= ru.entropy {
			return span{}, false
		}
		if allowed(ru.allow, s, loc[0], loc[1], start, end, true) {
			return span{}, false
		}
	}
	// gitleaks' global allowlists (placeholders such as ${VAR}, "true",
	// "xxxxxxxx") hold for every rule; their stop words only for
	// gitleaks' own rules, since a token the project's rules recognise by
	// its shape is masked even when it holds a dictionary word.
	if allowed(r.global, s, loc[0], loc[1], start, end, ru.gitleaks) {
		return span{}, false
	}
	return span{start, end, i}, true
}

// windows returns the parts of s that rule ru has to read: the whole text,
// unless the rule's keywords are rare in s; then the stretches around each
// keyword, as far as a match holding or near that keyword can reach (the
// longest match for rules whose matches are bounded, defaultReach for the
// others, whose longer matches make runRule read the whole text).
// Regular expressions cost time per byte read, so a long observation with
// a few keywords costs little.
func (r *Redactor) windows(ru *rule, s string, lower *string) [][2]int {
	whole := [][2]int{{0, len(s)}}
	if r.noWin {
		return whole
	}
	reach := ru.maxLen
	if reach <= 0 {
		reach = defaultReach
	}
	reach += 8
	if len(ru.needles) == 0 || (len(s) <= 4*reach && !ru.opAfter) {
		return whole
	}
	if *lower == "" {
		*lower = lowerASCIIString(s)
	}
	var wins [][2]int
	total := 0
	for _, n := range ru.needles {
		ln := strings.ToLower(n)
		for off := 0; ; {
			j := strings.Index((*lower)[off:], ln)
			if j < 0 {
				break
			}
			p := off + j
			off = p + 1
			if ru.opAfter {
				if !strings.ContainsAny(s[p+len(ln):min(len(s), p+len(ln)+opReach)], opChars) {
					continue // prose such as "the access token expires": no assignment follows
				}
				// The match starts at most 50 identifier characters
				// before the identifier; the value follows the operator
				// (a longer one reaches the window's edge, and the rule
				// then reads the whole text).
				before := 50 + ru.identLen + 8
				wins = append(wins, [2]int{max(0, p-before), min(len(s), p+len(ln)+opReach+opValueReach)})
				total += before + len(ln) + opReach + opValueReach
				if total >= len(s) {
					return whole
				}
				continue
			}
			wins = append(wins, [2]int{max(0, p-reach), min(len(s), p+len(ln)+reach)})
			total += 2*reach + len(ln)
			if total >= len(s) {
				return whole
			}
		}
	}
	if len(wins) == 0 {
		if ru.opAfter {
			return nil // no keyword is followed by an assignment: no match can exist
		}
		return whole // the prefilter saw a needle: read everything rather than nothing
	}
	sort.Slice(wins, func(a, b int) bool { return wins[a][0] < wins[b][0] })
	merged := wins[:1]
	for _, w := range wins[1:] {
		cur := &merged[len(merged)-1]
		if w[0] <= cur[1] {
			cur[1] = max(cur[1], w[1])
			continue
		}
		merged = append(merged, w)
	}
	return merged
}

// opSuffix is the part of gitleaks' generated "semi-generic" rules
// (utils.GenerateSemiGenericRegex) between the identifier and the value:
// up to 20 identifier characters, up to 3 quotes or blanks, an assignment
// operator. A keyword (the identifier) that starts a match is therefore
// followed within opReach bytes by one of opChars.
const (
	opSuffix = `(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`
	opReach  = 20 + 3 + 1
	opChars  = "=>:|?,"
	// opValueReach is how far past the operator a semi-generic rule's
	// window reaches first: quotes and blanks, and a value of up to ~250
	// bytes.
	opValueReach = 256
)

// defaultReach is how far around a keyword a rule with unbounded matches
// reads first.
const defaultReach = 1024

// lowerASCIIString lowers ASCII letters only, so byte offsets stay valid.
func lowerASCIIString(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

func overlaps(regions [][2]int, start, end int) bool {
	for _, g := range regions {
		if start < g[1] && end > g[0] {
			return true
		}
	}
	return false
}

// maskedRegions returns the [start, end) ranges of the masks this
// redactor writes that are already in s ("[REDACTED:name]" with the name of
// one of its rules, or "secret"), so that redacting twice changes nothing.
// Only exact masks count: text that merely starts like one
// ("[REDACTED sk-live-…]", an unclosed "[REDACTED") shields nothing.
func (r *Redactor) maskedRegions(s string) [][2]int {
	const open = "[REDACTED:"
	var out [][2]int
	for off := 0; ; {
		i := strings.Index(s[off:], open)
		if i < 0 {
			return out
		}
		i += off
		off = i + len(open)
		j := strings.IndexByte(s[off:min(len(s), off+80)], ']')
		if j < 0 {
			continue
		}
		if name := s[off : off+j]; name == "secret" || r.names[name] {
			out = append(out, [2]int{i, off + j + 1})
			off += j + 1
		}
	}
}

func inside(regions [][2]int, pos int) bool {
	for _, g := range regions {
		if pos >= g[0] && pos < g[1] {
			return true
		}
	}
	return false
}

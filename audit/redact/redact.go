// Package redact removes secrets from text and from whole trajectories before
// they are persisted: API keys, bearer tokens and Authorization headers,
// passwords in URLs, exact secret values registered by callers, and user
// patterns. It has no storage dependencies, so tools can import it to register
// the secrets they read.
package redact

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Redactor replaces secrets in strings. It is safe for concurrent use;
// AddSecrets may be called while other goroutines redact.
type Redactor struct {
	rules   []rule
	pf      *prefilter
	always  uint64 // rules without needles: run on every string
	mask    func(name string) string
	mu      sync.Mutex // serialises AddSecrets
	secrets atomic.Pointer[[]string]
}

// rule is one pattern. When the pattern has a group named "secret", only that
// group is replaced, so context such as "Bearer " or "password=" survives.
type rule struct {
	name    string
	re      *regexp.Regexp
	group   int      // index of the "secret" group, 0 for the whole match
	needles []string // the pattern runs only when one of these occurs (ignoring ASCII case); none means always
	accept  func(secret string) bool
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
		ru := rule{name: name, re: re, group: re.SubexpIndex("secret")}
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

// WithoutDefaults drops the built-in rules, leaving only user patterns and
// registered secrets.
func WithoutDefaults() Option {
	return func(r *Redactor) error {
		r.rules = slices.DeleteFunc(r.rules, func(ru rule) bool { return isDefault(ru.name) })
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

// New returns a Redactor with the built-in rules (see Rules) plus opts.
func New(opts ...Option) (*Redactor, error) {
	r := Default()
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	r.index()
	return r, nil
}

// Default returns a Redactor with the built-in rules only.
func Default() *Redactor {
	r := &Redactor{rules: defaultRules(), mask: defaultMask}
	r.secrets.Store(&[]string{})
	r.index()
	return r
}

// index builds the prefilter over the rules' needles.
func (r *Redactor) index() {
	needles := make([][]string, 0, min(len(r.rules), 64))
	r.always = 0
	for i, ru := range r.rules {
		if i >= 64 {
			break
		}
		needles = append(needles, ru.needles)
		if len(ru.needles) == 0 {
			r.always |= 1 << i
		}
	}
	r.pf = buildPrefilter(needles)
}

// candidates returns the rules that may match s.
func (r *Redactor) candidates(s string) uint64 {
	return r.pf.scan(s) | r.always
}

func runs(mask uint64, i int) bool { return i >= 64 || mask&(1<<i) != 0 }

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

// String returns s with every secret replaced.
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	for _, v := range *r.secrets.Load() {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, r.mask("secret"))
		}
	}
	mask := r.candidates(s)
	for i := range r.rules {
		if runs(mask, i) {
			s = r.apply(&r.rules[i], s)
		}
	}
	return s
}

// Contains reports whether String would change s.
func (r *Redactor) Contains(s string) bool {
	if r == nil || s == "" {
		return false
	}
	for _, v := range *r.secrets.Load() {
		if strings.Contains(s, v) {
			return true
		}
	}
	mask := r.candidates(s)
	for i := range r.rules {
		if runs(mask, i) && r.apply(&r.rules[i], s) != s {
			return true
		}
	}
	return false
}

func (r *Redactor) apply(ru *rule, s string) string {
	locs := ru.re.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		return s
	}
	mask := r.mask(ru.name)
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, loc := range locs {
		start, end := loc[2*ru.group], loc[2*ru.group+1]
		if start < 0 || start < last || end <= start {
			continue
		}
		// Already masked (the text was redacted before): leave it alone.
		if strings.HasPrefix(s[start:], "[REDACTED") || (ru.accept != nil && !ru.accept(s[start:end])) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(mask)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

package redact

import (
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// The gitleaks rule set (github.com/zricethezav/gitleaks/v8, MIT): about two
// hundred maintained rules, each with keywords for the prefilter, an optional
// entropy floor and allowlists (regular expressions and stop words) that keep
// placeholders and examples out. The rules are compiled once per process and
// shared, read-only, by every Redactor.
var gitleaksRules = sync.OnceValues(loadGitleaks)

// gitleaksSet is the compiled rule set with gitleaks' global allowlists.
type gitleaksSet struct {
	rules  []rule
	global []*config.Allowlist
}

func loadGitleaks() (*gitleaksSet, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return nil, fmt.Errorf("redact: reading gitleaks' default rules: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("redact: decoding gitleaks' default rules: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("redact: compiling gitleaks' default rules: %w", err)
	}
	set := &gitleaksSet{global: cfg.Allowlists}
	for _, id := range cfg.OrderedRules {
		cr := cfg.Rules[id]
		// Rules bound to file paths (a .php file, a .p12 file) and
		// auxiliary rules that only feed composite ones do not apply to
		// free text that has no path.
		if cr.Regex == nil || cr.Path != nil || cr.SkipReport {
			continue
		}
		set.rules = append(set.rules, rule{
			name:     cr.RuleID,
			re:       cr.Regex,
			group:    cr.SecretGroup,
			gitleaks: true,
			needles:  slices.Clone(cr.Keywords),
			entropy:  cr.Entropy,
			allow:    cr.Allowlists,
			maxLen:   matchLimit(cr.Regex),
		})
		ru := &set.rules[len(set.rules)-1]
		if strings.Contains(cr.Regex.String(), opSuffix) {
			if n, ok := identifierIsKeyword(cr); ok {
				ru.opAfter, ru.identLen = true, n
			}
		}
	}
	return set, nil
}

// secretSpan returns the part of a gitleaks match that is the secret, as
// gitleaks reports it: the rule's secret group when it names one, else the
// first non-empty group, else the whole match without surrounding newlines.
func (ru *rule) secretSpan(s string, loc []int) (int, int) {
	if ru.group > 0 && 2*ru.group+1 < len(loc) {
		return loc[2*ru.group], loc[2*ru.group+1]
	}
	if ru.gitleaks {
		for g := 1; 2*g+1 < len(loc); g++ {
			if loc[2*g] >= 0 && loc[2*g+1] > loc[2*g] {
				return loc[2*g], loc[2*g+1]
			}
		}
		start, end := loc[0], loc[1]
		for start < end && s[start] == '\n' {
			start++
		}
		for end > start && s[end-1] == '\n' {
			end--
		}
		return start, end
	}
	return loc[0], loc[1]
}

// allowed reports whether one of the allowlists lets a finding through, as
// gitleaks' detector decides it: a regular expression that matches the
// secret, the whole match or the line (per the allowlist's target), or a
// stop word inside the secret (unless stopWords is false). Commit and path conditions never hold for
// free text. gitleaks' "gitleaks:allow" comment is deliberately ignored:
// text from a tool or a model must not be able to exempt itself.
func allowed(lists []*config.Allowlist, s string, mStart, mEnd, sStart, sEnd int, stopWords bool) bool {
	for _, a := range lists {
		target := s[sStart:sEnd]
		switch a.RegexTarget {
		case "match":
			target = s[mStart:mEnd]
		case "line":
			target = lineAround(s, mStart, mEnd)
		}
		regexOK := a.RegexAllowed(target)
		stopOK := false
		if stopWords {
			stopOK, _ = a.ContainsStopWord(s[sStart:sEnd])
		}
		if a.MatchCondition == config.AllowlistMatchAnd {
			ok := len(a.Regexes) > 0 || len(a.StopWords) > 0
			if len(a.Commits) > 0 || len(a.Paths) > 0 {
				ok = false
			}
			if len(a.Regexes) > 0 && !regexOK {
				ok = false
			}
			if len(a.StopWords) > 0 && !stopOK {
				ok = false
			}
			if ok {
				return true
			}
			continue
		}
		if regexOK || stopOK {
			return true
		}
	}
	return false
}

// lineAround returns the lines that hold s[start:end].
func lineAround(s string, start, end int) string {
	i := strings.LastIndexByte(s[:start], '\n') + 1
	j := strings.IndexByte(s[end:], '\n')
	if j < 0 {
		return s[i:]
	}
	return s[i : end+j]
}

// shannonEntropy is the entropy of s as gitleaks computes it for its
// entropy floors: counts per rune, frequencies over the length in bytes.
func shannonEntropy(s string) float64 {
	if s == "" {
		return 0
	}
	var ascii [128]int
	var other map[rune]int
	for _, c := range s {
		if c < 128 {
			ascii[c]++
			continue
		}
		if other == nil {
			other = make(map[rune]int)
		}
		other[c]++
	}
	inv := 1 / float64(len(s))
	var h float64
	add := func(c int) {
		if c > 0 {
			p := float64(c) * inv
			h -= p * math.Log2(p)
		}
	}
	for _, c := range ascii {
		add(c)
	}
	for _, c := range other {
		add(c)
	}
	return h
}

// maxWindow is the longest match for which keyword windows are used;
// rules that can match more read the whole text.
const maxWindow = 4096

// matchLimit returns an upper bound, in bytes, of the text a match of re
// can span, or 0 when it is unbounded or longer than maxWindow.
func matchLimit(re *regexp.Regexp) int {
	if re == nil {
		return 0
	}
	p, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return 0
	}
	n := syntaxLimit(p.Simplify())
	if n < 0 || n > maxWindow {
		return 0
	}
	return n
}

func syntaxLimit(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpNoMatch:
		return 0
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += runeBytes(r)
			if re.Flags&syntax.FoldCase != 0 {
				n = n - runeBytes(r) + utf8.UTFMax // a folded letter may match a longer rune (K, ſ)
			}
		}
		return n
	case syntax.OpCharClass:
		// Rune holds [lo, hi] pairs: the widest encoding of the highest
		// rune in the class bounds one character.
		hi := rune(0)
		for i := 1; i < len(re.Rune); i += 2 {
			hi = max(hi, re.Rune[i])
		}
		return runeBytes(hi)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	case syntax.OpCapture, syntax.OpQuest:
		return syntaxLimit(re.Sub[0])
	case syntax.OpConcat:
		total := 0
		for _, sub := range re.Sub {
			n := syntaxLimit(sub)
			if n < 0 {
				return -1
			}
			total += n
			if total > maxWindow {
				return -1
			}
		}
		return total
	case syntax.OpAlternate:
		most := 0
		for _, sub := range re.Sub {
			n := syntaxLimit(sub)
			if n < 0 {
				return -1
			}
			most = max(most, n)
		}
		return most
	case syntax.OpRepeat:
		if re.Max < 0 {
			return -1
		}
		n := syntaxLimit(re.Sub[0])
		if n < 0 || n*re.Max > maxWindow {
			return -1
		}
		return n * re.Max
	}
	return -1 // star, plus and anything unknown: unbounded
}

// runeBytes is the length of r's UTF-8 encoding (that of U+FFFD, 3, for
// runes that have none).
func runeBytes(r rune) int {
	if n := utf8.RuneLen(r); n > 0 {
		return n
	}
	return utf8.UTFMax
}

// identifierIsKeyword reports whether every text the identifier of a
// semi-generic rule can match contains one of its keywords, so that the
// keyword a match holds sits in the identifier, before the operator, and
// returns the longest identifier. Rules where that cannot be shown read
// their windows the ordinary way.
func identifierIsKeyword(cr config.Rule) (longest int, ok bool) {
	src := cr.Regex.String()
	end := strings.Index(src, opSuffix)
	start := strings.Index(src, "?(?:")
	if !strings.HasPrefix(src, identPrefix) || start != len(identPrefix)-1 || end <= start+4 || src[end-1] != ')' {
		return 0, false
	}
	re, err := syntax.Parse(src[start+4:end-1], syntax.Perl)
	if err != nil {
		return 0, false
	}
	texts, ok := expand(re.Simplify())
	if !ok || len(texts) == 0 {
		return 0, false
	}
	for _, t := range texts {
		longest = max(longest, len(t))
		t = strings.ToLower(t)
		if !slices.ContainsFunc(cr.Keywords, func(k string) bool { return strings.Contains(t, strings.ToLower(k)) }) {
			return 0, false
		}
	}
	return longest, true
}

// identPrefix opens every semi-generic rule: up to 50 identifier
// characters before the identifier itself.
const identPrefix = `(?i)[\w.-]{0,50}?`

// expand lists every text a small, finite regular expression matches, or
// reports false when there are too many or infinitely many.
func expand(re *syntax.Regexp) ([]string, bool) {
	const limit = 512
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpLiteral:
		return []string{string(re.Rune)}, true
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if out = append(out, string(r)); len(out) > 16 {
					return nil, false
				}
			}
		}
		return out, true
	case syntax.OpCapture:
		return expand(re.Sub[0])
	case syntax.OpQuest:
		sub, ok := expand(re.Sub[0])
		return append(sub, ""), ok
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			e, ok := expand(sub)
			if !ok || len(out)+len(e) > limit {
				return nil, false
			}
			out = append(out, e...)
		}
		return out, true
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			e, ok := expand(sub)
			if !ok || len(out)*len(e) > limit {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(e))
			for _, a := range out {
				for _, b := range e {
					next = append(next, a+b)
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

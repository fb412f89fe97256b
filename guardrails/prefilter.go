package guardrails

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// litFilter is a cheap test run before a deny pattern: every match of the
// pattern contains at least one of lits, so text that contains none of them
// cannot match and the regular expression need not run. It is derived from
// the pattern's syntax tree and errs only towards running the pattern: a
// filter that cannot tell (a pattern with no required literal) lets
// everything through.
type litFilter struct {
	lits []string // lower-cased when fold
	fold bool     // compare ASCII case-insensitively
	// first marks the bytes a literal starts with (both cases when fold):
	// one pass over the text finds every place a literal may start.
	first [256]bool
}

// newLitFilter analyses re's pattern; a nil filter passes everything.
func newLitFilter(re *regexp.Regexp) *litFilter {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	lits, fold, ok := requiredLiterals(t.Simplify())
	if !ok || len(lits) == 0 {
		return nil
	}
	for _, l := range lits {
		if l == "" {
			return nil
		}
	}
	if fold {
		for i, l := range lits {
			if !isASCII(l) {
				return nil // folded non-ASCII letters (ſ, K) match ASCII text
			}
			lits[i] = strings.ToLower(l)
		}
	}
	f := &litFilter{lits: lits, fold: fold}
	for _, l := range lits {
		f.first[l[0]] = true
		if fold {
			f.first[upper(l[0])] = true
		}
	}
	return f
}

// mayMatch reports whether text contains one of the literals. With case
// folding, text that is not ASCII always may match: Unicode case folding
// maps letters such as the Kelvin sign and the long s onto ASCII ones.
func (f *litFilter) mayMatch(text string) bool {
	if f == nil {
		return true
	}
	if !f.fold {
		for _, l := range f.lits {
			if strings.Contains(text, l) {
				return true
			}
		}
		return false
	}
	if !isASCII(text) {
		return true
	}
	if len(f.lits) == 1 {
		return containsFoldASCII(text, f.lits[0])
	}
	// One pass over the text for all the literals: only where one may
	// start are they compared.
	for i := 0; i < len(text); i++ {
		if !f.first[text[i]] {
			continue
		}
		for _, l := range f.lits {
			if hasPrefixFoldASCII(text[i:], l) {
				return true
			}
		}
	}
	return false
}

// hasPrefixFoldASCII reports whether ASCII text starts with the lower-case
// ASCII literal lit, ignoring case.
func hasPrefixFoldASCII(text, lit string) bool {
	if len(text) < len(lit) {
		return false
	}
	for j := 0; j < len(lit); j++ {
		if lower(text[j]) != lit[j] {
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether ASCII text contains the lower-case ASCII
// literal lit, ignoring case.
func containsFoldASCII(text, lit string) bool {
	n := len(lit)
	if n == 0 {
		return true
	}
	first := lit[0]
	for i := 0; i+n <= len(text); i++ {
		if lower(text[i]) != first {
			continue
		}
		j := 1
		for j < n && lower(text[i+j]) == lit[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// requiredLiterals returns strings one of which every match of re must
// contain, whether they compare case-insensitively, and whether it could
// tell at all.
func requiredLiterals(re *syntax.Regexp) (lits []string, fold, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		if !utf8.ValidString(s) {
			return nil, false, false
		}
		return []string{s}, re.Flags&syntax.FoldCase != 0, true
	case syntax.OpCapture:
		return requiredLiterals(re.Sub[0])
	case syntax.OpPlus:
		return requiredLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiterals(re.Sub[0])
		}
		return nil, false, false
	case syntax.OpConcat:
		// Any one child's literals will do: take the set whose shortest
		// literal is longest (the most selective).
		best, bestLen := []string(nil), -1
		bestFold := false
		for _, sub := range re.Sub {
			l, f, ok := requiredLiterals(sub)
			if !ok {
				continue
			}
			if m := minLen(l); m > bestLen {
				best, bestLen, bestFold = l, m, f
			}
		}
		return best, bestFold, best != nil
	case syntax.OpAlternate:
		var all []string
		fold := false
		for _, sub := range re.Sub {
			l, f, ok := requiredLiterals(sub)
			if !ok {
				return nil, false, false
			}
			all = append(all, l...)
			fold = fold || f
		}
		// Mixing case-sensitive and folded literals: folding all of them
		// only lets more through.
		return all, fold, len(all) > 0
	}
	return nil, false, false
}

func minLen(lits []string) int {
	m := -1
	for _, l := range lits {
		if m < 0 || len(l) < m {
			m = len(l)
		}
	}
	return m
}

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
	// With fold: byFirst lists the literals by their first byte, and
	// pairs marks the second byte that may follow each first byte.
	byFirst [256][]string
	pairs   [256][4]uint64
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
			f.byFirst[l[0]] = append(f.byFirst[l[0]], l)
			if len(l) > 1 {
				f.pairs[l[0]][l[1]>>6] |= 1 << (l[1] & 63)
			} else { // a one-byte literal: any next byte
				f.pairs[l[0]] = [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
			}
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
		c := text[i]
		if !f.first[c] {
			continue
		}
		// Of the literals that start with this byte, only where the next
		// byte can follow it in one of them.
		c = lower(c)
		if i+1 < len(text) {
			n := lower(text[i+1])
			if f.pairs[c][n>>6]&(1<<(n&63)) == 0 {
				continue
			}
		}
		for _, l := range f.byFirst[c] {
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
	if n > len(text) {
		return false
	}
	// Candidates are found with IndexByte (vectorised) for each case of the
	// first byte; lo and up are the next position of each, -1 once none
	// is left.
	first, firstUp := lit[0], upper(lit[0])
	last := len(text) - n // the last position a match can start at
	next := func(from int, c byte) int {
		if from > last {
			return -1
		}
		if k := strings.IndexByte(text[from:last+1], c); k >= 0 {
			return from + k
		}
		return -1
	}
	lo, up := next(0, first), -1
	if firstUp != first {
		up = next(0, firstUp)
	}
	for lo >= 0 || up >= 0 {
		i := lo
		if i < 0 || up >= 0 && up < i {
			i = up
		}
		if hasPrefixFoldASCII(text[i+1:], lit[1:]) {
			return true
		}
		if i == lo {
			lo = next(i+1, first)
		} else {
			up = next(i+1, firstUp)
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
		return exactStrings(re)
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
		// Any one child's literals will do, and so will the strings spelled
		// by a run of adjacent children that each match one of a few
		// strings (`gh[pousr]_` gives ghp_, gho_, …, far rarer in text
		// than `gh`): take the set whose shortest literal is longest (the
		// most selective).
		best, bestLen := []string(nil), -1
		bestFold := false
		consider := func(l []string, f bool) {
			if m := minLen(l); len(l) > 0 && m > bestLen {
				best, bestLen, bestFold = l, m, f
			}
		}
		for _, sub := range re.Sub {
			if l, f, ok := requiredLiterals(sub); ok {
				consider(l, f)
			}
		}
		run, runFold := []string{""}, false
		for _, sub := range re.Sub {
			if isZeroWidth(sub) {
				continue // consumes nothing: the run stays contiguous
			}
			l, f, ok := exactStrings(sub)
			if ok && len(run)*len(l) <= maxExpansion {
				run, runFold = product(run, l), runFold || f
				continue
			}
			consider(run, runFold)
			run, runFold = []string{""}, false
			if ok {
				run, runFold = l, f
			}
		}
		consider(run, runFold)
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

// maxExpansion bounds the strings a run of adjacent children may spell.
const maxExpansion = 64

// isZeroWidth reports whether re matches only the empty string at a
// position (\b, ^, $): it may be skipped inside a run of literals.
func isZeroWidth(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	return false
}

// exactStrings returns the strings re matches when they are few (a literal,
// a small character class, a capture or alternation of those), whether they
// compare case-insensitively, and whether re is such a node.
func exactStrings(re *syntax.Regexp) (strs []string, fold, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		if !utf8.ValidString(s) {
			return nil, false, false
		}
		return []string{s}, re.Flags&syntax.FoldCase != 0, true
	case syntax.OpCharClass:
		// A class of a few runes; one closed under ASCII case folding (what
		// (?i) makes of [pousr]) counts its letters once, compared folded.
		var runes []rune
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i+1]-re.Rune[i] >= 16 {
				return nil, false, false
			}
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if !utf8.ValidRune(r) {
					return nil, false, false
				}
				runes = append(runes, r)
			}
		}
		if folded, ok := foldASCIIClass(runes); ok {
			runes, fold = folded, true
		}
		if len(runes) == 0 || len(runes) > 8 {
			return nil, false, false
		}
		for _, r := range runes {
			strs = append(strs, string(r))
		}
		return strs, fold, true
	case syntax.OpCapture:
		return exactStrings(re.Sub[0])
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			l, f, ok := exactStrings(sub)
			if !ok || len(strs)+len(l) > maxExpansion {
				return nil, false, false
			}
			strs, fold = append(strs, l...), fold || f
		}
		return strs, fold, len(strs) > 0
	}
	return nil, false, false
}

// product returns every a+b for a in x and b in y.
func product(x, y []string) []string {
	out := make([]string, 0, len(x)*len(y))
	for _, a := range x {
		for _, b := range y {
			out = append(out, a+b)
		}
	}
	return out
}

// foldASCIIClass returns the lower-case letters and other runes of an ASCII
// class that holds both cases of each of its letters (and, as (?i) adds
// them, ſ and the Kelvin sign), and false for any other class.
func foldASCIIClass(runes []rune) ([]rune, bool) {
	in := map[rune]bool{}
	for _, r := range runes {
		in[r] = true
	}
	var out []rune
	hasLetter := false
	for _, r := range runes {
		switch {
		case r == 'ſ' && in['s'] || r == 'K' && in['k']:
			// Unicode folds of s and k: text holding them is not ASCII,
			// and a folded filter lets all such text through.
		case r >= utf8.RuneSelf:
			return nil, false
		case 'a' <= r && r <= 'z':
			if !in[r-'a'+'A'] {
				return nil, false
			}
			hasLetter = true
			out = append(out, r)
		case 'A' <= r && r <= 'Z':
			if !in[r-'A'+'a'] {
				return nil, false
			}
		default:
			out = append(out, r)
		}
	}
	return out, hasLetter
}

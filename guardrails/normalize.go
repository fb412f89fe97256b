package guardrails

import (
	"html"
	"net/url"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// confusables maps letters that look like Latin ones (Cyrillic, Greek,
// a few IPA letters) to the Latin letter, after lower-casing.
var confusables = map[rune]rune{
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k',
	'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x',
	'ѕ': 's', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'һ': 'h', 'ӏ': 'l', 'ɡ': 'g', 'ɑ': 'a',
	'α': 'a', 'β': 'b', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p',
	'τ': 't', 'υ': 'u', 'χ': 'x', 'η': 'n', 'ѵ': 'v', 'ɩ': 'i', 'ı': 'i', 'ℓ': 'l',
}

// normalizeText folds the usual ways of slipping text past a pattern:
// compatibility forms (full-width, ligatures), accents, invisible and
// format characters (zero-width, bidi controls, tag characters, soft
// hyphens, variation selectors), look-alike letters from other scripts,
// case, and runs of white space. The result is for matching only.
func normalizeText(s string) string {
	if isASCII(s) {
		if isPlainLower(s) {
			return s
		}
		return lowerCollapseASCII(s, false)
	}
	s = norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Variation_Selector, r):
			continue
		case unicode.IsSpace(r):
			b.WriteByte(' ')
			continue
		}
		r = unicode.ToLower(r)
		if c, ok := confusables[r]; ok {
			r = c
		}
		b.WriteRune(r)
	}
	return collapseSpace(b.String())
}

// normalizeKeepLines is normalizeText, except that a run of white space
// that holds a line break becomes one line break, and the result starts
// with a line break: patterns that look at the start of a line see the
// first line like the others.
func normalizeKeepLines(s string) string {
	if isASCII(s) {
		return lowerCollapseASCII(s, true)
	}
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = normalizeText(l); l != "" {
			out = append(out, l)
		}
	}
	return "\n" + strings.Join(out, "\n")
}

// isPlainLower reports whether ASCII s is already normalized: no upper
// case, no white space but single inner spaces.
func isPlainLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return false
		}
	}
	return isCollapsed(s)
}

// lowerCollapseASCII lower-cases ASCII text and turns every run of white
// space into one space (or, with lines, one line break when the run holds
// one), trimmed. Pages are scanned on every tool result, so it copies
// stretches that need no change whole and handles the rest byte by byte.
func lowerCollapseASCII(s string, lines bool) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	if lines {
		b.WriteByte('\n')
	}
	start := b.Len()
	var gap byte // the separator owed before the next text: 0, ' ' or '\n'
	for i := 0; i < len(s); {
		c := s[i]
		if asciiSpace[c] {
			if b.Len() > start { // leading white space is dropped
				if lines && c == '\n' {
					gap = '\n'
				} else if gap == 0 {
					gap = ' '
				}
			}
			i++
			continue
		}
		if gap != 0 {
			b.WriteByte(gap)
			gap = 0
		}
		// Copy up to the next upper-case letter or white space other than
		// a single space between two other characters.
		j := i
		for j < len(s) && !asciiSpecial[s[j]] || j+1 < len(s) && s[j] == ' ' && !asciiSpace[s[j+1]] {
			j++
		}
		if j > i {
			b.WriteString(s[i:j])
			i = j
			continue
		}
		b.WriteByte(c + 'a' - 'A') // c is upper case
		i++
	}
	return b.String()
}

// asciiSpace marks ASCII white space; asciiSpecial marks what
// lowerCollapseASCII must change: white space and upper-case letters.
var asciiSpace, asciiSpecial = func() (sp, special [256]bool) {
	for _, c := range []byte(" \t\n\r\v\f") {
		sp[c], special[c] = true, true
	}
	for c := 'A'; c <= 'Z'; c++ {
		special[c] = true
	}
	return sp, special
}()

// collapseSpace turns every run of white space into one space and trims.
func collapseSpace(s string) string {
	if isCollapsed(s) {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// decodeLayers returns s with percent-encoding and HTML character
// references undone (repeatedly, a few times), or s itself when there is
// nothing to decode.
func decodeLayers(s string) string {
	for i := 0; i < 3; i++ {
		d := s
		if hasPercentEscape(d) || strings.IndexByte(d, '+') >= 0 {
			if u, err := url.QueryUnescape(d); err == nil {
				d = u
			} else if u, err := url.PathUnescape(d); err == nil {
				d = u
			}
		}
		if hasHTMLReference(d) {
			d = html.UnescapeString(d)
		}
		if d == s {
			break
		}
		s = d
	}
	return s
}

// hasPercentEscape reports whether s has a %XX escape.
func hasPercentEscape(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0 && i+2 < len(s); {
		if isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			return true
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// hasHTMLReference reports whether s may hold an HTML character reference:
// "&#" or "&name;". (Legacy references without ';', such as "&lt", are
// not looked for: an ampersand in a URL query is far more common.)
func hasHTMLReference(s string) bool {
	for i := strings.IndexByte(s, '&'); i >= 0 && i+1 < len(s); {
		if s[i+1] == '#' {
			return true
		}
		j := i + 1
		for j < len(s) && j-i <= 32 && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j > i+1 && j < len(s) && s[j] == ';' {
			return true
		}
		k := strings.IndexByte(s[i+1:], '&')
		if k < 0 {
			return false
		}
		i += 1 + k
	}
	return false
}

// variantSet holds the distinct forms of a value a pattern is matched
// against: as given, decoded (percent, HTML), and normalized. It is a value
// (no allocation): it is built for every string of every tool call.
type variantSet struct {
	n int
	v [4]string
}

func (vs *variantSet) forms() []string { return vs.v[:vs.n] }

func (vs *variantSet) add(s string) {
	for _, o := range vs.v[:vs.n] {
		if o == s {
			return
		}
	}
	vs.v[vs.n] = s
	vs.n++
}

// variants returns the forms of s. With foldCase (the patterns ignore
// case), normalizing ASCII text that has no white space to collapse would
// only lower-case it, which cannot change a match, so it is skipped.
func variants(s string, foldCase bool) variantSet {
	var vs variantSet
	vs.add(s)
	d := decodeLayers(s)
	vs.add(d)
	for _, t := range [2]string{s, d} {
		if foldCase && isASCII(t) && isCollapsed(t) {
			continue
		}
		vs.add(normalizeText(t))
	}
	return vs
}

// isCollapsed reports whether s has no ASCII white space but single spaces
// between other characters.
func isCollapsed(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if asciiSpace[c] && (prevSpace || c != ' ') {
			return false
		}
		prevSpace = c == ' '
	}
	return !prevSpace || s == ""
}

// leetFold maps digits and symbols commonly used for letters.
func leetFold(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '0':
			return 'o'
		case '1', '!', '|':
			return 'i'
		case '3':
			return 'e'
		case '4', '@':
			return 'a'
		case '5', '$':
			return 's'
		case '7':
			return 't'
		}
		return r
	}, s)
}

// joinSpacedLetters turns "i g n o r e all" into "ignore all": runs of at
// least three one-letter words are joined.
func joinSpacedLetters(s string) string {
	words := strings.Split(s, " ")
	var out []string
	var run []string
	flush := func() {
		if len(run) >= 3 {
			out = append(out, strings.Join(run, ""))
		} else {
			out = append(out, run...)
		}
		run = run[:0]
	}
	for _, w := range words {
		if len([]rune(w)) == 1 {
			run = append(run, w)
			continue
		}
		flush()
		out = append(out, w)
	}
	flush()
	return strings.Join(out, " ")
}

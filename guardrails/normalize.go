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
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c == '\t', c == '\n', c == '\r', c == '\v', c == '\f':
			return false
		case c == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
		default:
			prevSpace = false
		}
	}
	return !prevSpace || s == ""
}

// lowerCollapseASCII lower-cases ASCII text and turns every run of white
// space into one space (or, with lines, one line break when the run holds
// one), trimmed, in one pass.
func lowerCollapseASCII(s string, lines bool) string {
	b := make([]byte, 0, len(s)+1)
	if lines {
		b = append(b, '\n')
	}
	start := len(b)
	space := true // drop leading space
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			if !space {
				b = append(b, ' ')
				space = true
			}
			if lines && c == '\n' && len(b) > start {
				b[len(b)-1] = '\n'
			}
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
		space = false
	}
	if n := len(b); n > start && (b[n-1] == ' ' || b[n-1] == '\n') {
		b = b[:n-1]
	}
	return string(b)
}

// collapseSpace turns every run of white space into one space and trims.
func collapseSpace(s string) string {
	clean := true
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		sp := c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
		if sp && (prevSpace || c != ' ') {
			clean = false
			break
		}
		prevSpace = sp
	}
	if clean && !prevSpace {
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

// variants returns the distinct forms of s a pattern is matched against:
// as given, decoded (percent, HTML), and normalized.
func variants(s string) []string {
	out := []string{s}
	add := func(v string) {
		for _, o := range out {
			if o == v {
				return
			}
		}
		out = append(out, v)
	}
	d := decodeLayers(s)
	add(d)
	add(normalizeText(s))
	add(normalizeText(d))
	return out
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

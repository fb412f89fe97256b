// Package trunc shortens text for observations shown to a model, counting
// characters (runes) rather than bytes so a cut never splits one.
package trunc

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Runes returns at most the first n runes of s, the rune count of s, and
// whether anything was cut.
func Runes(s string, n int) (head string, total int, cut bool) {
	total = utf8.RuneCountInString(s)
	if total <= n {
		return s, total, false
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos], total, true
		}
		i++
	}
	return s, total, false
}

// Quote escapes control and format characters and truncates s to n
// runes.
func Quote(s string, n int) string {
	var b strings.Builder
	count := 0
	for _, r := range s {
		if count == n {
			b.WriteString("…")
			break
		}
		count++
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\uFFFD`)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

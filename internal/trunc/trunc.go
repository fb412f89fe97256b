// Package trunc shortens text for observations shown to a model, counting
// characters (runes) rather than bytes so a cut never splits one.
package trunc

import "unicode/utf8"

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

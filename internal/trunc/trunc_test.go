package trunc

import (
	"testing"
	"unicode/utf8"
)

func TestRunes(t *testing.T) {
	cases := []struct {
		in    string
		n     int
		want  string
		total int
		cut   bool
	}{
		{"héllo wörld", 5, "héllo", 11, true},
		{"short", 10, "short", 5, false},
		{"exact", 5, "exact", 5, false},
		{"日本語", 0, "", 3, true},
		{"", 3, "", 0, false},
	}
	for _, c := range cases {
		got, total, cut := Runes(c.in, c.n)
		if got != c.want || total != c.total || cut != c.cut {
			t.Errorf("Runes(%q, %d) = %q, %d, %v; want %q, %d, %v", c.in, c.n, got, total, cut, c.want, c.total, c.cut)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Runes(%q, %d) split a rune: %q", c.in, c.n, got)
		}
	}
}

// Package reward computes the rewards of Reagent: rule rewards that compare
// an agent's final answer with a reference answer (exact match after
// normalisation, token F1 with a threshold, verified numeric equality, or a
// function of the user's own), and the Reagent-R reward R = R_rule + λ·score
// that adds a reasoning reward model's score.
package reward

import (
	"strings"
	"unicode"
)

// Normalize prepares an answer for comparison: lower case, punctuation and
// symbols removed, the articles "a", "an" and "the" dropped, whitespace
// collapsed to single spaces. Unlike the SQuAD normaliser, a comma between
// digits is dropped ("1,234" reads 1234) and a dot between digits is kept,
// so "3.5" does not turn into "35".
func Normalize(s string) string {
	return strings.Join(Tokens(s), " ")
}

// Tokens returns the words of Normalize(s).
func Tokens(s string) []string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range rs {
		switch {
		case (r == '.' || r == ',') && i > 0 && i+1 < len(rs) && isDigit(rs[i-1]) && isDigit(rs[i+1]):
			if r == '.' {
				b.WriteRune(r)
			}
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			// Punctuation separates words ("yes/no" is two words), except
			// apostrophes, which join them ("don't" stays one word).
			if r != '\'' && r != '’' {
				b.WriteByte(' ')
			}
		case unicode.IsSpace(r) || unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	fields := strings.Fields(b.String())
	out := fields[:0]
	for _, f := range fields {
		if f == "a" || f == "an" || f == "the" {
			continue
		}
		out = append(out, f)
	}
	return out
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// ExactMatch reports whether answer and reference are equal after
// Normalize. When the reference normalises to nothing (it is all
// punctuation or articles), the trimmed texts are compared ignoring case.
func ExactMatch(answer, reference string) bool {
	na, nr := Normalize(answer), Normalize(reference)
	if nr == "" {
		return strings.EqualFold(strings.TrimSpace(answer), strings.TrimSpace(reference)) && strings.TrimSpace(reference) != ""
	}
	return na == nr
}

// TokenF1 is the harmonic mean of token precision and recall between the
// normalised answer and reference, counting repeated tokens as many times
// as they appear in both. It is 0 when either side has no tokens.
func TokenF1(answer, reference string) float64 {
	pa, pr := Tokens(answer), Tokens(reference)
	if len(pa) == 0 || len(pr) == 0 {
		return 0
	}
	counts := make(map[string]int, len(pr))
	for _, t := range pr {
		counts[t]++
	}
	common := 0
	for _, t := range pa {
		if counts[t] > 0 {
			counts[t]--
			common++
		}
	}
	if common == 0 {
		return 0
	}
	precision := float64(common) / float64(len(pa))
	recall := float64(common) / float64(len(pr))
	return 2 * precision * recall / (precision + recall)
}

// Package injectclf is a small learned prompt-injection classifier: a
// logistic regression over hashed character and word n-grams, scored on
// overlapping windows of a page (the page's score is its most suspicious
// window's). Inference is pure Go, allocation-light and deterministic; the
// trained weights (int8, 1 MiB) are embedded. The training code is here too
// (Train), so training and inference share one feature extractor; the
// command that builds the data and trains is scripts/train-injection.sh.
package injectclf

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Feature hashing: FNV-1a over bytes, masked to the table size.
const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
	// wordSeed separates word features from character n-grams.
	wordSeed = 0x9e3779b9
)

// normalize folds text for the features: compatibility forms (full-width
// letters, ligatures) to their plain form, lower case, invisible format
// characters (zero-width, bidi, tag characters) dropped, every run of white
// space to one space. The result starts and ends with a space so that
// n-grams see word edges. dst is reused when it has room.
func normalize(dst []byte, s string) []byte {
	dst = append(dst[:0], ' ')
	if isASCII(s) {
		space := true
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
				if !space {
					dst = append(dst, ' ')
					space = true
				}
				continue
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			space = false
		}
		if !space {
			dst = append(dst, ' ')
		}
		return dst
	}
	s = norm.NFKC.String(s)
	space := true
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			continue
		case unicode.IsSpace(r):
			if !space {
				dst = append(dst, ' ')
				space = true
			}
			continue
		case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Variation_Selector, r):
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		space = false
	}
	if !space {
		dst = append(dst, ' ')
	}
	return dst
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isWordByte: bytes that belong to a word (ASCII letters and digits, and
// every byte of a non-ASCII character).
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= utf8.RuneSelf || c == '_'
}

// visit calls emit(pos, index) for every feature of the normalized text b:
// byte n-grams of length 3, 4 and 5 starting at each position, each word,
// and each pair of adjacent words (at the second word's start). Features
// come in increasing pos order.
func visit(b []byte, mask uint32, emit func(pos int, idx uint32)) {
	var prevWord uint32
	wordStart := -1
	var wordHash uint32
	for i := 0; i < len(b); i++ {
		h := uint32(fnvOffset)
		for k := 0; k < 5 && i+k < len(b); k++ {
			h ^= uint32(b[i+k])
			h *= fnvPrime
			if k >= 2 {
				emit(i, (h^uint32(k))&mask)
			}
		}
		c := b[i]
		if isWordByte(c) {
			if wordStart < 0 {
				wordStart = i
				wordHash = wordSeed
			}
			wordHash ^= uint32(c)
			wordHash *= fnvPrime
			continue
		}
		if wordStart >= 0 {
			emit(wordStart, wordHash&mask)
			if prevWord != 0 {
				emit(wordStart, ((prevWord*31)^wordHash^0x5bd1e995)*fnvPrime&mask)
			}
			prevWord = wordHash | 1
			wordStart = -1
		}
	}
}

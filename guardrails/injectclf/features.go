// Package injectclf is a small learned prompt-injection classifier: a
// logistic regression over hashed character and word n-grams, scored on
// overlapping windows of a page (the page's score is its most suspicious
// window's). Inference is pure Go, allocation-free after warm-up and
// deterministic; the trained weights (int8) are embedded. The training code
// is here too (Train), so training and inference share one feature
// definition; the command that builds the data and trains is
// scripts/train-injection.sh.
package injectclf

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// pad is the number of zero bytes kept after the normalized text, so that
// the 8-byte loads of the n-gram hashes never run past it.
const pad = 8

// Hash multipliers (odd 64-bit constants), one per feature kind. An index
// is the top bits of the product (multiplicative hashing).
var gramMul = [9]uint64{0, 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
	0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9}

const (
	wordMul = 0x9FB21C651E98DF25
	pairMul = 0xA0761D6478BD642F
)

// features says which features a model reads; it is part of the model file.
type features struct {
	// grams has bit k set when byte k-grams are features (1 ≤ k ≤ 8).
	grams uint32
	// words: 0 no word features, 1 words, 2 words and adjacent word pairs.
	words uint32
}

func (f features) valid() bool { return f.grams != 0 && f.grams&^0x1fe == 0 && f.words <= 2 }

// gramMasks returns, for each n-gram length in f, the mask of its bytes in
// a little-endian 8-byte load and its multiplier.
func (f features) gramMasks() (masks, muls [8]uint64, n int) {
	for k := 1; k <= 8; k++ {
		if f.grams&(1<<k) != 0 {
			masks[n] = ^uint64(0) >> (64 - 8*k)
			muls[n] = gramMul[k]
			n++
		}
	}
	return masks, muls, n
}

var wordByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= utf8.RuneSelf || c == '_'
	}
	return t
}()

// wordMask returns 0x80 in each byte of x that is a word byte (wordByte)
// and 0 in the others.
func wordMask(x uint64) uint64 {
	high := x & tops      // non-ASCII bytes
	low := x&^tops | tops // each byte 0x80 + its low 7 bits: the subtractions never borrow
	ge := func(c uint64) uint64 { return (low - c*ones) & tops }
	letters := ge('a') &^ ge('z'+1)
	digits := ge('0') &^ ge('9'+1)
	under := ge('_') &^ ge('_'+1)
	return high | (letters|digits|under)&^high
}

// lowBytes[r] keeps the low r bytes of a word.
var lowBytes = [8]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff}

// wordHash hashes the word b[ws:e]; b has pad zero bytes after its text.
func wordHash(b []byte, ws, e int) uint64 {
	h := uint64(e-ws) * wordMul
	for i := ws; i < e; i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if r := uint(e - i); r < 8 {
			x &= lowBytes[r]
		}
		h = (h ^ x) * wordMul
		h ^= h >> 29
	}
	return h
}

// hashIndex maps a feature's value to its weight: bits 32 and up of the
// product with an odd multiplier, masked to the table (wmask = size − 1).
func hashIndex(v, mul, wmask uint64) uint64 { return (v * mul >> 32) & wmask }

// gramIndex is the weight index of the n-gram whose bytes mask selects of
// the 8-byte load x.
func gramIndex(x, mask, mul, wmask uint64) uint64 { return hashIndex(x&mask, mul, wmask) }

func pairHash(prev, cur uint64) uint64 { return bits.RotateLeft64(prev, 21)*pairMul ^ cur }

// walk calls emit(block, index) for every feature of the normalized text
// b[:n] (b holds pad zero bytes after it), block being the position's
// stride-long block: at every position, the byte n-grams starting there
// (zero bytes past the end included, as end markers); at the byte that
// ends a word, the word and the pair of it and the word before. Model.Score
// is a fused copy of this loop; a test checks that the two agree.
func (f features) walk(b []byte, n, stride int, bits uint32, emit func(block int, idx uint32)) {
	masks, muls, ng := f.gramMasks()
	wmask := uint64(1)<<bits - 1
	inWord, ws := false, 0
	var prev uint64
	hasPrev := false
	for i := 0; i < n; i++ {
		blk := i / stride
		x := binary.LittleEndian.Uint64(b[i:])
		for j := 0; j < ng; j++ {
			emit(blk, uint32(gramIndex(x, masks[j], muls[j], wmask)))
		}
		if f.words == 0 {
			continue
		}
		if wordByte[b[i]] {
			if !inWord {
				inWord, ws = true, i
			}
			continue
		}
		if inWord {
			inWord = false
			h := wordHash(b, ws, i)
			emit(blk, uint32(hashIndex(h, wordMul, wmask)))
			if f.words == 2 && hasPrev {
				emit(blk, uint32(hashIndex(pairHash(prev, h), wordMul, wmask)))
			}
			prev, hasPrev = h, true
		}
	}
}

// lowerASCII maps ASCII upper case to lower case and white space to ' '.
var lowerASCII = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		t[c] = byte(c)
		switch {
		case c >= 'A' && c <= 'Z':
			t[c] = byte(c) + 'a' - 'A'
		case c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			t[c] = ' '
		}
	}
	return t
}()

const (
	ones = 0x0101010101010101
	tops = 0x8080808080808080
)

// plain8 lower-cases the eight ASCII bytes of x at once when they need
// nothing else: no non-ASCII or control byte (white space included) and
// no space right after a space (afterSpace: the byte before x was one).
func plain8(x uint64, afterSpace bool) (uint64, bool) {
	if x&tops != 0 {
		return 0, false
	}
	// Each byte of x|tops is at least 0x80, so the byte-wise subtractions
	// below never borrow across bytes: a top bit stays set where the byte
	// is at least the subtracted value.
	if ((x|tops)-0x20*ones)&tops != tops {
		return 0, false // a byte below 0x20
	}
	notSpace := ((x ^ 0x20*ones) | tops - ones) & tops
	spaces := ^notSpace & tops
	prev := spaces << 8
	if afterSpace {
		prev |= 0x80
	}
	if spaces&prev != 0 {
		return 0, false
	}
	upper := ((x | tops) - 0x41*ones) & tops &^ (((x | tops) - 0x5b*ones) & tops)
	return x | upper>>2, true
}

// normalize folds text for the features: compatibility forms (full-width
// letters, ligatures) to their plain form, lower case (Turkish dotless ı
// as i, so that case tricks with ı and İ fold away), invisible format
// characters (zero-width, bidi, tag characters) dropped, every run of white
// space to one space. The result starts and ends with a space so that
// n-grams see word edges, and is followed by pad zero bytes (within the
// returned slice's capacity, not its length). dst and scratch are reused
// when they have room; scratch is returned for reuse; it (nil: a new one)
// is the NFKC iterator.
func normalize(dst []byte, s string, scratch []byte, it *norm.Iter) (normalized, scratchOut []byte) {
	if cap(dst) < len(s)+2+pad {
		dst = make([]byte, 0, len(s)+len(s)/4+2+pad)
	}
	// ASCII (the common case): each byte is written, and the write
	// position moves on unless the byte is a space after a space. Eight
	// bytes that need no more than lower-casing (no control or white-space
	// byte other than single spaces) go at once. The first non-ASCII byte
	// sends the whole text to the general path.
	out := dst[:len(s)+2]
	out[0] = ' '
	copy(out[1:], s) // then folded in place: the write position never passes the read one
	j, space := 1, true
	for i := 1; i <= len(s); {
		if i+8 <= len(s)+1 && j+8 <= len(out) && j <= i {
			if y, ok := plain8(binary.LittleEndian.Uint64(out[i:i+8]), space); ok {
				binary.LittleEndian.PutUint64(out[j:j+8], y)
				i, j, space = i+8, j+8, y>>56 == ' '
				continue
			}
		}
		c := out[i]
		i++
		if c >= utf8.RuneSelf {
			j = -1
			break
		}
		c = lowerASCII[c]
		out[j] = c
		sp := c == ' '
		if !sp || !space {
			j++
		}
		space = sp
	}
	if j >= 0 {
		if !space {
			out[j] = ' '
			j++
		}
		return padZero(out[:j]), scratch
	}
	dst = append(dst[:0], ' ')
	// NFKC through an Iter the caller keeps: Form.AppendString allocates.
	if it == nil {
		it = new(norm.Iter)
	}
	it.InitString(norm.NFKC, s)
	scratch = scratch[:0]
	for !it.Done() {
		scratch = append(scratch, it.Next()...)
	}
	dst = normalizeRunes(dst, scratch)
	return padZero(dst), scratch
}

// normalizeRunes appends the folded form of the NFKC text s to dst.
func normalizeRunes(dst []byte, s []byte) []byte {
	space := true
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf { // ASCII: white space as unicode.IsSpace has it
			i++
			if c = lowerASCII[c]; c != ' ' {
				dst = append(dst, c)
				space = false
			} else if !space {
				dst = append(dst, ' ')
				space = true
			}
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		i += size
		switch {
		case r == utf8.RuneError:
			continue
		case unicode.IsSpace(r):
			if !space {
				dst = append(dst, ' ')
				space = true
			}
			continue
		case unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) || r == '\u0307':
			continue // the combining dot above too: lower-cased Turkish İ may carry one
		}
		r = unicode.ToLower(r)
		if r == 'ı' { // Turkish dotless i: "ıgnore" reads as "ignore"
			r = 'i'
		}
		if r >= 0x370 && r < 0x530 { // Greek and Cyrillic: maybe a look-alike
			if l, ok := homoglyphs[r]; ok && (len(dst) > 0 && isLatin(dst[len(dst)-1]) || i < len(s) && isLatin(s[i])) {
				dst = append(dst, l)
				space = false
				continue
			}
		}
		dst = utf8.AppendRune(dst, r)
		space = false
	}
	if !space {
		dst = append(dst, ' ')
	}
	return dst
}

// homoglyphs maps Cyrillic and Greek letters that look like Latin ones to
// those; normalize folds them only next to a Latin letter (a mixed-script
// word such as "Іgnore" or "аnd"), so that Russian or Greek text keeps
// its own letters.
var homoglyphs = map[rune]byte{
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p',
	'с': 'c', 'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'һ': 'h', 'ӏ': 'l', 'ь': 'b',
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u',
	'χ': 'x', 'ω': 'w',
}

// isLatin reports whether c is an ASCII letter.
func isLatin(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// padZero makes sure pad zero bytes follow b within its capacity.
func padZero(b []byte) []byte {
	n := len(b)
	if cap(b)-n < pad {
		b = append(b[:n:n], make([]byte, pad)...)[:n]
	}
	clear(b[n : n+pad])
	return b
}

func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if x&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

package tinylm

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Token ids of the tokenizer. Ids 0–255 are the bytes 0x00–0xFF; the
// special tokens follow.
const (
	TokPad       = 256 // <|pad|>: padding, never produced
	TokBOS       = 257 // <|bos|>: start of a sequence
	TokEOS       = 258 // <|eos|>: end of a sequence
	TokSystem    = 259 // <|system|>
	TokUser      = 260 // <|user|>
	TokAssistant = 261 // <|assistant|>
	TokTool      = 262 // <|tool|>
	TokEnd       = 263 // <|end|>: end of one message; generation stops here

	// VocabSize is the number of token ids.
	VocabSize = 264
)

var specialNames = [...]string{
	"<|pad|>", "<|bos|>", "<|eos|>", "<|system|>", "<|user|>", "<|assistant|>", "<|tool|>", "<|end|>",
}

// TokenString returns a readable form of one token id: the special token's
// name, the byte as it would appear in a Go string literal, or
// "<|invalid:N|>".
func TokenString(id int) string {
	switch {
	case id >= 0 && id < 256:
		q := strconv.QuoteToASCII(string([]byte{byte(id)}))
		return q[1 : len(q)-1]
	case id >= 256 && id < VocabSize:
		return specialNames[id-256]
	default:
		return "<|invalid:" + strconv.Itoa(id) + "|>"
	}
}

// Encode returns the token ids of text: its UTF-8 bytes. Special tokens are
// never produced from text, so "<|end|>" in a message is seven plain bytes.
func Encode(text string) []int {
	return appendText(make([]int, 0, len(text)), text)
}

func appendText(ids []int, text string) []int {
	for i := 0; i < len(text); i++ {
		ids = append(ids, int(text[i]))
	}
	return ids
}

// Decode joins the bytes of ids into text. Special tokens and ids outside
// the vocabulary are dropped; invalid UTF-8 becomes U+FFFD, one per maximal
// ill-formed subsequence (the Unicode rule Python's decode also follows).
func Decode(ids []int) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < 256 {
			b = append(b, byte(id))
		}
	}
	return validUTF8(b)
}

// validUTF8 converts b to a string, replacing each maximal ill-formed
// subsequence with U+FFFD.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			sb.Write(b[i : i+size])
			i += size
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += illFormedLen(b[i:])
	}
	return sb.String()
}

// illFormedLen returns the length of the maximal prefix of b that starts a
// well-formed sequence but cannot be completed (at least 1). b[0] is known
// not to begin a valid rune.
func illFormedLen(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF)
	var need int
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		c := b[n]
		if c < lo || c > hi {
			break
		}
		lo, hi = 0x80, 0xBF // only the second byte has a narrower range
	}
	return n
}

package audit

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Form names a canonical JSON form that records are hashed in. A record
// says which form it used (Record.Canon), so chains written before RFC 8785
// was adopted still verify.
type Form string

// Canonical forms.
const (
	// FormRFC8785 is the JSON Canonicalization Scheme of RFC 8785 (JCS),
	// exactly: what every record written by this version uses, and what any
	// JCS library (Python's rfc8785, Java's or JavaScript's
	// json-canonicalize, …) reproduces byte for byte.
	FormRFC8785 Form = "rfc8785"
	// FormLegacy is the form of records written before RFC 8785 was adopted
	// (stored with an empty canon): it differs from JCS only in sorting
	// object keys by their UTF-8 bytes instead of their UTF-16 code units
	// (which matters only for keys outside the Basic Multilingual Plane)
	// and in keeping integers of more than 15 digits digit for digit.
	FormLegacy Form = ""
)

// String names the form: "rfc8785", or "legacy" for FormLegacy.
func (f Form) String() string {
	if f == FormLegacy {
		return "legacy"
	}
	return string(f)
}

func (f Form) check() error {
	switch f {
	case FormRFC8785, FormLegacy:
		return nil
	}
	return fmt.Errorf("unknown canonical form %q (this build knows %q and the legacy form); upgrade reagent", string(f), string(FormRFC8785))
}

// Canonicalize returns the RFC 8785 (JCS) canonical form of src, the form
// that audit records are hashed in:
//
//   - src must be exactly one JSON value (RFC 8259), optionally surrounded by
//     whitespace, in valid UTF-8, with no duplicate object keys and no lone
//     UTF-16 surrogate escapes (RFC 8785 section 3.1, I-JSON);
//   - no insignificant whitespace is written;
//   - object members are sorted by key, comparing the keys' UTF-16 code
//     units (section 3.2.3); array order is kept;
//   - strings escape only '"' and '\\' (as \" and \\), \b \f \n \r \t, and
//     the other code points below U+0020 as \u00xx (lower-case hex);
//     everything else, including '/', '<', '>', '&', U+2028 and non-ASCII, is
//     written as literal UTF-8 (section 3.2.2.2);
//   - numbers are IEEE-754 doubles written as ECMAScript's
//     Number.prototype.toString writes them (section 3.2.2.3): integers
//     below 10^21 in full, exponent form (1e-7, 1.5e+300) only below 1e-6
//     or from 1e21 up, -0 as 0; a literal with more precision than a double
//     is written rounded to the nearest double, as the RFC requires (keep
//     such values in strings);
//   - true, false and null are written as such.
//
// Canonicalize(Canonicalize(x)) equals Canonicalize(x) for every x it accepts.
func Canonicalize(src []byte) ([]byte, error) {
	return appendCanonical(make([]byte, 0, len(src)), src, FormRFC8785)
}

// CanonicalizeForm returns src in the given canonical form; Canonicalize is
// CanonicalizeForm(src, FormRFC8785). Use it to check records written in an
// older form.
func CanonicalizeForm(src []byte, f Form) ([]byte, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return appendCanonical(make([]byte, 0, len(src)), src, f)
}

// maxDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxDepth = 512

type canon struct {
	form  Form
	src   []byte
	pos   int
	out   []byte
	ms    []member // members of the objects being built, a stack
	keys  []byte   // their unescaped keys, a stack
	tmp   []byte
	depth int
}

type member struct {
	keyStart, keyEnd int // in keys
	start, end       int // the member "key":value in out
}

// canonPool keeps the scratch stacks of finished canonicalisations, so
// that a busy writer does not regrow them for every record.
var canonPool = sync.Pool{New: func() any { return new(canon) }}

func appendCanonical(dst, src []byte, f Form) ([]byte, error) {
	c := canonPool.Get().(*canon)
	c.src, c.pos, c.out, c.form, c.depth = src, 0, dst, f, 0
	out, err := c.run()
	c.src, c.out = nil, nil
	c.ms, c.keys, c.tmp = c.ms[:0], c.keys[:0], c.tmp[:0]
	if cap(c.tmp) <= 1<<20 {
		canonPool.Put(c)
	}
	return out, err
}

func (c *canon) run() ([]byte, error) {
	c.skipWS()
	if err := c.value(); err != nil {
		return nil, err
	}
	c.skipWS()
	if c.pos != len(c.src) {
		return nil, c.errorf("unexpected data after the JSON value")
	}
	return c.out, nil
}

func (c *canon) errorf(format string, args ...any) error {
	return fmt.Errorf("canonical json: offset %d: %s", c.pos, fmt.Sprintf(format, args...))
}

func (c *canon) skipWS() {
	for c.pos < len(c.src) {
		switch c.src[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canon) value() error {
	if c.pos >= len(c.src) {
		return c.errorf("unexpected end of input")
	}
	switch b := c.src[c.pos]; {
	case b == '{':
		return c.object()
	case b == '[':
		return c.array()
	case b == '"':
		return c.str(false)
	case b == '-' || (b >= '0' && b <= '9'):
		return c.number()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	default:
		return c.errorf("invalid character %q looking for a value", b)
	}
}

func (c *canon) literal(lit string) error {
	if !bytes.HasPrefix(c.src[c.pos:], []byte(lit)) {
		return c.errorf("invalid literal, want %s", lit)
	}
	c.pos += len(lit)
	c.out = append(c.out, lit...)
	return nil
}

func (c *canon) enter() error {
	c.depth++
	if c.depth > maxDepth {
		return c.errorf("nested deeper than %d levels", maxDepth)
	}
	return nil
}

func (c *canon) array() error {
	if err := c.enter(); err != nil {
		return err
	}
	err := c.arrayBody()
	c.depth--
	return err
}

func (c *canon) arrayBody() error {
	c.pos++ // [
	c.out = append(c.out, '[')
	c.skipWS()
	if c.pos < len(c.src) && c.src[c.pos] == ']' {
		c.pos++
		c.out = append(c.out, ']')
		return nil
	}
	for {
		c.skipWS()
		if err := c.value(); err != nil {
			return err
		}
		c.skipWS()
		if c.pos >= len(c.src) {
			return c.errorf("unexpected end of input in array")
		}
		switch c.src[c.pos] {
		case ',':
			c.pos++
			c.out = append(c.out, ',')
		case ']':
			c.pos++
			c.out = append(c.out, ']')
			return nil
		default:
			return c.errorf("invalid character %q after array element", c.src[c.pos])
		}
	}
}

func (c *canon) object() error {
	if err := c.enter(); err != nil {
		return err
	}
	mbase, kbase := len(c.ms), len(c.keys)
	err := c.objectBody(mbase)
	c.ms, c.keys = c.ms[:mbase], c.keys[:kbase]
	c.depth--
	return err
}

func (c *canon) objectBody(mbase int) error {
	c.pos++ // {
	c.out = append(c.out, '{')
	base := len(c.out)
	c.skipWS()
	if c.pos < len(c.src) && c.src[c.pos] == '}' {
		c.pos++
		c.out = append(c.out, '}')
		return nil
	}
	for {
		c.skipWS()
		if c.pos >= len(c.src) || c.src[c.pos] != '"' {
			return c.errorf("object key must be a string")
		}
		if len(c.ms) > mbase {
			c.out = append(c.out, ',')
		}
		m := member{start: len(c.out), keyStart: len(c.keys)}
		if err := c.str(true); err != nil {
			return err
		}
		m.keyEnd = len(c.keys)
		c.skipWS()
		if c.pos >= len(c.src) || c.src[c.pos] != ':' {
			return c.errorf("missing ':' after object key")
		}
		c.pos++
		c.out = append(c.out, ':')
		c.skipWS()
		if err := c.value(); err != nil {
			return err
		}
		m.end = len(c.out)
		c.ms = append(c.ms, m)
		c.skipWS()
		if c.pos >= len(c.src) {
			return c.errorf("unexpected end of input in object")
		}
		if c.src[c.pos] == ',' {
			c.pos++
			continue
		}
		if c.src[c.pos] != '}' {
			return c.errorf("invalid character %q after object member", c.src[c.pos])
		}
		c.pos++
		break
	}
	// Members were written back to back without commas; write them again in
	// key order.
	ms := c.ms[mbase:]
	keys := c.keys
	cmp := compareUTF16
	if c.form == FormLegacy {
		cmp = bytes.Compare
	}
	order := func(a, b member) int {
		return cmp(keys[a.keyStart:a.keyEnd], keys[b.keyStart:b.keyEnd])
	}
	sorted := true
	for i := 1; i < len(ms); i++ {
		d := order(ms[i-1], ms[i])
		if d == 0 {
			return c.errorf("duplicate object key %q", keys[ms[i].keyStart:ms[i].keyEnd])
		}
		if d > 0 {
			sorted = false
		}
	}
	if !sorted {
		slices.SortFunc(ms, order)
		for i := 1; i < len(ms); i++ {
			if order(ms[i-1], ms[i]) == 0 {
				return c.errorf("duplicate object key %q", keys[ms[i].keyStart:ms[i].keyEnd])
			}
		}
	}
	if !sorted {
		// Write the members again in key order.
		c.tmp = append(c.tmp[:0], c.out[base:]...)
		c.out = c.out[:base]
		for i, m := range ms {
			if i > 0 {
				c.out = append(c.out, ',')
			}
			c.out = append(c.out, c.tmp[m.start-base:m.end-base]...)
		}
	}
	c.out = append(c.out, '}')
	return nil
}

// str reads a string at c.pos and writes its canonical form; for an object
// key it also records the unescaped bytes in c.keys.
func (c *canon) str(isKey bool) error {
	c.pos++ // opening quote
	c.out = append(c.out, '"')
	for {
		// Copy the run of bytes that need no attention.
		src, start, pos := c.src, c.pos, c.pos
		for pos < len(src) && plainByte[src[pos]] {
			pos++
		}
		c.pos = pos
		c.out = append(c.out, src[start:pos]...)
		if isKey {
			c.keys = append(c.keys, src[start:pos]...)
		}
		if c.pos >= len(c.src) {
			return c.errorf("unterminated string")
		}
		b := c.src[c.pos]
		switch {
		case b == '"':
			c.pos++
			c.out = append(c.out, '"')
			return nil
		case b < 0x20:
			return c.errorf("control character %#x in string", b)
		case b >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(c.src[c.pos:])
			if r == utf8.RuneError && size == 1 {
				return c.errorf("invalid UTF-8 in string")
			}
			c.out = append(c.out, c.src[c.pos:c.pos+size]...)
			if isKey {
				c.keys = append(c.keys, c.src[c.pos:c.pos+size]...)
			}
			c.pos += size
		default: // backslash
			r, err := c.escape()
			if err != nil {
				return err
			}
			c.out = appendStringRune(c.out, r)
			if isKey {
				c.keys = utf8.AppendRune(c.keys, r)
			}
		}
	}
}

// plainByte marks the bytes a string copies as they are: printable ASCII
// other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// escape decodes the escape sequence at c.pos (a backslash).
func (c *canon) escape() (rune, error) {
	if c.pos+1 >= len(c.src) {
		return 0, c.errorf("unterminated escape")
	}
	e := c.src[c.pos+1]
	c.pos += 2
	switch e {
	case '"', '\\', '/':
		return rune(e), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := c.hex4()
		if !ok {
			return 0, c.errorf("invalid \\u escape")
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		if r >= 0xDC00 || c.pos+1 >= len(c.src) || c.src[c.pos] != '\\' || c.src[c.pos+1] != 'u' {
			return 0, c.errorf("lone UTF-16 surrogate \\u%04x", r)
		}
		c.pos += 2
		r2, ok := c.hex4()
		if !ok {
			return 0, c.errorf("invalid \\u escape")
		}
		full := utf16.DecodeRune(r, r2)
		if full == utf8.RuneError {
			return 0, c.errorf("invalid UTF-16 surrogate pair")
		}
		return full, nil
	default:
		return 0, c.errorf("invalid escape \\%c", e)
	}
}

func (c *canon) hex4() (rune, bool) {
	if c.pos+4 > len(c.src) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(c.src[c.pos:c.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	c.pos += 4
	return rune(v), true
}

const hexDigits = "0123456789abcdef"

// appendStringRune writes r as it appears inside a canonical string.
func appendStringRune(dst []byte, r rune) []byte {
	switch r {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	if r < 0x20 {
		return append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
	}
	return utf8.AppendRune(dst, r)
}

// appendString writes s as a canonical JSON string. s must be valid UTF-8;
// invalid bytes are written as U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for _, r := range s {
		dst = appendStringRune(dst, r)
	}
	return append(dst, '"')
}

func (c *canon) number() error {
	start := c.pos
	isInt := true
	if c.src[c.pos] == '-' {
		c.pos++
	}
	switch {
	case c.pos < len(c.src) && c.src[c.pos] == '0':
		c.pos++
	case c.pos < len(c.src) && c.src[c.pos] >= '1' && c.src[c.pos] <= '9':
		c.digits()
	default:
		return c.errorf("invalid number")
	}
	if c.pos < len(c.src) && c.src[c.pos] == '.' {
		isInt = false
		c.pos++
		if c.digits() == 0 {
			return c.errorf("invalid number: no digits after '.'")
		}
	}
	if c.pos < len(c.src) && (c.src[c.pos] == 'e' || c.src[c.pos] == 'E') {
		isInt = false
		c.pos++
		if c.pos < len(c.src) && (c.src[c.pos] == '+' || c.src[c.pos] == '-') {
			c.pos++
		}
		if c.digits() == 0 {
			return c.errorf("invalid number: no digits in exponent")
		}
	}
	lit := c.src[start:c.pos]
	// An integer of at most 15 digits is a double exactly and ECMAScript
	// writes it as is; the legacy form kept every integer digit for digit.
	if isInt && (c.form == FormLegacy || len(lit) <= 15 || (len(lit) == 16 && lit[0] == '-')) {
		if string(lit) == "-0" {
			lit = lit[1:]
		}
		c.out = append(c.out, lit...)
		return nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return c.errorf("number %s out of range", lit)
	}
	c.out = appendFloat(c.out, f)
	return nil
}

func (c *canon) digits() int {
	n := 0
	for c.pos < len(c.src) && c.src[c.pos] >= '0' && c.src[c.pos] <= '9' {
		c.pos++
		n++
	}
	return n
}

// appendFloat writes a finite double as described in Canonicalize.
func appendFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	if f == math.Trunc(f) && abs < 1<<53 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	// strconv writes at least two exponent digits (1e-07); ECMAScript writes
	// the fewest (1e-7).
	e := bytes.IndexByte(dst[start:], 'e') + start
	if e+3 < len(dst) && dst[e+2] == '0' {
		dst = append(dst[:e+2], dst[e+3:]...)
	}
	return dst
}

// compareUTF16 orders UTF-8 strings by their UTF-16 code units, as RFC 8785
// sorts keys. It looks at the first rune that differs: UTF-8 byte order is
// code point order, which differs from UTF-16 order only between a code
// point from U+E000 to U+FFFF and one above U+FFFF (written with surrogates,
// 0xD800–0xDFFF).
func compareUTF16(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return len(a) - len(b)
	}
	if a[i] < utf8.RuneSelf && b[i] < utf8.RuneSelf {
		return int(a[i]) - int(b[i])
	}
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRune(a[i:])
	rb, _ := utf8.DecodeRune(b[i:])
	return utf16Order(ra) - utf16Order(rb)
}

// utf16Order maps r to a number ordered as r's UTF-16 encoding: code points
// below U+D800 stay, those above U+FFFF come next (their high surrogate is
// 0xD800–0xDBFF) in code point order, and U+E000–U+FFFF come last.
func utf16Order(r rune) int {
	switch {
	case r < 0xD800:
		return int(r)
	case r > 0xFFFF:
		return 0xD800 + int(r-0x10000)
	default: // U+E000..U+FFFF (valid UTF-8 holds no surrogates)
		return 0xD800 + 0x100000 + int(r-0xE000)
	}
}

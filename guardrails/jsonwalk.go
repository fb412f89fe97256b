package guardrails

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/reagent-go/reagent/trajectory"
)

// jsonValue is one value found in a JSON document, with its path. Strings
// are decoded; numbers, booleans and null keep their text; objects and
// arrays their raw JSON.
type jsonValue struct {
	path   []string
	text   string
	isText bool // a JSON string
}

// maxJSONWalk and maxJSONDepth bound the work done on one tool input. An
// input over maxJSONWalk is never parsed: the guards read it as raw text
// (with escapes undone), the argument guard escalates it when it passes,
// and the schema guard refuses it. An input over maxGuardInput is refused
// by every guard that would read it, without reading it: checking it would
// cost seconds.
const (
	maxJSONWalk   = 1 << 20
	maxJSONDepth  = 64
	maxGuardInput = 4 << 20
)

// tooLarge returns the decision for an input over maxGuardInput.
func tooLarge(input string) (trajectory.Decision, bool) {
	if len(input) <= maxGuardInput {
		return trajectory.Decision{}, false
	}
	return decide(trajectory.Block, fmt.Sprintf("input is %d bytes, over the %d the guards check; refused unread", len(input), maxGuardInput)), true
}

var (
	errNotJSON  = errors.New("not a JSON document")
	errTooLarge = errors.New("too large to parse")
)

// walkJSON returns every value of the JSON document s, in order (children
// before their container), keeping values of duplicated keys: a tool may
// read the first or the last one, so a guard must see both. It accepts
// exactly one JSON object, array or string (with JSON white space around
// it) and nothing else. It is a small strict parser rather than
// encoding/json's token API, which costs several times more on the hot
// path of every tool call.
func walkJSON(s string) ([]jsonValue, error) {
	return walkJSONMode(s, false)
}

// walkJSONLenient is walkJSON for the JSON that Python's json module,
// JavaScript's JSON5 readers and many tools accept besides the standard:
// NaN, Infinity and -Infinity as numbers, and a comma before a closing
// bracket. A guard that reads such input strictly would see no values at
// all, and check less than the tool will read.
func walkJSONLenient(s string) ([]jsonValue, error) {
	return walkJSONMode(s, true)
}

func walkJSONMode(s string, lenient bool) ([]jsonValue, error) {
	out, _, err := walkJSONValues(s, lenient, false, nil)
	return out, err
}

// walkBufs are the first values, paths and path elements of one reading,
// kept in the inputCache that holds its result: one allocation for the
// cache and the reading of a small input.
type walkBufs struct {
	out   [8]jsonValue
	paths [16]string
	path  [8]string
}

// walkJSONValues is walkJSONMode that, with tree, also decodes the
// document as parseJSONTree would: one reading for the guards that match
// values and the schema guard. It starts in bufs when given (the values
// returned may live there).
func walkJSONValues(s string, lenient, tree bool, bufs *walkBufs) ([]jsonValue, any, error) {
	t := strings.Trim(s, " \t\r\n") // JSON white space only
	if len(t) > maxJSONWalk {
		return nil, nil, errTooLarge
	}
	if t == "" || (t[0] != '{' && t[0] != '[' && t[0] != '"') {
		return nil, nil, errNotJSON
	}
	if bufs == nil {
		bufs = new(walkBufs)
	}
	w := jsonWalker{s: t, path: bufs.path[:0], out: bufs.out[:0], paths: bufs.paths[:0],
		lenient: lenient, values: true, tree: tree}
	if !w.value() {
		return nil, nil, errNotJSON
	}
	w.space()
	if w.i != len(t) {
		return nil, nil, errNotJSON
	}
	return w.out, w.last, nil
}

// parseJSONTree decodes s like encoding/json with UseNumber into an any
// (objects as map[string]any, numbers as json.Number), for validators
// that want a document; ok is false for anything but one JSON value.
func parseJSONTree(s string) (any, bool) {
	t := strings.Trim(s, " \t\r\n")
	if t == "" || len(t) > maxJSONWalk {
		return nil, false
	}
	w := jsonWalker{s: t, tree: true}
	if !w.value() {
		return nil, false
	}
	w.space()
	return w.last, w.i == len(t)
}

type jsonWalker struct {
	s     string
	i     int
	depth int
	path  []string
	out   []jsonValue
	// tree, when set, also builds the document as encoding/json would
	// decode it into an any with UseNumber (the last duplicate key wins),
	// for schema validation; last holds the value just read.
	tree bool
	last any
	// values, when set, collects every value with its path (out).
	values bool
	// paths backs the values' paths: one growing array instead of a copy
	// per value (a slice handed out stays valid when it grows).
	paths []string
	// lenient accepts NaN, Infinity, -Infinity and trailing commas.
	lenient bool
}

func (w *jsonWalker) emit(text string, isText bool) {
	if !w.values {
		return
	}
	start := len(w.paths)
	w.paths = append(w.paths, w.path...)
	path := w.paths[start:len(w.paths):len(w.paths)]
	w.out = append(w.out, jsonValue{path: path, text: text, isText: isText})
}

func (w *jsonWalker) space() {
	for w.i < len(w.s) {
		switch w.s[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func (w *jsonWalker) value() bool {
	w.space()
	if w.i >= len(w.s) {
		return false
	}
	start := w.i
	switch c := w.s[w.i]; {
	case c == '{' || c == '[':
		if w.depth++; w.depth > maxJSONDepth {
			return false
		}
		ok := w.container(c == '{')
		w.depth--
		if !ok {
			return false
		}
		w.emit(w.s[start:w.i], false)
		return true
	case c == '"':
		str, ok := w.str()
		if ok {
			w.emit(str, true)
			if w.tree {
				w.last = str
			}
		}
		return ok
	case c == 't':
		w.last = true
		return w.literal("true")
	case c == 'f':
		w.last = false
		return w.literal("false")
	case c == 'n':
		w.last = nil
		return w.literal("null")
	case w.lenient && c == 'N':
		return w.literal("NaN")
	case w.lenient && c == 'I':
		return w.literal("Infinity")
	case w.lenient && c == '-' && strings.HasPrefix(w.s[w.i:], "-I"):
		return w.literal("-Infinity")
	default:
		return w.number()
	}
}

func (w *jsonWalker) container(obj bool) bool {
	w.i++ // { or [
	closer := byte(']')
	var m map[string]any
	var arr []any
	if w.tree {
		if obj {
			m = map[string]any{}
		} else {
			arr = []any{}
		}
	}
	finish := func() {
		if w.tree {
			if obj {
				w.last = m
			} else {
				w.last = arr
			}
		}
	}
	if obj {
		closer = '}'
	}
	w.space()
	if w.i < len(w.s) && w.s[w.i] == closer {
		w.i++
		finish()
		return true
	}
	for idx := 0; ; idx++ {
		var key string
		if obj {
			w.space()
			if w.i >= len(w.s) || w.s[w.i] != '"' {
				return false
			}
			k, ok := w.str()
			if !ok {
				return false
			}
			key = k
			w.space()
			if w.i >= len(w.s) || w.s[w.i] != ':' {
				return false
			}
			w.i++
			if w.values {
				w.path = append(w.path, key)
			}
		} else if w.values {
			w.path = append(w.path, strconv.Itoa(idx))
		}
		ok := w.value()
		if w.values {
			w.path = w.path[:len(w.path)-1]
		}
		if !ok {
			return false
		}
		if w.tree {
			if obj {
				m[key] = w.last
			} else {
				arr = append(arr, w.last)
			}
		}
		w.space()
		if w.i >= len(w.s) {
			return false
		}
		switch w.s[w.i] {
		case ',':
			w.i++
			if w.lenient {
				w.space()
				if w.i < len(w.s) && w.s[w.i] == closer {
					w.i++
					finish()
					return true
				}
			}
		case closer:
			w.i++
			finish()
			return true
		default:
			return false
		}
	}
}

func (w *jsonWalker) literal(lit string) bool {
	if !strings.HasPrefix(w.s[w.i:], lit) {
		return false
	}
	w.i += len(lit)
	w.emit(lit, false)
	return true
}

// number accepts the JSON grammar -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?.
func (w *jsonWalker) number() bool {
	start := w.i
	s := w.s
	digits := func() int {
		n := 0
		for w.i < len(s) && s[w.i] >= '0' && s[w.i] <= '9' {
			w.i++
			n++
		}
		return n
	}
	if w.i < len(s) && s[w.i] == '-' {
		w.i++
	}
	switch {
	case w.i < len(s) && s[w.i] == '0':
		w.i++
	case digits() == 0:
		return false
	}
	if w.i < len(s) && s[w.i] == '.' {
		w.i++
		if digits() == 0 {
			return false
		}
	}
	if w.i < len(s) && (s[w.i] == 'e' || s[w.i] == 'E') {
		w.i++
		if w.i < len(s) && (s[w.i] == '+' || s[w.i] == '-') {
			w.i++
		}
		if digits() == 0 {
			return false
		}
	}
	w.emit(s[start:w.i], false)
	if w.tree {
		w.last = json.Number(s[start:w.i])
	}
	return true
}

// str reads a JSON string at w.i and returns it decoded as encoding/json
// would (bad surrogates and invalid UTF-8 become U+FFFD).
func (w *jsonWalker) str() (string, bool) {
	s := w.s
	w.i++ // opening quote
	start := w.i
	for w.i < len(s) {
		c := s[w.i]
		switch {
		case c == '"':
			raw := s[start:w.i]
			w.i++
			if !utf8.ValidString(raw) {
				return fixUTF8(raw), true
			}
			return raw, true
		case c == '\\':
			return w.strSlow(start)
		case c < 0x20:
			return "", false
		}
		w.i++
	}
	return "", false
}

func (w *jsonWalker) strSlow(start int) (string, bool) {
	s := w.s
	var b strings.Builder
	b.WriteString(s[start:w.i])
	for w.i < len(s) {
		c := s[w.i]
		switch {
		case c == '"':
			w.i++
			return fixUTF8(b.String()), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b.WriteByte(c)
			w.i++
			continue
		}
		if w.i+1 >= len(s) {
			return "", false
		}
		e := s[w.i+1]
		w.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := w.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				if strings.HasPrefix(s[w.i:], `\u`) {
					save := w.i
					w.i += 2
					r2, ok := w.hex4()
					if ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b.WriteRune(d)
							continue
						}
					}
					w.i = save
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return "", false
}

// fixUTF8 replaces every byte that does not start a valid UTF-8 sequence
// with U+FFFD, one for one, as encoding/json does.
func fixUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func (w *jsonWalker) hex4() (rune, bool) {
	if w.i+4 > len(w.s) {
		return 0, false
	}
	n, err := strconv.ParseUint(w.s[w.i:w.i+4], 16, 32)
	if err != nil || strings.ContainsAny(w.s[w.i:w.i+4], "+-_xX") {
		return 0, false
	}
	w.i += 4
	return rune(n), true
}

// pathMatches reports whether a value's path matches a dotted field path:
// keys compare case-insensitively (Go's encoding/json, and so many tools,
// read "URL" into a field named url), "*" matches any one key or index.
func pathMatches(field []string, path []string) bool {
	if len(field) != len(path) {
		return false
	}
	for i, f := range field {
		if f != "*" && !strings.EqualFold(f, path[i]) {
			return false
		}
	}
	return true
}

// splitField splits a dotted field path ("headers.Authorization",
// "items.0.url"); an empty field is the whole input.
func splitField(field string) []string {
	field = strings.TrimSpace(field)
	if field == "" {
		return nil
	}
	return strings.Split(field, ".")
}

// inputCache holds what guards derive from one call's input, so that a
// chain of guards parses it once.
type inputCache struct {
	input string
	// values are the input's JSON values: from the strict reading, or,
	// when that fails (err set), from the lenient one (lenient set).
	values  []jsonValue
	err     error
	lenient bool
	// unescaped is the raw input with every JSON-style escape undone, for
	// input the strict reading refused (see unescapeLoose); "" otherwise.
	unescaped string
	urls      []string
	hasURLs   bool
	doc       any
	docOK     bool
	hasDoc    bool
	bufs      walkBufs  // the strict reading's first values
	urlBuf    [4]string // the first URLs
}

// document returns the input decoded as a JSON document, once per event.
func (c *inputCache) document() (any, bool) {
	if !c.hasDoc {
		c.doc, c.docOK = parseJSONTree(c.input)
		c.hasDoc = true
	}
	return c.doc, c.docOK
}

// parsed returns the JSON values of the event's call input (or the reason
// it is not JSON), computing them once per event.
func (ev *Event) parsed() *inputCache {
	in := callInput(ev)
	if ev.cache == nil || ev.cache.input != in {
		c := &inputCache{input: in}
		var doc any
		c.values, doc, c.err = walkJSONValues(in, false, ev.wantDoc, &c.bufs)
		if ev.wantDoc && c.err == nil {
			// The strict reading accepted the input: it is the document.
			c.doc, c.docOK, c.hasDoc = doc, true, true
		}
		if errors.Is(c.err, errNotJSON) {
			if v, err := walkJSONLenient(in); err == nil {
				c.values, c.lenient = v, true
			}
		}
		if c.err != nil && strings.IndexByte(in, '\\') >= 0 {
			if u := unescapeLoose(in); u != in {
				c.unescaped = u
			}
		}
		ev.cache = c
	}
	return ev.cache
}

// looksLikeJSON reports whether s opens like a JSON object or array: input
// a tool will try to decode as JSON.
func looksLikeJSON(s string) bool {
	t := strings.TrimLeft(s, " \t\r\n")
	return t != "" && (t[0] == '{' || t[0] == '[')
}

// unescapeLoose undoes, anywhere in s, the escapes a JSON or JavaScript
// reader would: \uXXXX (surrogate pairs joined), \xHH, \n, \t, \r, \b,
// \f, \/, \" and \\. It reads input no parser accepted, so that
// "\u0072m -rf" is seen as "rm -rf" whatever else is wrong with the input.
func unescapeLoose(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		e := s[i+1]
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case '/', '"', '\\', '\'':
			b.WriteByte(e)
		case 'x':
			if n, ok := hexN(s, i+2, 2); ok {
				b.WriteRune(rune(n))
				i += 3
				continue
			}
			b.WriteByte(c)
			continue
		case 'u':
			n, ok := hexN(s, i+2, 4)
			if !ok {
				b.WriteByte(c)
				continue
			}
			r := rune(n)
			i += 5
			if utf16.IsSurrogate(r) && strings.HasPrefix(s[i+1:], "\\u") {
				if n2, ok := hexN(s, i+3, 4); ok {
					if d := utf16.DecodeRune(r, rune(n2)); d != utf8.RuneError {
						b.WriteRune(d)
						i += 6
						continue
					}
				}
			}
			b.WriteRune(r)
			continue
		default:
			b.WriteByte(c)
			continue
		}
		i++
	}
	return b.String()
}

// hexN reads n hex digits at s[i:].
func hexN(s string, i, n int) (uint64, bool) {
	if i < 0 || i+n > len(s) {
		return 0, false
	}
	var v uint64
	for _, c := range []byte(s[i : i+n]) {
		if !isHexByte(c) {
			return 0, false
		}
		v = v<<4 | uint64(hexVal(c))
	}
	return v, true
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

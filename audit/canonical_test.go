package audit_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
)

func TestCanonicalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{` { "b" : 1 , "a" : [ true , false , null ] } `, `{"a":[true,false,null],"b":1}`},
		{`{"b":{"z":1,"y":{"d":2,"c":3}},"a":0}`, `{"a":0,"b":{"y":{"c":3,"d":2},"z":1}}`},
		{`{"é":1,"e":2,"E":3,"":4}`, `{"":4,"E":3,"e":2,"é":1}`},
		{`"\u003cb\u003e \/ \u00e9 \u2028 \ud83d\ude00"`, "\"<b> / é \u2028 😀\""},
		{`"\"\\\b\f\n\r\t\u0000\u001f\u007f"`, `"\"\\\b\f\n\r\t\u0000\u001f` + "\x7f" + `"`},
		{`[0,-0,12,-7,1.0,1.5,-2.50,1e2,1E-7,0.000001,1e21,123456789012345678901234567890,9007199254740993]`,
			`[0,0,12,-7,1,1.5,-2.5,100,1e-7,0.000001,1e+21,1.2345678901234568e+29,9007199254740992]`},
		{`[-123456789012345,1234567890123456,-1234567890123456,99999999999999999]`, `[-123456789012345,1234567890123456,-1234567890123456,100000000000000000]`},
		{`[1e300, 2.5e-300, 0.1, 1e20]`, `[1e+300,2.5e-300,0.1,100000000000000000000]`},
		{`{}`, `{}`},
		{`[]`, `[]`},
		{`{"a":{}}`, `{"a":{}}`},
		{`{"\u0062":1,"a":2}`, `{"a":2,"b":1}`},
	}
	for _, c := range cases {
		got, err := audit.Canonicalize([]byte(c.in))
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, string(got), c.in)
		again, err := audit.Canonicalize(got)
		require.NoError(t, err)
		assert.Equal(t, string(got), string(again), "canonical form is a fixed point")
	}
}

func TestCanonicalizeRejects(t *testing.T) {
	for _, in := range []string{
		``, ` `, `{`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `[1 2]`, `01`, `1.`, `.5`, `1e`, `-`, `+1`,
		`"abc`, "\"a\x01b\"", `"\x"`, `"\u12"`, `"\ud800"`, `"\udc00x"`, `"\ud800\u0041"`, `tru`, `nul`,
		`{"a":1,"a":2}`, `{"\u0061":1,"a":2}`, `1 2`, `[1]x`, "\"\xff\"", `1e999`, `-1e999`,
		strings.Repeat("[", 600) + strings.Repeat("]", 600),
	} {
		_, err := audit.Canonicalize([]byte(in))
		assert.Error(t, err, "%q", in)
	}
}

// FuzzCanonicalize checks, for any input: no panic; whatever is accepted is
// valid JSON meaning the same as the input, and a fixed point; whatever
// encoding/json accepts (without duplicate keys, lone surrogates or bad
// UTF-8) is accepted.
func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[1,2,{"d":null,"c":"x"}]}`, `"\u00e9\ud83d\ude00\n"`, `[1e-7,1.5,-0,1e21]`,
		`{"a":{"a":{"a":[]}}}`, `{"a":1,"a":2}`, `"\ud800"`, "\"\xff\"", `123456789012345678901234567890`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := audit.Canonicalize(in)
		if err != nil {
			if json.Valid(in) && utf8.Valid(in) && !bytes.Contains(in, []byte(`\u`)) && bytes.Count(in, []byte("[")) < 500 && bytes.Count(in, []byte("{")) < 500 {
				var v any
				d := json.NewDecoder(bytes.NewReader(in))
				d.UseNumber()
				if d.Decode(&v) == nil && !hasDupKeys(in) && !hugeNumber(v) {
					t.Fatalf("valid JSON rejected: %q: %v", in, err)
				}
			}
			return
		}
		require.True(t, json.Valid(out), "output is JSON: %q", out)
		again, err := audit.Canonicalize(out)
		require.NoError(t, err)
		require.Equal(t, string(out), string(again))
		var a, b any
		require.NoError(t, json.Unmarshal(in, &a))
		require.NoError(t, json.Unmarshal(out, &b))
		require.Equal(t, a, b, "same meaning: %q → %q", in, out)
		if len(out) > 0 && out[0] == '{' {
			keys := objectKeys(t, out)
			require.True(t, slices.IsSortedFunc(keys, func(a, b string) int {
				return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
			}), "keys in UTF-16 order: %q", keys)
		}
		legacy, err := audit.CanonicalizeForm(in, audit.FormLegacy)
		require.NoError(t, err, "the legacy form accepts what RFC 8785 does")
		again, err = audit.CanonicalizeForm(legacy, audit.FormLegacy)
		require.NoError(t, err)
		require.Equal(t, string(legacy), string(again))
	})
}

// hugeNumber reports numbers that overflow a double (rejected on purpose).
func hugeNumber(v any) bool {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return err != nil || math.IsInf(f, 0)
	case []any:
		for _, e := range x {
			if hugeNumber(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hugeNumber(e) {
				return true
			}
		}
	}
	return false
}

func hasDupKeys(in []byte) bool {
	d := json.NewDecoder(bytes.NewReader(in))
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{obj: true, keys: map[string]bool{}, key: true})
			case '[':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.obj && top.key {
				if top.keys[v] {
					return true
				}
				top.keys[v] = true
				top.key = false
				continue
			}
			if top != nil && top.obj {
				top.key = true
			}
		default:
			if top != nil && top.obj {
				top.key = true
			}
		}
	}
}

// TestRFC8785Vectors checks Canonicalize against the examples of RFC 8785
// itself, written out in testdata/rfc8785 (see its README).
func TestRFC8785Vectors(t *testing.T) {
	for _, name := range []string{"values", "sorting"} {
		in, err := os.ReadFile(filepath.Join("testdata", "rfc8785", name+"-input.json"))
		require.NoError(t, err)
		want, err := os.ReadFile(filepath.Join("testdata", "rfc8785", name+"-output.json"))
		require.NoError(t, err)
		got, err := audit.Canonicalize(in)
		require.NoError(t, err, name)
		assert.Equal(t, string(want), string(got), name)
	}
	numbers, err := os.ReadFile(filepath.Join("testdata", "rfc8785", "numbers.txt"))
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(string(numbers), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		hexBits, want, ok := strings.Cut(line, " ")
		require.True(t, ok, line)
		bits, err := strconv.ParseUint(hexBits, 16, 64)
		require.NoError(t, err, line)
		f := math.Float64frombits(bits)
		n++
		if want == "error" {
			require.True(t, math.IsNaN(f) || math.IsInf(f, 0), line)
			// JSON has no literal for them; the nearest input is an
			// overflowing number, which is refused.
			_, err := audit.Canonicalize([]byte("1e999"))
			assert.Error(t, err)
			continue
		}
		// Every way of writing the double gives the same canonical text.
		for _, lit := range []string{strconv.FormatFloat(f, 'g', -1, 64), strconv.FormatFloat(f, 'e', 20, 64), strconv.FormatFloat(f, 'E', -1, 64)} {
			got, err := audit.Canonicalize([]byte(lit))
			require.NoError(t, err, lit)
			assert.Equal(t, want, string(got), "%s (%s)", hexBits, lit)
		}
	}
	assert.Equal(t, 26, n, "every sample of Appendix B")
}

// TestLegacyFormDiffers pins what the legacy form does differently, so that
// records written in it keep verifying.
func TestLegacyFormDiffers(t *testing.T) {
	in := []byte(`{"\ufb33":1,"\ud83d\ude00":2,"big":123456789012345678901234567890}`)
	jcs, err := audit.Canonicalize(in)
	require.NoError(t, err)
	assert.Equal(t, "{\"big\":1.2345678901234568e+29,\"\U0001F600\":2,\"\uFB33\":1}", string(jcs))
	legacy, err := audit.CanonicalizeForm(in, audit.FormLegacy)
	require.NoError(t, err)
	assert.Equal(t, "{\"big\":123456789012345678901234567890,\"\uFB33\":1,\"\U0001F600\":2}", string(legacy))
	_, err = audit.CanonicalizeForm(in, audit.Form("rfc9999"))
	require.ErrorContains(t, err, "unknown canonical form")
}

// TestKeysSortByUTF16 sorts keys drawn from every plane against a sort of
// their UTF-16 encodings.
func TestKeysSortByUTF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := []rune{'a', 'z', 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfb33, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff}
	for range 200 {
		keys := map[string]bool{}
		for range 8 {
			var b strings.Builder
			for range 1 + rng.IntN(3) {
				b.WriteRune(pick[rng.IntN(len(pick))])
			}
			keys[b.String()] = true
		}
		obj := map[string]int{}
		var want []string
		for k := range keys {
			obj[k] = 0
			want = append(want, k)
		}
		slices.SortFunc(want, func(a, b string) int {
			return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
		})
		raw, err := json.Marshal(obj)
		require.NoError(t, err)
		out, err := audit.Canonicalize(raw)
		require.NoError(t, err)
		assert.Equal(t, want, objectKeys(t, out))
	}
}

func objectKeys(t *testing.T, obj []byte) []string {
	d := json.NewDecoder(bytes.NewReader(obj))
	_, err := d.Token()
	require.NoError(t, err)
	var keys []string
	for d.More() {
		k, err := d.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var v any
		require.NoError(t, d.Decode(&v))
	}
	return keys
}

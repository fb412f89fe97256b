package audit_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
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

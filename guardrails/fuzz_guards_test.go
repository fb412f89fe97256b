package guardrails

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/reagent-go/reagent/trajectory"
)

// FuzzWalkJSONLenient checks the lenient reading: it never panics, accepts
// all that the strict reading accepts with the same values, and accepts
// JSON with NaN or a trailing comma added.
func FuzzWalkJSONLenient(f *testing.F) {
	for _, s := range []string{`{"a":NaN}`, `[1,2,]`, `{"a":-Infinity,}`, `{"a":[Infinity]}`, `[,]`, `{"a":1,,}`, `NaN`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lv, lerr := walkJSONLenient(s)
		sv, serr := walkJSON(s)
		if serr == nil {
			if lerr != nil || !reflect.DeepEqual(lv, sv) {
				t.Fatalf("lenient reading differs on strict JSON %q: %v %v", s, lerr, lv)
			}
			if strings.HasPrefix(strings.TrimSpace(s), "[") && strings.HasSuffix(strings.TrimSpace(s), "]") && len(s) < 1000 {
				t2 := strings.TrimSpace(s)
				with := t2[:len(t2)-1] + ",NaN,]"
				if strings.TrimSpace(t2[1:len(t2)-1]) == "" {
					with = "[NaN,]"
				}
				if _, err := walkJSONLenient(with); err != nil {
					t.Fatalf("lenient reading refused %q", with)
				}
			}
		}
	})
}

// FuzzUnescapeLoose checks that undoing escapes never panics, leaves text
// without a backslash alone, and agrees with encoding/json on the body of
// every valid JSON string.
func FuzzUnescapeLoose(f *testing.F) {
	for _, s := range []string{`\u0072m -rf`, `\ud83d\ude00`, `\ud83d`, `\x41\n`, `\\u0041`, `\`, `\u12`, `a\/b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := unescapeLoose(s)
		if !strings.Contains(s, `\`) && out != s {
			t.Fatalf("changed text without escapes: %q -> %q", s, out)
		}
		if !utf8.ValidString(s) {
			return
		}
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err == nil && out != want {
			t.Fatalf("unescapeLoose(%q) = %q, encoding/json reads %q", s, out, want)
		}
	})
}

// FuzzSchemaGuard checks that the schema guard never lets an input the
// tool will decode as JSON skip its schema: an object whose amount is over
// the maximum is refused however it is written.
func FuzzSchemaGuard(f *testing.F) {
	for _, s := range []string{`{"amount": 5}`, `{"amount": 5000}`, `{"amount": NaN}`, `{"amount": 5000,}`, `2+2`, `[1]`, `{"amount": 1e9}`} {
		f.Add(s)
	}
	g, err := NewSchemaGuard(nil, true)
	if err != nil {
		f.Fatal(err)
	}
	schema := json.RawMessage(`{"type":"object","properties":{"amount":{"type":"number","maximum":1000}}}`)
	f.Fuzz(func(t *testing.T, s string) {
		ev := callEvent("pay", s)
		ev.Tool.Parameters = schema
		d := g.Check(ctx, ev)
		var doc map[string]any
		if json.Unmarshal([]byte(s), &doc) == nil {
			if a, ok := doc["amount"].(float64); ok && a > 1000 && d.Verdict == trajectory.Allow {
				t.Fatalf("amount %v allowed in %q", a, s)
			}
		}
		if looksLikeJSON(s) && !json.Valid([]byte(s)) && d.Verdict == trajectory.Allow {
			t.Fatalf("unparseable JSON-looking input allowed: %q", s)
		}
	})
}

// FuzzToolNamesAndKeys checks the name and key classifiers: no panic,
// folding is stable, and a network word anywhere in a separated name makes
// it a network tool.
func FuzzToolNamesAndKeys(f *testing.F) {
	for _, s := range []string{"web_fetch", "hoſt", "clientIP", "ＦＥＴＣＨ", "K\u212a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = isURLKey(s)
		if k := foldKey(s); foldKey(k) != k {
			t.Fatalf("foldKey not stable on %q: %q then %q", s, k, foldKey(k))
		}
		if isASCII(s) && !NetworkShapedName(s+"_fetch") {
			t.Fatalf("%q_fetch is not a network tool", s)
		}
		if isASCII(s) && len(s) < 32 && strings.TrimSpace(s) == s && networkShapedASCII(s) != networkShapedAny(s) {
			t.Fatalf("fast and general readings of %q differ", s)
		}
	})
}

// isURLKeyByRunes and sameNameRef are the general forms isURLKey and
// sameName keep fast paths of; FuzzNameFastPaths checks they agree.
func isURLKeyByRunes(key string) bool {
	k := foldKey(key)
	if urlKeys[k] {
		return true
	}
	last := k
	if i := strings.LastIndexAny(k, "_-. "); i >= 0 {
		last = k[i+1:]
	} else {
		last = lastCamelWord(key, k)
	}
	return last != k && urlKeys[last]
}

func sameNameRef(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if strings.EqualFold(a, b) {
		return true
	}
	if isASCII(a) && isASCII(b) {
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	return canonName(a) == canonName(b)
}

func FuzzNameFastPaths(f *testing.F) {
	for _, s := range [][2]string{{"serverURL", "http"}, {"Http ", " http"}, {"hoſt", "HOST"}, {"K\u212a", "kk"}, {"targetHost", "target_host"}, {"\t", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := isURLKey(a), isURLKeyByRunes(a); got != want {
			t.Fatalf("isURLKey(%q) = %v, the general form says %v", a, got, want)
		}
		if got, want := sameName(a, b), sameNameRef(a, b); got != want {
			t.Fatalf("sameName(%q, %q) = %v, the general form says %v", a, b, got, want)
		}
	})
}

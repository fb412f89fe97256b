package guardrails

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/trajectory"
)

// flatSchemaSeeds are schemas in the flat shape and just outside it.
var flatSchemaSeeds = []string{
	`{"type":"object","required":["method","url"],"properties":{"method":{"type":"string"},"url":{"type":"string"}}}`,
	`{"type":"object","properties":{"n":{"type":"integer","description":"count"},"ok":{"type":"boolean"},"x":{"type":"number"},"z":{"type":"null"}},"additionalProperties":false}`,
	`{"type":"object","title":"t","properties":{"a":{"type":"array"},"o":{"type":"object"},"any":{}},"required":[]}`,
	`{"type":"object","properties":{"n":{"type":"integer","minimum":3}}}`,
	`{"properties":{"s":{"type":"string"}}}`,
	`{"type":["object","null"]}`,
	`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"n":{"type":"integer"}}}`,
	`{"type":"object","additionalProperties":{"type":"string"}}`,
	`{"type":"object","required":"a"}`,
	`{"type":"object","properties":{"a":{"type":"string","title":null}}}`,
}

// TestFlatSchema pins which schemas the guard checks itself and its
// answers on typical inputs; FuzzFlatSchema checks it against the
// validator on any schema and input.
func TestFlatSchema(t *testing.T) {
	for i, want := range []bool{true, true, true, false, false, false, false, false, false, false} {
		require.Equal(t, want, compileFlat([]byte(flatSchemaSeeds[i])) != nil, flatSchemaSeeds[i])
	}
	fs := compileFlat([]byte(flatSchemaSeeds[1]))
	for in, want := range map[string]bool{
		`{"n":12,"ok":true,"x":-1.5e3,"z":null}`: true, `{}`: true, `{"n":1.0}`: false, // 1.0 is an integer: the validator says so
		`{"n":"1"}`: false, `{"other":1}`: false, `{"ok":true,"ok":1}`: false, `[1]`: false, `{"x":"1"}`: false,
	} {
		vs, err := walkJSON(in)
		require.NoError(t, err, in)
		require.Equal(t, want, fs.valid(vs), in)
	}
	// The validator decides what the flat check does not: 1.0 is an integer.
	g, err := NewSchemaGuard(map[string]json.RawMessage{"t": json.RawMessage(flatSchemaSeeds[1])}, false)
	require.NoError(t, err)
	require.Equal(t, trajectory.Allow, g.Check(ctx, callEvent("t", `{"n":1.0}`)).Verdict)
	d := g.Check(ctx, callEvent("t", `{"n":"1"}`))
	require.Equal(t, trajectory.Block, d.Verdict)
	require.Contains(t, d.Reason, "at /n")
}

// FuzzFlatSchema checks the schema guard's flat check against the
// validator: for any schema (given by the policy or by the tool) and any
// input, the guard decides exactly as it does with every schema sent to
// the validator, alone and in a chain.
func FuzzFlatSchema(f *testing.F) {
	for _, s := range flatSchemaSeeds {
		for _, in := range []string{`{"method":"GET","url":"https://x"}`, `{"method":1}`, `{"n":3,"n":"x"}`, `{"n":-0,"ok":false,"x":1e400}`,
			`2+2`, `"s"`, `[1,2]`, `{"a":[],"o":{},"any":null,"extra":1}`, `{"s":"\u00e9"}`, `{"a":NaN}`, `{"url":"x",}`, `{}`} {
			f.Add(s, in, false)
			f.Add(s, in, true)
		}
	}
	f.Fuzz(func(t *testing.T, schema, input string, policy bool) {
		if !json.Valid([]byte(schema)) {
			return
		}
		guards := [2]*SchemaGuard{}
		for i := range guards {
			var err error
			if policy {
				guards[i], err = NewSchemaGuard(map[string]json.RawMessage{"t": json.RawMessage(schema)}, false)
			} else {
				guards[i], err = NewSchemaGuard(nil, true)
			}
			if err != nil {
				return
			}
		}
		guards[1].noFlat = true
		event := func() *Event {
			ev := callEvent("t", input)
			ev.Tool.Parameters = json.RawMessage(schema)
			return ev
		}
		fast, slow := guards[0].Check(ctx, event()), guards[1].Check(ctx, event())
		if !sameDecision(fast, slow) {
			t.Fatalf("schema %s, input %q: flat check %s (%s), validator %s (%s)", schema, input, fast.Verdict, fast.Reason, slow.Verdict, slow.Reason)
		}
		inChain := NewChain(Policy{Guards: []Guard{guards[0]}}).Check(ctx, event())
		if d := inChain.Decisions[0]; !sameDecision(d, slow) {
			t.Fatalf("schema %s, input %q: in a chain %s (%s), validator %s (%s)", schema, input, d.Verdict, d.Reason, slow.Verdict, slow.Reason)
		}
	})
}

// sameDecision compares verdicts and reasons. The validator lists an
// object's keys in map order (and only the first three problems), and the
// compiler a schema's problems in map order too, so two of their block
// reasons are compared up to the problems; the flat check never blocks on
// its own.
func sameDecision(a, b trajectory.Decision) bool {
	if a.Verdict != b.Verdict {
		return false
	}
	const mismatch = "input does not match the "
	if a.Verdict == trajectory.Block && strings.HasPrefix(a.Reason, mismatch) {
		cut := func(s string) string { return s[:len(mismatch)+strings.Index(s[len(mismatch):], ":")+1] }
		return strings.HasPrefix(b.Reason, mismatch) && cut(a.Reason) == cut(b.Reason)
	}
	if unusable := "tool schema unusable: "; a.Verdict == trajectory.Block && strings.HasPrefix(a.Reason, unusable) {
		return strings.HasPrefix(b.Reason, unusable)
	}
	return a.Reason == b.Reason
}

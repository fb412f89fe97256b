package calculator

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEval(t *testing.T) {
	cases := []struct {
		expr string
		want float64
	}{
		{"1+2", 3},
		{"2*3+4", 10},
		{"2*(3+4)", 14},
		{"10/4", 2.5},
		{"-3+5", 2},
		{"--3", 3},
		{"+4", 4},
		{"-2^2", -4},
		{"(-2)^2", 4},
		{"2^3^2", 512},
		{"2^-1", 0.5},
		{"2**10", 1024},
		{".5+1.25", 1.75},
		{"1e3/8", 125},
		{"  7 -\t2 ", 5},
		{"3-2-1", 0},
		{"64/4/2", 8},
		{"((((1))))", 1},
		{"2*-3", -6},
	}
	for _, c := range cases {
		got, err := Eval(c.expr)
		require.NoError(t, err, c.expr)
		assert.InDelta(t, c.want, got, 1e-12, c.expr)
	}
}

func TestEvalErrors(t *testing.T) {
	cases := []struct {
		expr string
		is   error
		msg  string
	}{
		{"", ErrSyntax, "ends too early"},
		{"1+", ErrSyntax, "ends too early"},
		{"(1+2", ErrSyntax, `expected ")"`},
		{"1+2)", ErrSyntax, `unexpected ")" at position 4`},
		{"2(3)", ErrSyntax, `unexpected "("`},
		{"1.2.3", ErrSyntax, "unexpected"},
		{"os.exit(1)", ErrSyntax, "only numbers"},
		{"1/0", ErrMath, "division by zero"},
		{"1/(2-2)", ErrMath, "division by zero"},
		{"(-8)^0.5", ErrMath, "no real value"},
		{"10^400", ErrMath, "not a finite number"},
		{"1e999-1e999", ErrMath, "not a finite number"},
		{strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), ErrSyntax, "nested deeper"},
		{strings.Repeat("-", 300) + "1", ErrSyntax, "nested deeper"},
		{strings.Repeat("1+", 3000) + "1", ErrSyntax, "longer than"},
	}
	for _, c := range cases {
		_, err := Eval(c.expr)
		require.Error(t, err, c.expr)
		assert.True(t, errors.Is(err, c.is), "%q: %v", c.expr, err)
		assert.Contains(t, err.Error(), c.msg, c.expr)
	}
}

func TestFormat(t *testing.T) {
	assert.Equal(t, "3", Format(3))
	assert.Equal(t, "-2.5", Format(-2.5))
	assert.Equal(t, "0.3", Format(0.1+0.2))
	assert.Equal(t, "0.333333333333", Format(1.0/3))
	assert.Equal(t, "1e+20", Format(1e20))
}

func TestToolCall(t *testing.T) {
	tool := New()
	ctx := context.Background()
	for input, want := range map[string]string{
		"2*(3+4)":               "14",
		`{"expression": "1/4"}`: "0.25",
		"`12*12`":               "144",
		`"2^8"`:                 "256",
		`{"expression": "1/0"}`: "calculator error: math error: division by zero",
		`{"expr": "1"}`:         `calculator error: missing "expression" argument`,
		`{"expression": "1"`:    "calculator error: invalid JSON arguments: unexpected end of JSON input",
		"import os":             "calculator error: syntax error: unexpected \"i\" at position 1 (only numbers, + - * / ^ and parentheses are allowed)",
		"   ":                   "calculator error: empty expression",
	} {
		got, err := tool.Call(ctx, input)
		require.NoError(t, err, "tool errors must be observations")
		assert.Equal(t, want, got, input)
	}
}

func TestToolSpecSchemaCompiles(t *testing.T) {
	spec := New().ToolSpec()
	assert.Equal(t, "calculator", spec.Name)
	assert.True(t, spec.HasTag("read-only"))
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(spec.Parameters)))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("calc.json", doc))
	sch, err := c.Compile("calc.json")
	require.NoError(t, err)
	var ok, bad any
	require.NoError(t, json.Unmarshal([]byte(`{"expression":"1+1"}`), &ok))
	require.NoError(t, json.Unmarshal([]byte(`{"expression":1}`), &bad))
	assert.NoError(t, sch.Validate(ok))
	assert.Error(t, sch.Validate(bad))
}

// FuzzEval checks that no input panics, that results are finite, and that
// wrapping an expression in parentheses does not change its value.
// Run longer with: go test ./tools/calculator -fuzz FuzzEval -fuzztime 30s
func FuzzEval(f *testing.F) {
	for _, s := range []string{"1+2*3", "-2^2", "2^3^2", "(1", "1/0", "1e308*10", ".5", "2**-1", "((((", "1..2", "٣+1", "-(-(-1))", "9^9^9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		v, err := Eval(expr)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrMath) {
				t.Fatalf("%q: untyped error %v", expr, err)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("%q: non-finite result %v", expr, v)
		}
		w, err := Eval("(" + expr + ")")
		if err != nil {
			if errors.Is(err, ErrSyntax) && strings.Contains(err.Error(), "nested deeper") {
				return
			}
			t.Fatalf("%q parses but (%q) does not: %v", expr, expr, err)
		}
		if w != v {
			t.Fatalf("%q = %v but (%q) = %v", expr, v, expr, w)
		}
	})
}

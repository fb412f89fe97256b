package reward

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// F1Threshold is the paper's threshold: a token F1 below it earns nothing.
const F1Threshold = 0.3

// Func is a rule reward: it scores an agent's final answer against the
// reference answer, in [0,1].
type Func func(answer, reference string) float64

// Text is the paper's rule reward for text answers: 1 for an exact match
// after normalisation, else the token F1 when it reaches F1Threshold, else 0.
func Text(answer, reference string) float64 {
	return TextWithThreshold(F1Threshold)(answer, reference)
}

// TextWithThreshold is Text with another F1 threshold.
func TextWithThreshold(threshold float64) Func {
	return func(answer, reference string) float64 {
		if ExactMatch(answer, reference) {
			return 1
		}
		if f1 := TokenF1(answer, reference); f1 >= threshold {
			return f1
		}
		return 0
	}
}

// Exact is 1 for an exact match after normalisation and 0 otherwise.
func Exact(answer, reference string) float64 {
	if ExactMatch(answer, reference) {
		return 1
	}
	return 0
}

// F1 is the token F1 with no threshold.
func F1(answer, reference string) float64 { return TokenF1(answer, reference) }

// Numeric is verified numeric equality (the paper's rule for math): 1 when
// the number the answer gives (see ExtractNumber) equals the reference
// within DefaultTolerance, else 0. A reference that is not a number is
// scored with Text.
func Numeric(answer, reference string) float64 {
	return NumericWithin(DefaultTolerance())(answer, reference)
}

// NumericWithin is Numeric with another tolerance.
func NumericWithin(tol Tolerance) Func {
	return func(answer, reference string) float64 {
		ref, err := ParseNumber(reference)
		if err != nil {
			return Text(answer, reference)
		}
		got, ok := ExtractNumber(answer)
		if ok && NumericEqual(got, ref, tol) {
			return 1
		}
		return 0
	}
}

// Auto is Numeric when the reference answer is a number and Text otherwise.
func Auto(answer, reference string) float64 {
	if _, err := ParseNumber(reference); err == nil {
		return Numeric(answer, reference)
	}
	return Text(answer, reference)
}

// Rules resolves the rule named by a task ("text", "numeric", …) to its
// function: the built-in rules plus the user's own.
type Rules struct {
	funcs map[string]Func
}

// Built-in rule names.
const (
	RuleText    = "text"
	RuleExact   = "exact"
	RuleF1      = "f1"
	RuleNumeric = "numeric"
	RuleAuto    = "auto"
)

// NewRules returns the built-in rules (text, exact, f1, numeric, auto) with
// custom added; a custom rule may replace a built-in one.
func NewRules(custom map[string]Func) *Rules {
	r := &Rules{funcs: map[string]Func{
		RuleText:    Text,
		RuleExact:   Exact,
		RuleF1:      F1,
		RuleNumeric: Numeric,
		RuleAuto:    Auto,
	}}
	for name, fn := range custom {
		if fn != nil {
			r.funcs[strings.ToLower(name)] = fn
		}
	}
	return r
}

// Names lists the rule names, sorted.
func (r *Rules) Names() []string {
	out := make([]string, 0, len(r.funcs))
	for n := range r.funcs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Has reports whether a rule is known by that name ("" means auto).
func (r *Rules) Has(name string) bool {
	if name == "" {
		return true
	}
	_, ok := r.funcs[strings.ToLower(name)]
	return ok
}

// Score scores answer against reference with the named rule ("" means
// auto). It fails for an unknown rule, and for a custom rule that returns
// a value outside [0,1] or panics, rather than passing a bad reward on.
func (r *Rules) Score(name, answer, reference string) (v float64, err error) {
	if name == "" {
		name = RuleAuto
	}
	fn, ok := r.funcs[strings.ToLower(name)]
	if !ok {
		return 0, fmt.Errorf("reward: unknown rule %q (known: %s)", name, strings.Join(r.Names(), ", "))
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reward: rule %q panicked: %v", name, p)
		}
	}()
	v = fn(answer, reference)
	if math.IsNaN(v) || v < 0 || v > 1 {
		return 0, fmt.Errorf("reward: rule %q returned %v, outside [0,1]", name, v)
	}
	return v, nil
}

package reward

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/trajectory"
)

func TestNormalize(t *testing.T) {
	cases := map[string]string{
		"The Eiffel Tower":         "eiffel tower",
		"  Paris.  ":               "paris",
		"an apple, a pear":         "apple pear",
		"Theory":                   "theory", // "the" only as a word
		"1,234":                    "1234",
		"3.5 km":                   "3.5 km",
		"end.":                     "end",
		"yes/no":                   "yes no",
		"don't":                    "dont",
		"São Paulo!":               "são paulo",
		"A\tB\nC":                  "b c",
		"\"Quoted\" (parenthesis)": "quoted parenthesis",
		"$12":                      "12",
		"":                         "",
	}
	for in, want := range cases {
		assert.Equal(t, want, Normalize(in), "Normalize(%q)", in)
	}
}

func TestExactMatch(t *testing.T) {
	assert.True(t, ExactMatch("the eiffel tower", "Eiffel Tower."))
	assert.True(t, ExactMatch("1,234", "1234"))
	assert.False(t, ExactMatch("3.5", "35"))
	assert.False(t, ExactMatch("Paris, France", "Paris"))
	assert.False(t, ExactMatch("", "Paris"))
	// A reference that normalises to nothing is compared as text.
	assert.True(t, ExactMatch(" ?? ", "??"))
	assert.False(t, ExactMatch("", "the"))
}

func TestTokenF1(t *testing.T) {
	// answer tokens: [paris france] ; reference: [paris] -> p=1/2 r=1 -> 2/3
	assert.InDelta(t, 2.0/3.0, TokenF1("Paris, France", "Paris"), 1e-12)
	// repeated tokens count as many times as they appear in both
	// answer [new new york] ref [new york] -> common 2, p=2/3, r=1 -> 0.8
	assert.InDelta(t, 0.8, TokenF1("new new york", "New York"), 1e-12)
	assert.Equal(t, 0.0, TokenF1("", "x"))
	assert.Equal(t, 0.0, TokenF1("a", "b"))
	assert.Equal(t, 1.0, TokenF1("The answer", "answer"))
}

func TestTextRuleThreshold(t *testing.T) {
	assert.Equal(t, 1.0, Text("The Nile", "nile"))
	// Four tokens, one common: F1 = 2*(1/4)*1/(1/4+1) = 0.4 >= 0.3, the F1 itself.
	assert.InDelta(t, 0.4, Text("it is the long nile", "nile"), 1e-12)
	// One common token in seven answer tokens: F1 = 0.25 < 0.3 gives 0.
	assert.Equal(t, 0.0, Text("i think it is nile or amazon", "nile"))
	assert.InDelta(t, 0.25, F1("i think it is nile or amazon", "nile"), 1e-12)
	assert.InDelta(t, 0.25, TextWithThreshold(0.2)("i think it is nile or amazon", "nile"), 1e-12)
	assert.Equal(t, 0.0, Exact("nile river", "nile"))
}

func TestParseNumber(t *testing.T) {
	good := map[string]float64{
		"42":        42,
		" -7 ":      -7,
		"+3":        3,
		"1,234":     1234,
		"1,234,567": 1234567,
		"3.0":       3,
		".5":        0.5,
		"5.":        5,
		"-0.25":     -0.25,
		"1e3":       1000,
		"2.5E-2":    0.025,
		"3/4":       0.75,
		"-3/4":      -0.75,
		"1 1/2":     1.5,
		"$12.50":    12.5,
		"-$5":       -5,
		"€3":        3,
		"50%":       50,
		"\u22124":   -4,
		"1,000.5":   1000.5,
		"10 / 4":    2.5,
	}
	for in, want := range good {
		v, err := ParseNumber(in)
		if assert.NoError(t, err, in) {
			assert.InDelta(t, want, v, 1e-12, in)
		}
	}
	bad := []string{"", "abc", "1,23", "12,3456", ",123", "1.2.3", "inf", "NaN", "0x10", "1_000", "1e", "1e+", "3/0", "1/2/3", "--1", "1 2", "1.5 1/2", "e5", ".", "1e400", "forty"}
	for _, in := range bad {
		_, err := ParseNumber(in)
		if assert.Error(t, err, in) {
			assert.True(t, errors.Is(err, ErrNotNumber), in)
		}
	}
}

func TestExtractNumber(t *testing.T) {
	cases := map[string]float64{
		"1,234.":                           1234,
		"The answer is 42.":                42,
		"The answer is 42 (that is 6*7).":  42,
		"First 3, then 5, finally 8":       8,
		"We get \\boxed{17} in the end, 3": 17,
		"pages 3-5":                        5,
		"it is -12 degrees":                -12,
		"Total: $1,250.75":                 1250.75,
		"about 3/4 of it":                  0.75,
	}
	for in, want := range cases {
		v, ok := ExtractNumber(in)
		if assert.True(t, ok, in) {
			assert.InDelta(t, want, v, 1e-12, in)
		}
	}
	_, ok := ExtractNumber("no numbers here")
	assert.False(t, ok)
}

func TestNumericRule(t *testing.T) {
	assert.Equal(t, 1.0, Numeric("The result is 1,234.0", "1234"))
	assert.Equal(t, 1.0, Numeric("0.30000000000000004", "0.3"))
	assert.Equal(t, 0.0, Numeric("1235", "1234"))
	assert.Equal(t, 0.0, Numeric("I don't know", "7"))
	// A reference that is no number falls back to the text rule.
	assert.Equal(t, 1.0, Numeric("Paris", "paris"))
	assert.Equal(t, 1.0, NumericWithin(Tolerance{Abs: 0.01})("3.14", "3.14159"))
	assert.Equal(t, 0.0, Numeric("3.14", "3.14159"))
	assert.True(t, NumericEqual(1e6, 1e6+0.5, DefaultTolerance()))
	assert.False(t, NumericEqual(math.NaN(), math.NaN(), DefaultTolerance()))
	assert.Equal(t, 1.0, Auto("7", "7.0"))
	assert.Equal(t, 0.0, Auto("seven", "7"))
	assert.Equal(t, 1.0, Auto("Oslo.", "oslo"))
}

func TestRules(t *testing.T) {
	r := NewRules(map[string]Func{
		"len":   func(a, _ string) float64 { return float64(len(a)) / 10 },
		"panic": func(string, string) float64 { panic("boom") },
	})
	assert.True(t, r.Has(""))
	assert.True(t, r.Has("NUMERIC"))
	assert.False(t, r.Has("nope"))
	assert.Equal(t, []string{"auto", "exact", "f1", "len", "numeric", "panic", "text"}, r.Names())

	v, err := r.Score("", "12", "12.0")
	require.NoError(t, err)
	assert.Equal(t, 1.0, v)
	v, err = r.Score("len", "abc", "")
	require.NoError(t, err)
	assert.InDelta(t, 0.3, v, 1e-12)

	_, err = r.Score("len", strings.Repeat("x", 11), "")
	assert.ErrorContains(t, err, "outside [0,1]")
	_, err = r.Score("panic", "a", "b")
	assert.ErrorContains(t, err, "panicked")
	_, err = r.Score("nope", "a", "b")
	assert.ErrorContains(t, err, `unknown rule "nope"`)
}

func TestCombine(t *testing.T) {
	ok := &trajectory.Assessment{Status: trajectory.AssessmentOK, Score: 0.5}
	failed := &trajectory.Assessment{Status: trajectory.AssessmentError, Error: "timeout", Score: 0}

	c := NewCombiner()
	assert.Equal(t, DefaultLambda, c.Lambda)
	r := c.Combine(1, ok)
	assert.True(t, r.Judged)
	assert.InDelta(t, 1.15, r.Reward, 1e-12)
	assert.Equal(t, 1.0, r.Rule)
	assert.Equal(t, 0.5, r.Score)

	r = c.Combine(1, failed)
	assert.True(t, r.Dropped)
	assert.False(t, r.Judged)
	assert.Contains(t, r.JudgeError, "timeout")

	r = NewCombiner(WithOnJudgeError(RuleOnly)).Combine(0.4, failed)
	assert.False(t, r.Dropped)
	assert.True(t, r.RuleOnly)
	assert.Equal(t, 0.4, r.Reward)

	r = c.Combine(0, nil)
	assert.True(t, r.Dropped)
	assert.Equal(t, "no assessment", r.JudgeError)

	// λ = 0 is the rule reward alone: a failed judgment does not matter.
	r = NewCombiner(WithLambda(0)).Combine(0.7, failed)
	assert.False(t, r.Dropped)
	assert.False(t, r.RuleOnly)
	assert.Equal(t, 0.7, r.Reward)

	bad := &trajectory.Assessment{Status: trajectory.AssessmentOK, Score: 1.5}
	r = c.Combine(1, bad)
	assert.True(t, r.Dropped)
	assert.Contains(t, r.JudgeError, "outside [0,1]")

	var counts Counts
	for _, res := range []Result{
		c.Combine(1, ok), c.Combine(1, failed),
		NewCombiner(WithOnJudgeError(RuleOnly)).Combine(1, failed),
	} {
		counts.Add(res)
	}
	assert.Equal(t, Counts{Samples: 3, Judged: 1, JudgeErrors: 2, Dropped: 1, RuleOnly: 1}, counts)
	assert.Equal(t, "3 samples: 1 judged, 2 without a usable judgment (1 dropped, 1 rule-only)", counts.String())

	p, err := ParseJudgeErrorPolicy("rule-only")
	require.NoError(t, err)
	assert.Equal(t, RuleOnly, p)
	assert.Equal(t, "rule-only", p.String())
	_, err = ParseJudgeErrorPolicy("zero")
	assert.Error(t, err)
}

func TestFinalAssessment(t *testing.T) {
	assert.Nil(t, FinalAssessment(nil))
	tr := &trajectory.Trajectory{Assessments: []trajectory.Assessment{
		{Status: trajectory.AssessmentOK, Score: 0.2},
		{Status: trajectory.AssessmentOK, Score: 0.9, Partial: true},
	}}
	a := FinalAssessment(tr)
	require.NotNil(t, a)
	assert.Equal(t, 0.2, a.Score)
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"The Eiffel Tower", "1,234.5", "a an the", "São Paulo!", "\xff\xfe", "don't/won't", "3.5.6,7", "Ⅻ ǅ ß"} {
		f.Add(s, "eiffel tower")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		n := Normalize(a)
		if Normalize(n) != n {
			t.Fatalf("Normalize is not idempotent on %q: %q then %q", a, n, Normalize(n))
		}
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) is not valid UTF-8", a)
		}
		f1 := TokenF1(a, b)
		if math.IsNaN(f1) || f1 < 0 || f1 > 1 {
			t.Fatalf("TokenF1(%q, %q) = %v", a, b, f1)
		}
		if math.Abs(f1-TokenF1(b, a)) > 1e-12 {
			t.Fatalf("TokenF1 is not symmetric on %q, %q", a, b)
		}
		if v := Text(a, b); v < 0 || v > 1 {
			t.Fatalf("Text(%q, %q) = %v", a, b, v)
		}
		if Normalize(b) != "" && !ExactMatch(b, b) {
			t.Fatalf("ExactMatch(%q, itself) is false", b)
		}
	})
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"42", "-1,234.5", "1 1/2", "3/0", "1e308", "1e309", "$-5%", "\u22123", ".5e-3", "inf", "0x1p3", "1_0", "9,99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseNumber(s)
		if err != nil {
			if !errors.Is(err, ErrNotNumber) {
				t.Fatalf("ParseNumber(%q) error does not wrap ErrNotNumber: %v", s, err)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("ParseNumber(%q) = %v", s, v)
		}
		// Whatever parses re-reads to the same value from its Go form.
		back, err := ParseNumber(strconv.FormatFloat(v, 'g', -1, 64))
		if err != nil || back != v {
			t.Fatalf("round trip of %q (%v): %v, %v", s, v, back, err)
		}
		if e, ok := ExtractNumber(s); !ok || e != v {
			t.Fatalf("ExtractNumber(%q) = %v, %v; ParseNumber gave %v", s, e, ok, v)
		}
	})
}

func FuzzExtractNumber(f *testing.F) {
	for _, s := range []string{"The answer is 42.", "\\boxed{3/4}", "pages 3-5", "answer: none, 7", "-", "1,2,3", "answer"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ExtractNumber(s)
		if ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("ExtractNumber(%q) = %v", s, v)
		}
		if r := Numeric(s, "42"); r != 0 && r != 1 {
			t.Fatalf("Numeric(%q) = %v", s, r)
		}
	})
}

func BenchmarkTextRule(b *testing.B) {
	answer := "The capital of the country where the company is based is Oslo, Norway."
	ref := "Oslo"
	// Baseline: strings.EqualFold, the cheapest possible comparison.
	var base, rule float64
	b.Run("pair", func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			_ = strings.EqualFold(answer, ref)
		}
		base = float64(time.Since(start)) / float64(b.N)
		start = time.Now()
		for i := 0; i < b.N; i++ {
			_ = Text(answer, ref)
		}
		rule = float64(time.Since(start)) / float64(b.N)
		b.ReportMetric(rule, "rule-ns/op")
		b.ReportMetric(rule/max(base, 1e-9), "x-equalfold")
	})
}

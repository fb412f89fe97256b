package reward

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// ErrNotNumber is wrapped by ParseNumber's errors.
var ErrNotNumber = errors.New("not a number")

// maxNumberLen bounds the text ParseNumber looks at; no reference answer is
// longer, and it keeps hostile input cheap.
const maxNumberLen = 256

// ParseNumber reads a number written the way people write answers: an
// optional sign (ASCII or U+2212), an optional currency sign ($ € £),
// digits with optional thousands commas ("1,234"), a decimal part ("3.0",
// ".5"), an exponent ("1e3"), a fraction ("3/4") or a mixed number
// ("1 1/2"), and an optional trailing "%" (kept as written: "50%" is 50).
// Infinities, NaN, hexadecimal and anything else are refused.
func ParseNumber(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("%w: empty", ErrNotNumber)
	}
	if len(t) > maxNumberLen {
		return 0, fmt.Errorf("%w: longer than %d bytes", ErrNotNumber, maxNumberLen)
	}
	t = strings.ReplaceAll(t, "\u2212", "-")
	neg := false
	t = trimCurrency(t)
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		t = trimCurrency(strings.TrimSpace(t[1:]))
	}
	t = strings.TrimSuffix(t, "%")
	t = slashRE.ReplaceAllString(strings.TrimSpace(t), "/")
	if t == "" {
		return 0, fmt.Errorf("%w: %q has no digits", ErrNotNumber, s)
	}
	var v float64
	var err error
	if whole, frac, ok := strings.Cut(t, " "); ok {
		// A mixed number: "1 1/2".
		frac = strings.TrimSpace(frac)
		if !strings.Contains(frac, "/") || strings.ContainsAny(whole, "./eE") {
			return 0, fmt.Errorf("%w: %q", ErrNotNumber, s)
		}
		w, err := parseDecimal(whole)
		if err != nil {
			return 0, fmt.Errorf("%w: %q: %v", ErrNotNumber, s, err)
		}
		f, err := parseFraction(frac)
		if err != nil {
			return 0, fmt.Errorf("%w: %q: %v", ErrNotNumber, s, err)
		}
		v = w + f
	} else if strings.Contains(t, "/") {
		v, err = parseFraction(t)
	} else {
		v, err = parseDecimal(t)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %v", ErrNotNumber, s, err)
	}
	if neg {
		v = -v
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: %q is not finite", ErrNotNumber, s)
	}
	return v, nil
}

func trimCurrency(t string) string {
	for _, c := range []string{"$", "€", "£"} {
		if strings.HasPrefix(t, c) {
			return strings.TrimSpace(t[len(c):])
		}
	}
	return t
}

func parseFraction(t string) (float64, error) {
	num, den, _ := strings.Cut(t, "/")
	n, err := parseDecimal(strings.TrimSpace(num))
	if err != nil {
		return 0, err
	}
	d, err := parseDecimal(strings.TrimSpace(den))
	if err != nil {
		return 0, err
	}
	if d == 0 {
		return 0, errors.New("division by zero")
	}
	return n / d, nil
}

// parseDecimal reads unsigned digits with optional thousands commas, a
// decimal part and an exponent. It checks the syntax itself so that
// strconv's extras (inf, nan, hex, underscores) never get through.
func parseDecimal(t string) (float64, error) {
	if t == "" {
		return 0, errors.New("missing digits")
	}
	mant, exp := t, ""
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		mant, exp = t[:i], t[i+1:]
		digits := exp
		if digits != "" && (digits[0] == '+' || digits[0] == '-') {
			digits = digits[1:]
		}
		if digits == "" || !allDigits(digits) {
			return 0, errors.New("bad exponent")
		}
	}
	intPart, fracPart, hasDot := strings.Cut(mant, ".")
	if hasDot && !allDigits(fracPart) {
		return 0, errors.New("bad decimal part")
	}
	if intPart == "" && fracPart == "" {
		return 0, errors.New("missing digits")
	}
	if strings.Contains(intPart, ",") {
		groups := strings.Split(intPart, ",")
		if len(groups[0]) < 1 || len(groups[0]) > 3 || !allDigits(groups[0]) {
			return 0, errors.New("bad thousands separators")
		}
		for _, g := range groups[1:] {
			if len(g) != 3 || !allDigits(g) {
				return 0, errors.New("bad thousands separators")
			}
		}
		intPart = strings.ReplaceAll(intPart, ",", "")
	} else if !allDigits(intPart) {
		return 0, errors.New("unexpected characters")
	}
	clean := intPart
	if clean == "" {
		clean = "0"
	}
	if hasDot && fracPart != "" {
		clean += "." + fracPart
	}
	if exp != "" {
		clean += "e" + exp
	}
	v, err := strconv.ParseFloat(clean, 64)
	if err != nil {
		return 0, errors.New("out of range")
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// numberRE finds number-like spans in free text for ExtractNumber; each
// span is then checked by ParseNumber.
var numberRE = regexp.MustCompile(`[-−]?[$€£]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?%?`)

var slashRE = regexp.MustCompile(`\s*/\s*`)

var boxedRE = regexp.MustCompile(`\\boxed\{([^{}]*)\}`)

// ExtractNumber finds the number an answer gives: the whole answer when it
// is a number ("1,234."), else the content of a LaTeX \boxed{…}, else the
// first number after the last "answer" in the text ("the answer is 42"),
// else the last number in the text. It reports false when there is none.
func ExtractNumber(text string) (float64, bool) {
	if len(text) > 64*1024 {
		text = text[len(text)-64*1024:]
	}
	t := strings.TrimSpace(text)
	t = strings.TrimRight(t, ".!?;:")
	if v, err := ParseNumber(t); err == nil {
		return v, true
	}
	if m := boxedRE.FindAllStringSubmatch(text, -1); len(m) > 0 {
		if v, err := ParseNumber(m[len(m)-1][1]); err == nil {
			return v, true
		}
	}
	// The offset must be one of text's own: strings.ToLower may change the
	// length of text that is not valid UTF-8.
	if i := lastIndexFoldASCII(text, "answer"); i >= 0 {
		if v, ok := scanNumbers(text, i, true); ok {
			return v, true
		}
	}
	return scanNumbers(text, 0, false)
}

// scanNumbers parses the number-like spans of text[from:], returning the
// first (first true) or the last that parses.
func scanNumbers(text string, from int, first bool) (float64, bool) {
	var out float64
	found := false
	for _, loc := range numberRE.FindAllStringIndex(text[from:], -1) {
		start, end := from+loc[0], from+loc[1]
		span := strings.TrimRight(text[start:end], ",")
		if strings.HasPrefix(span, "-") && start > 0 && isWordByte(text[start-1]) {
			// A hyphen ("pages 3-5", "COVID-19"), not a sign.
			span = span[1:]
		}
		v, err := ParseNumber(span)
		if err != nil {
			continue
		}
		out, found = v, true
		if first {
			break
		}
	}
	return out, found
}

// lastIndexFoldASCII returns the byte offset in s of the last occurrence of
// the lower-case ASCII word w, ignoring ASCII case, or -1.
func lastIndexFoldASCII(s, w string) int {
	for i := len(s) - len(w); i >= 0; i-- {
		j := 0
		for j < len(w) && s[i+j]|0x20 == w[j] {
			j++
		}
		if j == len(w) {
			return i
		}
	}
	return -1
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Tolerance bounds the difference at which two numbers count as equal:
// |a−b| ≤ max(Abs, Rel·max(|a|, |b|)).
type Tolerance struct {
	Abs, Rel float64
}

// Default tolerances: they accept differences from floating-point rounding
// only.
const (
	DefaultAbsTolerance = 1e-9
	DefaultRelTolerance = 1e-6
)

// DefaultTolerance returns {DefaultAbsTolerance, DefaultRelTolerance}.
func DefaultTolerance() Tolerance {
	return Tolerance{Abs: DefaultAbsTolerance, Rel: DefaultRelTolerance}
}

// NumericEqual reports whether a and b are equal within tol.
func NumericEqual(a, b float64, tol Tolerance) bool {
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return false
	}
	return math.Abs(a-b) <= max(tol.Abs, tol.Rel*max(math.Abs(a), math.Abs(b)))
}

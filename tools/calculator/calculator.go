// Package calculator is a small, safe arithmetic tool for agents: it parses
// + - * / ^ with parentheses, decimals and unary minus, and evaluates nothing
// else (no names, no calls, no code).
package calculator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/reagent-go/reagent/trajectory"
)

// Limits that keep a hostile expression from using much time or stack.
const (
	maxExprLen = 4096
	maxDepth   = 200
)

// ErrSyntax marks an expression that does not parse.
var ErrSyntax = errors.New("syntax error")

// ErrMath marks an expression that parses but has no finite value
// (division by zero, overflow).
var ErrMath = errors.New("math error")

// Eval evaluates an arithmetic expression: numbers (12, 3.5, .5, 1e3),
// + - * / ^ (also **), parentheses and unary signs. ^ binds tighter than
// unary minus and is right-associative, so -2^2 is -4 and 2^3^2 is 512.
func Eval(expr string) (float64, error) {
	if len(expr) > maxExprLen {
		return 0, fmt.Errorf("%w: expression longer than %d bytes", ErrSyntax, maxExprLen)
	}
	p := &parser{src: expr}
	p.next()
	v, err := p.expr(0)
	if err != nil {
		return 0, err
	}
	if p.tok.kind != tokEOF {
		return 0, p.errorf("unexpected %s", p.tok)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: result is not a finite number", ErrMath)
	}
	return v, nil
}

// Format renders a result the way the tool reports it: integers without a
// decimal point, other values with at most 12 significant digits, so that
// 0.1+0.2 reads 0.3.
func Format(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 12, 64)
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokNum
	tokOp
	tokErr
)

type token struct {
	kind tokKind
	op   byte // + - * / ^ ( )
	num  float64
	pos  int
	text string
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokNum:
		return fmt.Sprintf("number %s at position %d", t.text, t.pos+1)
	default:
		return fmt.Sprintf("%q at position %d", t.text, t.pos+1)
	}
}

type parser struct {
	src string
	pos int
	tok token
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, args...))
}

// next scans one token into p.tok.
func (p *parser) next() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
	start := p.pos
	if p.pos >= len(p.src) {
		p.tok = token{kind: tokEOF, pos: start}
		return
	}
	c := p.src[p.pos]
	switch {
	case c == '*' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '*':
		p.pos += 2
		p.tok = token{kind: tokOp, op: '^', pos: start, text: "**"}
	case strings.IndexByte("+-*/^()", c) >= 0:
		p.pos++
		p.tok = token{kind: tokOp, op: c, pos: start, text: string(c)}
	case c == '.' || (c >= '0' && c <= '9'):
		p.scanNumber()
	default:
		r := []rune(p.src[start:])[0]
		p.tok = token{kind: tokErr, pos: start, text: string(r)}
	}
}

func (p *parser) scanNumber() {
	start := p.pos
	digits := 0
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
		digits++
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
			digits++
		}
	}
	// An exponent only when digits follow, so "2e" stays an error.
	if digits > 0 && p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		q := p.pos + 1
		if q < len(p.src) && (p.src[q] == '+' || p.src[q] == '-') {
			q++
		}
		if q < len(p.src) && p.src[q] >= '0' && p.src[q] <= '9' {
			for q < len(p.src) && p.src[q] >= '0' && p.src[q] <= '9' {
				q++
			}
			p.pos = q
		}
	}
	text := p.src[start:p.pos]
	if digits == 0 {
		p.tok = token{kind: tokErr, pos: start, text: text}
		return
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		p.tok = token{kind: tokErr, pos: start, text: text}
		return
	}
	p.tok = token{kind: tokNum, num: v, pos: start, text: text}
}

func (p *parser) isOp(ops string) bool {
	return p.tok.kind == tokOp && strings.IndexByte(ops, p.tok.op) >= 0
}

// expr := term (('+'|'-') term)*
func (p *parser) expr(depth int) (float64, error) {
	v, err := p.term(depth)
	if err != nil {
		return 0, err
	}
	for p.isOp("+-") {
		op := p.tok.op
		p.next()
		r, err := p.term(depth)
		if err != nil {
			return 0, err
		}
		if op == '+' {
			v += r
		} else {
			v -= r
		}
	}
	return v, nil
}

// term := unary (('*'|'/') unary)*
func (p *parser) term(depth int) (float64, error) {
	v, err := p.unary(depth)
	if err != nil {
		return 0, err
	}
	for p.isOp("*/") {
		op := p.tok.op
		p.next()
		r, err := p.unary(depth)
		if err != nil {
			return 0, err
		}
		if op == '*' {
			v *= r
			continue
		}
		if r == 0 {
			return 0, fmt.Errorf("%w: division by zero", ErrMath)
		}
		v /= r
	}
	return v, nil
}

// unary := ('+'|'-') unary | power
func (p *parser) unary(depth int) (float64, error) {
	if depth > maxDepth {
		return 0, p.errorf("expression nested deeper than %d levels", maxDepth)
	}
	if p.isOp("+-") {
		neg := p.tok.op == '-'
		p.next()
		v, err := p.unary(depth + 1)
		if neg {
			v = -v
		}
		return v, err
	}
	return p.power(depth)
}

// power := primary ('^' unary)?, right-associative through unary.
func (p *parser) power(depth int) (float64, error) {
	base, err := p.primary(depth)
	if err != nil {
		return 0, err
	}
	if !p.isOp("^") {
		return base, nil
	}
	p.next()
	exp, err := p.unary(depth + 1)
	if err != nil {
		return 0, err
	}
	v := math.Pow(base, exp)
	if math.IsNaN(v) {
		return 0, fmt.Errorf("%w: %s^%s has no real value", ErrMath, Format(base), Format(exp))
	}
	return v, nil
}

// primary := number | '(' expr ')'
func (p *parser) primary(depth int) (float64, error) {
	switch {
	case p.tok.kind == tokNum:
		v := p.tok.num
		p.next()
		return v, nil
	case p.isOp("("):
		p.next()
		v, err := p.expr(depth + 1)
		if err != nil {
			return 0, err
		}
		if !p.isOp(")") {
			return 0, p.errorf("expected \")\" but found %s", p.tok)
		}
		p.next()
		return v, nil
	case p.tok.kind == tokEOF:
		return 0, p.errorf("expression ends too early")
	case p.tok.kind == tokErr:
		return 0, p.errorf("unexpected %s (only numbers, + - * / ^ and parentheses are allowed)", p.tok)
	default:
		return 0, p.errorf("unexpected %s", p.tok)
	}
}

// Tool is the calculator as a langchaingo tool. Its input is either a bare
// expression ("2*(3+4)") or JSON {"expression": "2*(3+4)"}.
type Tool struct{}

// New returns the calculator tool.
func New() *Tool { return &Tool{} }

// Name returns "calculator".
func (*Tool) Name() string { return "calculator" }

// Description tells the model what the tool accepts.
func (*Tool) Description() string {
	return "Evaluates an arithmetic expression with numbers, + - * / ^ and parentheses, e.g. 2*(3.5+4)^2. Returns the number."
}

var schema = json.RawMessage(`{"type":"object","properties":{"expression":{"type":"string","description":"arithmetic expression, e.g. (2+3)*4.5"}},"required":["expression"],"additionalProperties":false}`)

// ToolSpec describes the tool: read-only, with an "expression" argument.
func (t *Tool) ToolSpec() trajectory.ToolSpec {
	return trajectory.ToolSpec{
		Name:        t.Name(),
		Description: t.Description(),
		Tags:        []string{"read-only"},
		Parameters:  append(json.RawMessage(nil), schema...),
	}
}

// Call evaluates the input. Errors come back as the observation, never as a
// Go error, so a bad expression does not abort the agent's run.
func (t *Tool) Call(_ context.Context, input string) (string, error) {
	expr, err := expression(input)
	if err != nil {
		return "calculator error: " + err.Error(), nil
	}
	v, err := Eval(expr)
	if err != nil {
		return "calculator error: " + err.Error(), nil
	}
	return Format(v), nil
}

// expression extracts the expression from the tool input.
func expression(input string) (string, error) {
	s := strings.TrimSpace(input)
	if strings.HasPrefix(s, "{") {
		var args struct {
			Expression *string `json:"expression"`
		}
		if err := json.Unmarshal([]byte(s), &args); err != nil {
			return "", fmt.Errorf("invalid JSON arguments: %w", err)
		}
		if args.Expression == nil {
			return "", errors.New(`missing "expression" argument`)
		}
		s = strings.TrimSpace(*args.Expression)
	}
	// ReAct models often quote the input.
	for _, q := range []string{"`", `"`, "'"} {
		if len(s) >= 2 && strings.HasPrefix(s, q) && strings.HasSuffix(s, q) {
			s = strings.TrimSpace(s[1 : len(s)-1])
			break
		}
	}
	if s == "" {
		return "", errors.New("empty expression")
	}
	return s, nil
}

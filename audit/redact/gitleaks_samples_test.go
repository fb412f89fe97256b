package redact_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"hash/fnv"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/lucasjones/reggen"
	"github.com/stretchr/testify/require"
	"github.com/zricethezav/gitleaks/v8/cmd/generate/config/utils"
)

// gitleaksSample is one of gitleaks' own rule test samples: a text that the
// rule must flag (true positive) or must leave alone (false positive).
type gitleaksSample struct {
	rule string // the rule constructor, e.g. SlackBotToken
	file string
	text string
	tp   bool
	path bool // the rule is tied to file paths (utils.ValidateWithPaths)
}

// gitleaksSamples reads the true- and false-positive samples that gitleaks'
// rule constructors (cmd/generate/config/rules/*.go in the module the
// build uses, from the module cache) hand to utils.Validate. The files are
// Go source, so the samples are computed by a small evaluator of the
// expressions they are written in: string literals and concatenation,
// []string literals, append, fmt.Sprintf, utils.GenerateSampleSecret(s)
// (called for real) and secrets.NewSecret (a random string of a pattern,
// generated here with a fixed seed so that every run sees the same text).
// Samples the evaluator cannot compute are counted in skipped. Nothing is
// copied into this repository.
func gitleaksSamples(t testing.TB) (samples []gitleaksSample, skipped int) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/zricethezav/gitleaks/v8").Output()
	require.NoError(t, err, "locating the gitleaks module (run `go mod download` first)")
	dir := filepath.Join(strings.TrimSpace(string(out)), "cmd", "generate", "config", "rules")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no rule sources under %s", dir)
	sort.Strings(files)
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ev := &sampleEval{env: map[string]any{}, seed: fn.Name.Name}
			ev.block(fn.Body.List)
			for _, v := range ev.validated {
				for i, list := range [][]any{v.tps, v.fps} {
					for _, x := range list {
						s, ok := x.(string)
						if !ok {
							skipped++
							continue
						}
						samples = append(samples, gitleaksSample{rule: fn.Name.Name, file: filepath.Base(f), text: s, tp: i == 0, path: v.paths})
					}
				}
				skipped += v.skipped
			}
		}
	}
	return samples, skipped
}

// unknown marks a value the evaluator could not compute.
type unknown struct{}

type validation struct {
	tps, fps []any
	skipped  int
	paths    bool
}

type sampleEval struct {
	env       map[string]any
	seed      string
	n         int
	validated []validation
}

func (e *sampleEval) block(stmts []ast.Stmt) {
	for _, st := range stmts {
		e.stmt(st)
	}
}

func (e *sampleEval) stmt(st ast.Stmt) {
	switch s := st.(type) {
	case *ast.AssignStmt:
		for i, lhs := range s.Lhs {
			id, ok := lhs.(*ast.Ident)
			if !ok || i >= len(s.Rhs) {
				continue
			}
			e.env[id.Name] = e.expr(s.Rhs[i])
		}
	case *ast.DeclStmt:
		if g, ok := s.Decl.(*ast.GenDecl); ok {
			for _, sp := range g.Specs {
				if vs, ok := sp.(*ast.ValueSpec); ok {
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							e.env[n.Name] = e.expr(vs.Values[i])
						}
					}
				}
			}
		}
	case *ast.ReturnStmt:
		for _, r := range s.Results {
			e.expr(r)
		}
	case *ast.ExprStmt:
		e.expr(s.X)
	case *ast.RangeStmt:
		// for _, v := range list { body }: run the body once per element.
		list, ok := e.expr(s.X).([]any)
		val, isIdent := s.Value.(*ast.Ident)
		if !ok || !isIdent {
			return
		}
		for _, v := range list {
			e.env[val.Name] = v
			e.block(s.Body.List)
		}
	}
}

func (e *sampleEval) expr(x ast.Expr) any {
	switch v := x.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			s, err := strconv.Unquote(v.Value)
			if err == nil {
				return s
			}
		}
		if v.Kind == token.INT {
			return v.Value
		}
	case *ast.Ident:
		if val, ok := e.env[v.Name]; ok {
			return val
		}
		if v.Name == "nil" {
			return []any{}
		}
	case *ast.ParenExpr:
		return e.expr(v.X)
	case *ast.BinaryExpr:
		a, b := e.expr(v.X), e.expr(v.Y)
		as, aok := a.(string)
		bs, bok := b.(string)
		if v.Op == token.ADD && aok && bok {
			return as + bs
		}
	case *ast.CompositeLit:
		var out []any
		for _, el := range v.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				el = kv.Value // map[path]sample: the sample
			}
			out = append(out, e.expr(el))
		}
		return out
	case *ast.CallExpr:
		return e.call(v)
	}
	return unknown{}
}

func (e *sampleEval) strArgs(args []ast.Expr) ([]string, bool) {
	out := make([]string, len(args))
	for i, a := range args {
		s, ok := e.expr(a).(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

func (e *sampleEval) call(c *ast.CallExpr) any {
	name := ""
	switch f := c.Fun.(type) {
	case *ast.Ident:
		name = f.Name
	case *ast.SelectorExpr:
		if p, ok := f.X.(*ast.Ident); ok {
			name = p.Name + "." + f.Sel.Name
		}
	}
	switch name {
	case "append":
		if len(c.Args) == 0 {
			return unknown{}
		}
		base, _ := e.expr(c.Args[0]).([]any)
		out := append([]any(nil), base...)
		for i, a := range c.Args[1:] {
			val := e.expr(a)
			if c.Ellipsis.IsValid() && i == len(c.Args)-2 {
				list, _ := val.([]any)
				out = append(out, list...)
				continue
			}
			out = append(out, val)
		}
		return out
	case "utils.Validate", "utils.ValidateWithPaths":
		v := validation{paths: name == "utils.ValidateWithPaths"}
		for i, dst := range []*[]any{&v.tps, &v.fps} {
			if 1+i >= len(c.Args) {
				break
			}
			list, ok := e.expr(c.Args[1+i]).([]any)
			if !ok {
				v.skipped++
				continue
			}
			*dst = list
		}
		e.validated = append(e.validated, v)
		return unknown{}
	case "utils.GenerateSampleSecrets":
		a, ok := e.strArgs(c.Args)
		if !ok || len(a) != 2 {
			return unknown{}
		}
		var out []any
		for _, s := range sortedCopy(utils.GenerateSampleSecrets(a[0], a[1])) {
			out = append(out, s)
		}
		return out
	case "utils.GenerateSampleSecret":
		a, ok := e.strArgs(c.Args)
		if !ok || len(a) != 2 {
			return unknown{}
		}
		return utils.GenerateSampleSecret(a[0], a[1])
	case "utils.Numeric", "utils.Hex", "utils.AlphaNumeric", "utils.AlphaNumericExtendedShort",
		"utils.AlphaNumericExtended", "utils.AlphaNumericExtendedLong":
		a, ok := e.strArgs(c.Args)
		if !ok || len(a) != 1 {
			return unknown{}
		}
		return map[string]func(string) string{
			"utils.Numeric": utils.Numeric, "utils.Hex": utils.Hex, "utils.AlphaNumeric": utils.AlphaNumeric,
			"utils.AlphaNumericExtendedShort": utils.AlphaNumericExtendedShort,
			"utils.AlphaNumericExtended":      utils.AlphaNumericExtended, "utils.AlphaNumericExtendedLong": utils.AlphaNumericExtendedLong,
		}[name](a[0])
	case "utils.Hex8_4_4_4_12":
		return utils.Hex8_4_4_4_12()
	case "secrets.NewSecret":
		a, ok := e.strArgs(c.Args)
		if !ok || len(a) != 1 {
			return unknown{}
		}
		g, err := reggen.NewGenerator(a[0])
		if err != nil {
			return unknown{}
		}
		h := fnv.New64a()
		e.n++
		fmt.Fprintf(h, "%s/%d/%s", e.seed, e.n, a[0])
		g.SetSeed(int64(h.Sum64()))
		return g.Generate(1)
	case "fmt.Sprintf":
		if len(c.Args) == 0 {
			return unknown{}
		}
		f, ok := e.expr(c.Args[0]).(string)
		if !ok {
			return unknown{}
		}
		args := make([]any, 0, len(c.Args)-1)
		for _, a := range c.Args[1:] {
			v := e.expr(a)
			if _, bad := v.(unknown); bad {
				return unknown{}
			}
			args = append(args, v)
		}
		return fmt.Sprintf(f, args...)
	case "strings.Repeat":
		if len(c.Args) == 2 {
			s, ok := e.expr(c.Args[0]).(string)
			n, err := strconv.Atoi(fmt.Sprint(e.expr(c.Args[1])))
			if ok && err == nil && n >= 0 && n < 10000 {
				return strings.Repeat(s, n)
			}
		}
	}
	// Other calls (the rule's own regexp builders) may still hold sample
	// expressions in their arguments; evaluate them for their side effects.
	for _, a := range c.Args {
		e.expr(a)
	}
	return unknown{}
}

func sortedCopy(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

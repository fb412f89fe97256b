package conformance_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// The langchaingo release whose own agents tests this harness runs. Another
// version needs the tables below checked again.
const (
	upstreamModule  = "github.com/tmc/langchaingo"
	upstreamVersion = "v0.1.14"
	upstreamPackage = upstreamModule + "/agents"
)

// staleRecordings lists the upstream tests that cannot pass offline in
// v0.1.14, with the reason. Their httprr recordings were made by an older
// OpenAI client: the recorded request bodies put "temperature" before "tools"
// (and carry another User-Agent), while v0.1.14's client sends them the other
// way round, so replay finds no recorded response for the very first request.
// The client then reports "network error: failed to reach API server" instead
// of httprr's "cached HTTP response not found", so the tests' own skip does
// not fire and they fail. The harness still runs them bare and wrapped,
// requires the same failure (including the httprr debug log of the request
// that was sent, which shows that the wrapped agent sends byte for byte the
// same request), and reports them as skipped.
var staleRecordings = map[string]string{
	"TestConversationalWithMemory":               "",
	"TestExecutorWithMRKLAgent":                  "",
	"TestExecutorWithOpenAIFunctionAgent":        "",
	"TestOpenAIFunctionsAgentWithHTTPRR":         "",
	"TestOpenAIFunctionsAgentComplexCalculation": "",
}

const staleReason = "its httprr recording in langchaingo " + upstreamVersion +
	" does not match the request v0.1.14's OpenAI client sends (JSON field order, User-Agent), " +
	"so it fails offline at the first model call, bare and wrapped alike"

// staleSignature is what the bare run of a stale test must print: httprr's
// own debug line for a request it has no recording for.
const staleSignature = "httprr: request not found in replay cache"

// upstreamRun is one run a wrapped executor of an upstream test must record.
type upstreamRun struct {
	Task   string `json:"task"`
	Status string `json:"status"`
	Steps  int    `json:"steps"` // -1: any number
}

// expectedRuns lists, per upstream test, the runs its wrapped executors must
// open and close (one per executor Call). A test that builds no executor has
// no entry.
var expectedRuns = map[string][]upstreamRun{
	// Plan always fails to parse; the error handler turns each failure into
	// an observation until MaxIterations (3) is reached.
	"TestExecutorWithErrorHandler": {{Task: "", Status: "max-iterations", Steps: 3}},
	// One tool call, then MaxIterations (1) is reached.
	"TestExecutorTrimsObservationSuffix": {{Task: "test question", Status: "max-iterations", Steps: 1}},
	// The stale recordings: the first model call fails.
	"TestConversationalWithMemory":               {{Task: "Hi! my name is Bob and the year I was born is 1987", Status: "error", Steps: -1}},
	"TestExecutorWithMRKLAgent":                  {{Task: "What is 5 plus 3? Please calculate this.", Status: "error", Steps: -1}},
	"TestExecutorWithOpenAIFunctionAgent":        {{Task: "when was the Go programming language tagged version 1.0?", Status: "error", Steps: -1}},
	"TestOpenAIFunctionsAgentWithHTTPRR":         {{Task: "What is 15 multiplied by 4?", Status: "error", Steps: -1}},
	"TestOpenAIFunctionsAgentComplexCalculation": {{Task: "If I have 3 groups of 7 items, and I add 9 more items, how many items do I have in total?", Status: "error", Steps: -1}},
}

// TestLangchaingoAgentsUpstream runs langchaingo's own agents package tests
// twice, as released and with every executor they build wrapped by
// middleware.Wrap, and requires the same result for every test. The wrapped
// variant runs in a temporary copy of the module (symbolic links into the
// module cache, go test -modfile with a replace directive) whose test files
// are mechanically rewritten; nothing of langchaingo is copied into this
// repository. Under -race both variants run with -race.
func TestLangchaingoAgentsUpstream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs langchaingo's agents tests twice; not in -short mode")
	}
	root := moduleRoot(t)
	dir := upstreamDir(t, root)
	tmp := t.TempDir()

	modfile, rewrites := rewriteUpstream(t, root, dir, tmp)
	for _, r := range rewrites {
		t.Logf("rewritten: %s", r)
	}

	runsFile := filepath.Join(tmp, "runs.jsonl")
	// File paths in failure messages name the module cache or the copy.
	paths := strings.NewReplacer(dir+string(filepath.Separator), "langchaingo/", filepath.Join(tmp, "langchaingo")+string(filepath.Separator), "langchaingo/")
	bare := goTestUpstream(t, root, "", "", paths)
	wrapped := goTestUpstream(t, root, modfile, runsFile, paths)

	names := make([]string, 0, len(bare))
	for name := range bare {
		names = append(names, name)
	}
	sort.Strings(names)
	require.NotEmpty(t, names, "no upstream test ran")
	for name := range wrapped {
		require.Contains(t, bare, name, "%s ran wrapped but not bare", name)
	}

	var passed, skipped []string
	var wantRuns []upstreamRun
	for _, name := range names {
		b, w := bare[name], wrapped[name]
		require.NotNil(t, w, "%s ran bare but not wrapped", name)
		if w.Action != "skip" {
			wantRuns = append(wantRuns, expectedRuns[name]...)
		}
		t.Run(name, func(t *testing.T) {
			require.Equal(t, b.Action, w.Action, "bare and wrapped results differ\nbare:\n%s\nwrapped:\n%s", b.Output, w.Output)
			require.Equal(t, b.Output, w.Output, "bare and wrapped output differ")
			if _, stale := staleRecordings[name]; stale {
				require.Equal(t, "fail", b.Action, "%s is listed as a stale recording but did not fail; update staleRecordings", name)
				require.Contains(t, b.Output, staleSignature, "%s failed for another reason than its stale recording", name)
				skipped = append(skipped, name+" ("+staleReason+")")
				t.Skipf("not runnable offline: %s", staleReason)
			}
			switch b.Action {
			case "pass":
				passed = append(passed, name)
			case "skip":
				skipped = append(skipped, name+" (skipped upstream)")
				t.Skipf("skipped by upstream, bare and wrapped alike:\n%s", b.Output)
			default:
				t.Fatalf("%s fails bare (not a reagent problem, but the harness cannot compare it):\n%s", name, b.Output)
			}
		})
	}
	t.Logf("langchaingo %s agents tests: %d ran, %d passed bare and wrapped: %s", upstreamVersion, len(names), len(passed), strings.Join(passed, ", "))
	t.Logf("skipped: %s", strings.Join(skipped, "; "))

	// The wrapped executors really opened and closed their runs.
	got := readRuns(t, runsFile)
	require.Equal(t, len(wantRuns), len(got), "wrapped runs recorded: %+v", got)
	for _, want := range wantRuns {
		i := slices.IndexFunc(got, func(g upstreamRun) bool {
			return g.Task == want.Task && g.Status == want.Status && (want.Steps < 0 || g.Steps == want.Steps)
		})
		require.GreaterOrEqual(t, i, 0, "no recorded run matches %+v; recorded: %+v", want, got)
		got = slices.Delete(got, i, i+1)
	}
}

// moduleRoot returns the directory of reagent's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err, "go env GOMOD")
	gomod := strings.TrimSpace(string(out))
	require.NotEmpty(t, gomod, "not inside reagent's module")
	return filepath.Dir(gomod)
}

// upstreamDir returns langchaingo's directory in the module cache, after
// checking that the pinned version is the one the build uses.
func upstreamDir(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-json", upstreamModule)
	cmd.Dir = root
	out, err := cmd.Output()
	require.NoError(t, err, "go list -m %s (is the module cache filled? run go mod download)", upstreamModule)
	var m struct{ Version, Dir string }
	require.NoError(t, json.Unmarshal(out, &m))
	require.Equal(t, upstreamVersion, m.Version, "go.mod moved langchaingo: check staleRecordings and expectedRuns against the new release's tests")
	require.NotEmpty(t, m.Dir, "%s@%s is not in the module cache: run go mod download", upstreamModule, m.Version)
	return m.Dir
}

// testResult is one upstream top-level test's outcome.
type testResult struct {
	Action string // pass, fail or skip
	Output string // normalised: no timings, no RUN/PAUSE/CONT lines
}

var (
	elapsedRE   = regexp.MustCompile(`\(\d+\.\d+s\)`)
	timestampRE = regexp.MustCompile(`time=\S+ `)
)

// goTestUpstream runs langchaingo's agents tests (as released, or with the
// wrapped copy when modfile is set) and returns each top-level test's result.
func goTestUpstream(t *testing.T, root, modfile, runsFile string, paths *strings.Replacer) map[string]*testResult {
	t.Helper()
	args := []string{"test", "-count=1", "-json"}
	if raceEnabled {
		args = append(args, "-race")
	}
	if modfile != "" {
		args = append(args, "-modfile", modfile)
	}
	// httprr's debug log shows each request the agent sends and whether a
	// recording answered it; bare and wrapped must log the same.
	args = append(args, upstreamPackage, "-args", "-httprecord-debug")
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	if runsFile != "" {
		cmd.Env = append(cmd.Env, "REAGENT_UPSTREAM_RUNS="+runsFile)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}

	results := map[string]*testResult{}
	var buildFailed bool
	var pkgOutput strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Action, Test, Output, Package string
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			pkgOutput.WriteString(sc.Text() + "\n")
			continue
		}
		if ev.Action == "build-fail" || ev.Action == "build-output" {
			buildFailed = buildFailed || ev.Action == "build-fail"
			pkgOutput.WriteString(ev.Output)
			continue
		}
		if ev.Test == "" {
			pkgOutput.WriteString(ev.Output)
			continue
		}
		top, _, _ := strings.Cut(ev.Test, "/")
		r := results[top]
		if r == nil {
			r = &testResult{}
			results[top] = r
		}
		switch ev.Action {
		case "output":
			line := ev.Output
			trimmed := strings.TrimSpace(line)
			if strings.HasPrefix(trimmed, "=== RUN") || strings.HasPrefix(trimmed, "=== PAUSE") || strings.HasPrefix(trimmed, "=== CONT") {
				continue
			}
			line = elapsedRE.ReplaceAllString(line, "(…)")
			line = timestampRE.ReplaceAllString(line, "")
			line = paths.Replace(line)
			r.Output += line
		case "pass", "fail", "skip":
			if ev.Test == top {
				r.Action = ev.Action
			}
		}
	}
	require.NoError(t, sc.Err())
	if buildFailed || len(results) == 0 {
		t.Fatalf("go %s did not run the tests:\n%s\n%s", strings.Join(args, " "), pkgOutput.String(), stderr.String())
	}
	for name, r := range results {
		require.NotEmpty(t, r.Action, "%s has no result (did the test binary crash?):\n%s", name, pkgOutput.String())
	}
	return results
}

// readRuns reads the runs the wrapped executors recorded.
func readRuns(t *testing.T, path string) []upstreamRun {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err, "no wrapped run was recorded")
	var runs []upstreamRun
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var r upstreamRun
		require.NoError(t, json.Unmarshal([]byte(line), &r), "run line %q", line)
		runs = append(runs, r)
	}
	return runs
}

// rewriteUpstream writes rewritten copies of the upstream test files that
// build executors into a copy of the module under tmp and returns the path of
// a go.mod for go test -modfile that points langchaingo at the copy, plus a
// description of every rewrite. (go test -overlay cannot do this: it refuses
// to replace files in the module cache.)
//
// The rewrite is mechanical:
//   - in package agents_test, agents.NewExecutor(x) becomes
//     reagentWrap(agents.NewExecutor(x)) and agents.Initialize becomes
//     reagentInitialize (both in testdata/upstream_wrap.go);
//   - a package agents (internal) test file cannot import the middleware,
//     which imports agents, so one that builds an executor is moved to
//     package agents_test: its references to the package's exported names
//     are qualified, and a top-level name that clashes with one of the
//     external test files is renamed. An internal test file that builds no
//     executor (markl_test.go: the MRKL parser) runs as released in both
//     variants.
//
// Line numbers never change, so failure messages compare equal.
func rewriteUpstream(t *testing.T, root, dir, tmp string) (string, []string) {
	t.Helper()
	pkgDir := filepath.Join(dir, "agents")
	exported := exportedNames(t, pkgDir)

	matches, err := filepath.Glob(filepath.Join(pkgDir, "*_test.go"))
	require.NoError(t, err)
	require.NotEmpty(t, matches, "no test files in %s", pkgDir)

	type testFile struct {
		path      string
		orig, src []byte
		f         *ast.File
	}
	var internal, external []*testFile
	externalNames := map[string]bool{}
	for _, path := range matches {
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ParseComments)
		require.NoError(t, err)
		tf := &testFile{path: path, orig: src, src: src, f: f}
		switch f.Name.Name {
		case "agents":
			internal = append(internal, tf)
		case "agents_test":
			external = append(external, tf)
			for _, d := range f.Decls {
				for _, n := range declNames(d) {
					externalNames[n] = true
				}
			}
		default:
			t.Fatalf("%s: unexpected package %s", path, f.Name.Name)
		}
	}

	var rewrites []string
	files := map[string][]byte{} // base name → content, in the wrapped copy of agents/
	for _, tf := range internal {
		if !buildsExecutor(tf.f) {
			rewrites = append(rewrites, filepath.Base(tf.path)+": package agents, builds no executor: runs as released")
			continue
		}
		src, notes := externalise(t, tf.path, tf.src, exported, externalNames)
		rewrites = append(rewrites, notes...)
		tf.src = src
		external = append(external, tf)
	}
	for _, tf := range external {
		src, notes := wrapExecutors(t, tf.path, tf.src)
		if bytes.Equal(src, tf.orig) {
			continue
		}
		rewrites = append(rewrites, notes...)
		files[filepath.Base(tf.path)] = src
	}
	require.NotEmpty(t, files, "the rewrite changed nothing: no upstream test builds an executor?")
	helper, err := os.ReadFile(filepath.Join("testdata", "upstream_wrap.go"))
	require.NoError(t, err)
	files["zz_reagent_wrap_test.go"] = helper

	// The copy: agents/ is copied (go:embed takes no symbolic links), the
	// rest of the module is linked.
	copyDir := filepath.Join(tmp, "langchaingo")
	linkAll(t, dir, copyDir, "agents")
	require.NoError(t, os.CopyFS(filepath.Join(copyDir, "agents"), os.DirFS(pkgDir)))
	for name, src := range files {
		require.NoError(t, os.WriteFile(filepath.Join(copyDir, "agents", name), src, 0o600))
	}

	// go.mod and go.sum beside it, for go test -modfile.
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	gomod = fmt.Appendf(gomod, "\nreplace %s => %s\n", upstreamModule, copyDir)
	modfile := filepath.Join(tmp, "go.mod")
	require.NoError(t, os.WriteFile(modfile, gomod, 0o600))
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "go.sum"), gosum, 0o600))
	return modfile, rewrites
}

// linkAll creates dst and fills it with symbolic links to every entry of src
// except the named ones.
func linkAll(t *testing.T, src, dst string, except ...string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dst, 0o700))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		if slices.Contains(except, e.Name()) {
			continue
		}
		require.NoError(t, os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())))
	}
}

// exportedNames returns the exported top-level names of the package's
// non-test files.
func exportedNames(t *testing.T, pkgDir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(pkgDir, "*.go"))
	require.NoError(t, err)
	names := map[string]bool{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range f.Decls {
			for _, n := range declNames(d) {
				if ast.IsExported(n) {
					names[n] = true
				}
			}
		}
	}
	return names
}

// declNames returns the names a top-level declaration introduces (methods
// introduce none).
func declNames(d ast.Decl) []string {
	var names []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil {
			names = append(names, d.Name.Name)
		}
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				names = append(names, s.Name.Name)
			case *ast.ValueSpec:
				for _, n := range s.Names {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names
}

// buildsExecutor reports whether an internal test file calls NewExecutor or
// Initialize.
func buildsExecutor(f *ast.File) bool {
	for _, id := range f.Unresolved {
		if id.Name == "NewExecutor" || id.Name == "Initialize" {
			return true
		}
	}
	return false
}

// edit replaces src[off:end] with text.
type edit struct {
	off, end int
	text     string
}

func applyEdits(src []byte, edits []edit) []byte {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].off > edits[j].off })
	out := slices.Clone(src)
	for _, e := range edits {
		out = slices.Concat(out[:e.off], []byte(e.text), out[e.end:])
	}
	return out
}

// externalise moves an internal (package agents) test file to package
// agents_test without changing its line numbers.
func externalise(t *testing.T, path string, src []byte, exported, externalNames map[string]bool) ([]byte, []string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	require.NoError(t, err)
	base := filepath.Base(path)
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	var edits []edit
	notes := []string{base + ": package agents → agents_test (it builds an executor, and the middleware imports agents)"}

	edits = append(edits, edit{off(f.Name.Pos()), off(f.Name.End()), "agents_test"})
	// The import goes on the line of the first import so no line moves.
	require.NotEmpty(t, f.Imports, "%s has no imports", base)
	first := off(f.Imports[0].Pos())
	edits = append(edits, edit{first, first, `"` + upstreamPackage + `"; `})

	// Struct literal keys are field names, not package-level names.
	keys := map[*ast.Ident]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if kv, ok := n.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok {
				keys[id] = true
			}
		}
		return true
	})
	// Imported package names are unresolved too.
	imported := map[string]bool{}
	for _, imp := range f.Imports {
		if imp.Name != nil {
			imported[imp.Name.Name] = true
		} else {
			imported[filepath.Base(strings.Trim(imp.Path.Value, `"`))] = true
		}
	}
	var qualified []string
	for _, id := range f.Unresolved {
		if keys[id] || imported[id.Name] || types.Universe.Lookup(id.Name) != nil {
			continue
		}
		require.True(t, exported[id.Name], "%s uses %s, which is not an exported name of package agents: it cannot move to agents_test", base, id.Name)
		edits = append(edits, edit{off(id.Pos()), off(id.Pos()), "agents."})
		if !slices.Contains(qualified, id.Name) {
			qualified = append(qualified, id.Name)
		}
	}
	notes = append(notes, fmt.Sprintf("%s: qualified %s", base, strings.Join(qualified, ", ")))

	// Rename top-level names that the external test files declare too.
	suffix := camel(strings.TrimSuffix(base, "_test.go"))
	renamed := map[*ast.Object]string{}
	for _, d := range f.Decls {
		for _, n := range declNames(d) {
			if externalNames[n] {
				obj := f.Scope.Lookup(n)
				require.NotNil(t, obj, "%s: no object for %s", base, n)
				renamed[obj] = n + suffix
				notes = append(notes, fmt.Sprintf("%s: renamed %s to %s (agents_test declares %s too)", base, n, n+suffix, n))
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Obj != nil {
			if to, ok := renamed[id.Obj]; ok {
				edits = append(edits, edit{off(id.Pos()), off(id.End()), to})
			}
		}
		return true
	})
	return checkRewrite(t, path, src, applyEdits(src, edits)), notes
}

// wrapExecutors rewrites an agents_test file so that every executor it
// builds is wrapped.
func wrapExecutors(t *testing.T, path string, src []byte) ([]byte, []string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	require.NoError(t, err)
	base := filepath.Base(path)
	name := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"`+upstreamPackage+`"` {
			name = "agents"
			if imp.Name != nil {
				name = imp.Name.Name
			}
		}
	}
	if name == "" {
		return src, nil
	}
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	calls := map[*ast.SelectorExpr]bool{}
	var edits []edit
	var notes []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != name || x.Obj != nil {
			return true
		}
		line := fset.Position(call.Pos()).Line
		switch sel.Sel.Name {
		case "NewExecutor":
			edits = append(edits, edit{off(call.Pos()), off(call.Pos()), "reagentWrap("}, edit{off(call.End()), off(call.End()), ")"})
			notes = append(notes, fmt.Sprintf("%s:%d: %s.NewExecutor(…) → reagentWrap(%s.NewExecutor(…))", base, line, name, name))
			calls[sel] = true
		case "Initialize":
			edits = append(edits, edit{off(sel.Pos()), off(sel.End()), "reagentInitialize"})
			notes = append(notes, fmt.Sprintf("%s:%d: %s.Initialize(…) → reagentInitialize(…)", base, line, name))
			calls[sel] = true
		}
		return true
	})
	// An executor constructor used other than in a call cannot be wrapped.
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && !calls[sel] {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == name && (sel.Sel.Name == "NewExecutor" || sel.Sel.Name == "Initialize") {
				t.Fatalf("%s:%d: %s.%s is used other than in a call; the harness cannot wrap it", base, fset.Position(sel.Pos()).Line, name, sel.Sel.Name)
			}
		}
		return true
	})
	return checkRewrite(t, path, src, applyEdits(src, edits)), notes
}

// checkRewrite makes sure a rewritten file still parses and kept its lines.
func checkRewrite(t *testing.T, path string, before, after []byte) []byte {
	t.Helper()
	_, err := parser.ParseFile(token.NewFileSet(), path, after, parser.ParseComments)
	require.NoError(t, err, "rewritten %s does not parse:\n%s", path, after)
	require.Equal(t, bytes.Count(before, []byte("\n")), bytes.Count(after, []byte("\n")), "rewriting %s moved lines", path)
	return after
}

// camel turns "conversational" or "openai_functions_agent" into
// "Conversational" or "OpenaiFunctionsAgent".
func camel(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

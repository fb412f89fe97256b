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
	"maps"
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

// upstreamRun is one run a wrapped executor of an upstream test must record.
type upstreamRun struct {
	Task   string `json:"task"`
	Status string `json:"status"`
	Steps  int    `json:"steps"`
}

// expectedRuns lists, per upstream test, the runs its wrapped executors must
// open and close (one per executor Call). A test that builds no executor has
// no entry. The replayed recordings fix what the models answered.
var expectedRuns = map[string][]upstreamRun{
	// Plan always fails to parse; the error handler turns each failure into
	// an observation until MaxIterations (3) is reached.
	"TestExecutorWithErrorHandler": {{Task: "", Status: "max-iterations", Steps: 3}},
	// One tool call, then MaxIterations (1) is reached.
	"TestExecutorTrimsObservationSuffix": {{Task: "test question", Status: "max-iterations", Steps: 1}},
	// Recorded OpenAI conversations: calculator (or search) call, then answer,
	// or an answer straight away.
	"TestConversationalWithMemory":               {{Task: "Hi! my name is Bob and the year I was born is 1987", Status: "finished", Steps: 1}},
	"TestExecutorWithMRKLAgent":                  {{Task: "What is 5 plus 3? Please calculate this.", Status: "finished", Steps: 2}},
	"TestExecutorWithOpenAIFunctionAgent":        {{Task: "when was the Go programming language tagged version 1.0?", Status: "finished", Steps: 2}},
	"TestOpenAIFunctionsAgentWithHTTPRR":         {{Task: "What is 15 multiplied by 4?", Status: "finished", Steps: 2}},
	"TestOpenAIFunctionsAgentComplexCalculation": {{Task: "If I have 3 groups of 7 items, and I add 9 more items, how many items do I have in total?", Status: "finished", Steps: 1}},
}

// TestLangchaingoAgentsUpstream runs langchaingo's own agents package tests
// twice, as released and with every executor they build wrapped by
// middleware.Wrap, and requires the same result and the same output for every
// test (with httprr's debug log on, the output shows every request a test
// sends to its recorded OpenAI or SerpAPI server, so the wrapped agents must
// send byte for byte the same requests). Both runs use a temporary copy of
// the module (symbolic links into the module cache; go test -modfile with a
// replace directive) whose recordings are repaired (see repairRecording); the
// wrapped run's test files are rewritten mechanically (see wrapUpstream).
// Nothing of langchaingo is copied into this repository. Under -race both
// runs use -race.
func TestLangchaingoAgentsUpstream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs langchaingo's agents tests twice; not in -short mode")
	}
	root := moduleRoot(t)
	dir := upstreamDir(t, root)
	tmp := t.TempDir()
	cp := copyUpstream(t, root, dir, tmp)
	for _, r := range cp.repairs {
		t.Logf("recording repaired: %s", r)
	}
	// File paths in failure messages name the copy.
	paths := strings.NewReplacer(cp.dir+string(filepath.Separator), "langchaingo/")

	bare := goTestUpstream(t, root, cp.modfile, "", paths)

	files, rewrites := wrapUpstream(t, cp.agents)
	for _, r := range rewrites {
		t.Logf("rewritten: %s", r)
	}
	for name, src := range files {
		require.NoError(t, os.WriteFile(filepath.Join(cp.agents, name), src, 0o600))
	}
	runsFile := filepath.Join(tmp, "runs.jsonl")
	wrapped := goTestUpstream(t, root, cp.modfile, runsFile, paths)

	names := slices.Sorted(maps.Keys(bare))
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
			switch b.Action {
			case "pass":
				passed = append(passed, name)
			case "skip":
				skipped = append(skipped, name)
				t.Skipf("skipped by upstream, bare and wrapped alike:\n%s", b.Output)
			default:
				t.Fatalf("fails bare, so the harness cannot compare it (not a reagent problem):\n%s", b.Output)
			}
		})
	}
	t.Logf("langchaingo %s agents tests: %d ran; passed bare and wrapped alike: %d (%s); skipped: %d (%s)",
		upstreamVersion, len(names), len(passed), strings.Join(passed, ", "), len(skipped), strings.Join(skipped, ", "))

	// The wrapped executors really opened and closed their runs.
	got := readRuns(t, runsFile)
	require.Len(t, got, len(wantRuns), "wrapped runs recorded: %+v", got)
	for _, want := range wantRuns {
		i := slices.Index(got, want)
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
	require.Equal(t, upstreamVersion, m.Version, "go.mod moved langchaingo: check repairRecording and expectedRuns against the new release's tests")
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

// goTestUpstream runs the agents tests of the copy that modfile points
// langchaingo at, and returns each top-level test's result.
func goTestUpstream(t *testing.T, root, modfile, runsFile string, paths *strings.Replacer) map[string]*testResult {
	t.Helper()
	args := []string{"test", "-count=1", "-json"}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "-modfile", modfile)
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

// upstreamCopy is the temporary copy of langchaingo the tests run in.
type upstreamCopy struct {
	dir     string   // the module
	agents  string   // its agents package (a real copy)
	modfile string   // reagent's go.mod plus a replace directive, for -modfile
	repairs []string // what repairRecording changed
}

// copyUpstream makes the copy: agents/ is copied (go:embed takes no symbolic
// links) with its recordings repaired, the rest of the module is linked.
// (go test -overlay cannot stand in for the copy: it refuses to replace files
// in the module cache.)
func copyUpstream(t *testing.T, root, dir, tmp string) upstreamCopy {
	t.Helper()
	cp := upstreamCopy{dir: filepath.Join(tmp, "langchaingo")}
	cp.agents = filepath.Join(cp.dir, "agents")
	require.NoError(t, os.MkdirAll(cp.dir, 0o700))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() != "agents" {
			require.NoError(t, os.Symlink(filepath.Join(dir, e.Name()), filepath.Join(cp.dir, e.Name())))
		}
	}
	require.NoError(t, os.CopyFS(cp.agents, os.DirFS(filepath.Join(dir, "agents"))))

	recordings, err := filepath.Glob(filepath.Join(cp.agents, "testdata", "*.httprr*"))
	require.NoError(t, err)
	require.NotEmpty(t, recordings, "no httprr recordings in %s", cp.agents)
	for _, path := range recordings {
		require.False(t, strings.HasSuffix(path, ".gz"), "%s: compressed recordings are not handled", path)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		repaired, n := repairRecording(t, path, data)
		require.NoError(t, os.WriteFile(path, repaired, 0o600))
		cp.repairs = append(cp.repairs, fmt.Sprintf("%s: %d request(s)", filepath.Base(path), n))
	}

	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	gomod = fmt.Appendf(gomod, "\nreplace %s => %s\n", upstreamModule, cp.dir)
	cp.modfile = filepath.Join(tmp, "go.mod")
	require.NoError(t, os.WriteFile(cp.modfile, gomod, 0o600))
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "go.sum"), gosum, 0o600))
	return cp
}

// repairRecording brings an httprr recording up to the request form of
// langchaingo v0.1.14's OpenAI client. The recordings in the v0.1.14 release
// were made by an older client, which sent "temperature" in the middle of the
// chat request; v0.1.14's ChatRequest.MarshalJSON sends it last. httprr
// matches requests byte for byte, so as released every test with a recording
// fails offline at its first model call (the client turns httprr's "cached
// HTTP response not found" into "network error: failed to reach API server",
// so the tests' own skip does not fire). The repair moves the top-level
// "temperature" member of each recorded JSON request body to the end: the
// same JSON object, the same length, nothing else touched. It returns the
// repaired recording and how many requests it changed.
func repairRecording(t *testing.T, path string, data []byte) ([]byte, int) {
	t.Helper()
	header, rest, ok := bytes.Cut(data, []byte("\n"))
	require.True(t, ok && string(header) == "httprr trace v1", "%s: not an httprr trace", path)
	out := slices.Concat(header, []byte("\n"))
	changed := 0
	for len(rest) > 0 {
		var line []byte
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		require.True(t, ok, "%s: truncated record header", path)
		var nreq, nresp int
		_, err := fmt.Sscanf(string(line), "%d %d", &nreq, &nresp)
		require.NoError(t, err, "%s: record header %q", path, line)
		require.LessOrEqual(t, nreq+nresp, len(rest), "%s: truncated record", path)
		req, resp := rest[:nreq], rest[nreq:nreq+nresp]
		rest = rest[nreq+nresp:]
		if head, body, ok := bytes.Cut(req, []byte("\r\n\r\n")); ok && len(body) > 0 && body[0] == '{' {
			if moved := temperatureLast(t, path, body); !bytes.Equal(moved, body) {
				req = slices.Concat(head, []byte("\r\n\r\n"), moved)
				changed++
			}
		}
		require.Len(t, req, nreq, "%s: the repair changed a request's length", path)
		out = slices.Concat(out, line, []byte("\n"), req, resp)
	}
	return out, changed
}

// temperatureLast returns the JSON object body with its top-level
// "temperature" member moved to the end, keeping every other byte.
func temperatureLast(t *testing.T, path string, body []byte) []byte {
	t.Helper()
	type member struct {
		key   string
		value json.RawMessage
	}
	var members []member
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	require.NoError(t, err, "%s: request body", path)
	require.Equal(t, json.Delim('{'), tok, "%s: request body is not an object", path)
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err, "%s: request body", path)
		var m member
		m.key = tok.(string)
		require.NoError(t, dec.Decode(&m.value), "%s: request body", path)
		members = append(members, m)
	}
	i := slices.IndexFunc(members, func(m member) bool { return m.key == "temperature" })
	if i < 0 || i == len(members)-1 {
		return body
	}
	temperature := members[i]
	members = append(slices.Delete(members, i, i+1), temperature)
	var b bytes.Buffer
	b.WriteByte('{')
	for j, m := range members {
		if j > 0 {
			b.WriteByte(',')
		}
		key, err := json.Marshal(m.key)
		require.NoError(t, err)
		b.Write(key)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	// The same object, and no byte lost (the recorded bodies are compact).
	var before, after any
	require.NoError(t, json.Unmarshal(body, &before))
	require.NoError(t, json.Unmarshal(b.Bytes(), &after))
	require.Equal(t, before, after, "%s: the repair changed a request", path)
	require.Equal(t, len(body), b.Len(), "%s: request body is not compact JSON", path)
	return b.Bytes()
}

// wrapUpstream returns rewritten versions (by file name) of the test files
// in the copied agents package, so that every executor they build is
// wrapped, plus the helper that wraps (testdata/upstream_wrap.go), and a
// description of every rewrite.
//
// The rewrite is mechanical and keeps every line where it was, so failure
// messages compare equal:
//   - in package agents_test, agents.NewExecutor(x) becomes
//     reagentWrap(agents.NewExecutor(x)) and agents.Initialize becomes
//     reagentInitialize;
//   - a package agents (internal) test file cannot import the middleware,
//     which imports agents, so one that builds an executor is moved to
//     package agents_test: its references to the package's exported names
//     are qualified, and a top-level name that clashes with one of the
//     external test files is renamed. An internal test file that builds no
//     executor (markl_test.go: the MRKL parser) runs as released.
func wrapUpstream(t *testing.T, pkgDir string) (map[string][]byte, []string) {
	t.Helper()
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
	files := map[string][]byte{}
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
	return files, rewrites
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

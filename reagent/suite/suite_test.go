package suite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/tools/calculator"
)

func TestWorldIsConsistent(t *testing.T) {
	w, err := LoadWorld()
	require.NoError(t, err)
	assert.Len(t, w.People, 36)
	assert.Len(t, w.Companies, 12)
	assert.Len(t, w.Cities, 12)
	for _, c := range w.Companies {
		// A company's CEO works there.
		assert.Equal(t, c.ID, w.Person(c.CEO).Employer, c.ID)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	for _, name := range Names() {
		a, err := Generate(name, Train, WithSeed(7), WithCount(30))
		require.NoError(t, err)
		b, err := Generate(name, Train, WithSeed(7), WithCount(30))
		require.NoError(t, err)
		assert.Equal(t, a, b, name)
		assert.Len(t, a, 30, name)
		c, err := Generate(name, Train, WithSeed(8), WithCount(30))
		require.NoError(t, err)
		assert.NotEqual(t, a, c, "%s: another seed gives other tasks or another order", name)
	}
}

func TestSplitsDoNotOverlap(t *testing.T) {
	for _, name := range Names() {
		for _, seed := range []int64{1, 2, 3} {
			train, err := Generate(name, Train, WithSeed(seed))
			require.NoError(t, err)
			test, err := Generate(name, Test, WithSeed(seed+100))
			require.NoError(t, err)
			require.NotEmpty(t, train)
			require.NotEmpty(t, test)
			questions := map[string]bool{}
			ids := map[string]bool{}
			for _, tk := range train {
				assert.Equal(t, Train, tk.Split)
				assert.False(t, questions[tk.Question], "duplicate train question %q", tk.Question)
				questions[tk.Question] = true
				ids[tk.ID] = true
			}
			for _, tk := range test {
				assert.Equal(t, Test, tk.Split)
				assert.False(t, questions[tk.Question], "%s seed %d: test question %q is also in train", name, seed, tk.Question)
				assert.False(t, ids[tk.ID], "%s: test id %s is also in train", name, tk.ID)
			}
		}
	}
	// The default sizes.
	train, _ := Generate(Arith, Train)
	test, _ := Generate(Arith, Test)
	assert.Len(t, train, DefaultArithTrain)
	assert.Len(t, test, DefaultArithTest)
}

func TestGenerateErrors(t *testing.T) {
	_, err := Generate("nope", Train)
	assert.ErrorContains(t, err, `unknown suite "nope"`)
	_, err = Generate(Arith, "dev")
	assert.ErrorContains(t, err, `unknown split "dev"`)
	_, err = Generate(Arith, Train, WithCount(-1))
	assert.Error(t, err)
	_, err = ParseSplit("validation")
	assert.Error(t, err)
}

func TestArithTasks(t *testing.T) {
	tasks, err := Generate(Arith, Train, WithCount(200))
	require.NoError(t, err)
	rules := reward.NewRules(nil)
	calc := calculator.New()
	for _, tk := range tasks {
		require.NoError(t, tk.Validate(), tk.ID)
		assert.Equal(t, TaskID(Arith, tk.Question), tk.ID)
		require.Len(t, tk.Solution.Calls, 1)
		// The ideal call, run through the real calculator, gives the answer.
		obs, err := calc.Call(t.Context(), string(tk.Solution.Calls[0].Arguments))
		require.NoError(t, err)
		assert.Equal(t, tk.Answer, obs, tk.Question)
		var a struct{ Expression string }
		require.NoError(t, json.Unmarshal(tk.Solution.Calls[0].Arguments, &a))
		if strings.HasPrefix(tk.Question, "What is ") {
			assert.Equal(t, "What is "+a.Expression+"?", tk.Question, "the expression is verbatim in the question")
		}
		v, err := rules.Score(tk.Reward, tk.Answer, tk.Answer)
		require.NoError(t, err)
		assert.Equal(t, 1.0, v)
		// The flawed answer is wrong.
		v, err = rules.Score(tk.Reward, tk.Solution.Flawed.Answer, tk.Answer)
		require.NoError(t, err)
		assert.Equal(t, 0.0, v, "%s: flawed answer %s", tk.Question, tk.Solution.Flawed.Answer)
		assert.Less(t, len(tk.Question), 120)
	}
}

// follow runs a lookup task's solution against the real API handler and
// returns the bodies.
func follow(t *testing.T, srv *httptest.Server, tk Task) []string {
	var bodies []string
	for _, c := range tk.Solution.Calls {
		var a struct{ ID string }
		require.NoError(t, json.Unmarshal(c.Arguments, &a))
		coll := map[string]string{PersonTool: "/people/", CompanyTool: "/companies/", CityTool: "/cities/"}[c.Tool]
		require.NotEmpty(t, coll, c.Tool)
		path := coll + a.ID
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, path)
		bodies = append(bodies, string(b))
	}
	return bodies
}

func TestLookupTasksAreAnsweredByTheAPI(t *testing.T) {
	w, err := LoadWorld()
	require.NoError(t, err)
	srv := httptest.NewServer(LookupHandler(w))
	defer srv.Close()
	rules := reward.NewRules(nil)
	for _, split := range []Split{Train, Test} {
		tasks, err := Generate(Lookup, split)
		require.NoError(t, err)
		for _, tk := range tasks {
			require.NoError(t, tk.Validate(), tk.ID)
			bodies := follow(t, srv, tk)
			last := bodies[len(bodies)-1]
			assert.Contains(t, last, tk.Answer, "%s: the last answer holds the reference", tk.Question)
			// The first hop copies the question's name (the API reads it as
			// its id); every hop after it names an id the previous answer gave.
			var a0 struct{ ID string }
			require.NoError(t, json.Unmarshal(tk.Solution.Calls[0].Arguments, &a0))
			assert.Contains(t, tk.Question, a0.ID, "%s: the first call copies the question's name", tk.Question)
			for i := 1; i < len(tk.Solution.Calls); i++ {
				var a struct{ ID string }
				_ = json.Unmarshal(tk.Solution.Calls[i].Arguments, &a)
				assert.Contains(t, bodies[i-1], `"id":"`+a.ID+`"`, "%s: hop %d", tk.Question, i)
			}
			f := tk.Solution.Flawed
			v, err := rules.Score(tk.Reward, f.Answer, tk.Answer)
			require.NoError(t, err)
			assert.Less(t, v, 1.0, "%s: flawed answer %q must not be right", tk.Question, f.Answer)
			assert.NotContains(t, f.Critique, tk.Answer+".", "a critique never gives the answer away")
			assert.NotContains(t, f.Critique, "{")
		}
	}
}

func TestLookupAPI(t *testing.T) {
	w, err := LoadWorld()
	require.NoError(t, err)
	srv := httptest.NewServer(LookupHandler(w))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		return resp.StatusCode, string(b)
	}
	p := w.People[0]
	code, body := get("/people/" + p.ID)
	assert.Equal(t, 200, code)
	assert.True(t, strings.HasPrefix(body, `{"id":"`+p.ID+`","name":"`+p.Name+`","born":`), body)
	code, body = get("/search?q=" + strings.Split(p.Name, " ")[0])
	assert.Equal(t, 200, code)
	assert.Contains(t, body, p.ID)
	code, body = get("/people/nobody")
	assert.Equal(t, 404, code)
	assert.Contains(t, body, "no person with id nobody")
	code, _ = get("/search")
	assert.Equal(t, 400, code)
	code, body = get("/weather")
	assert.Equal(t, 404, code)
	assert.Contains(t, body, "unknown endpoint")
	code, body = get("/cities")
	assert.Equal(t, 200, code)
	var refs []Ref
	require.NoError(t, json.Unmarshal([]byte(body), &refs))
	assert.Len(t, refs, len(w.Cities))
}

var hrefRE = regexp.MustCompile(`href="([^"]+)"`)

func TestSitePagesLinkUp(t *testing.T) {
	w, err := LoadWorld()
	require.NoError(t, err)
	pages, err := SitePages(w)
	require.NoError(t, err)
	assert.Equal(t, 1+len(w.People)+len(w.Companies)+len(w.Cities), len(pages))
	for path, b := range pages {
		for _, m := range hrefRE.FindAllStringSubmatch(string(b), -1) {
			_, ok := pages[m[1]]
			assert.True(t, ok, "%s links to missing %s", path, m[1])
		}
		assert.Less(t, len(b), 4096, path)
	}
	srv := httptest.NewServer(SiteHandler(pages))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/nope.html")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 404, resp.StatusCode)
	resp, err = http.Post(srv.URL+"/", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 405, resp.StatusCode)
}

// TestWebTasksFollowLinks walks each web solution over the rendered pages:
// every click names a link of the current page, and the last page states
// the answer.
func TestWebTasksFollowLinks(t *testing.T) {
	w, err := LoadWorld()
	require.NoError(t, err)
	pages, err := SitePages(w)
	require.NoError(t, err)
	linkRE := regexp.MustCompile(`<a href="([^"]+)">([^<]+)</a>`)
	tasks, err := Generate(Web, Train)
	require.NoError(t, err)
	for _, tk := range tasks {
		require.NoError(t, tk.Validate())
		cur := ""
		for i, c := range tk.Solution.Calls {
			var a struct{ Action, URL, Text string }
			require.NoError(t, json.Unmarshal(c.Arguments, &a))
			switch a.Action {
			case "open":
				assert.Equal(t, SiteVar+"/", a.URL)
				cur = "/"
			case "click":
				next := ""
				for _, m := range linkRE.FindAllStringSubmatch(string(pages[cur]), -1) {
					if m[2] == a.Text {
						require.Empty(t, next, "%s: two links read %q", cur, a.Text)
						next = m[1]
					}
				}
				require.NotEmpty(t, next, "%s call %d: no link %q on %s", tk.Question, i, a.Text, cur)
				cur = next
			default:
				t.Fatalf("unexpected action %q", a.Action)
			}
		}
		assert.Regexp(t, "(>|: )"+regexp.QuoteMeta(tk.Answer)+"<", string(pages[cur]), tk.Question)
	}
}

func TestJSONLRoundTrip(t *testing.T) {
	tasks, err := Generate(Lookup, Test, WithCount(5))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, WriteJSONL(&buf, tasks))
	back, err := ReadJSONL(&buf, "x.jsonl")
	require.NoError(t, err)
	assert.Equal(t, tasks, back)

	path := filepath.Join(t.TempDir(), "mine.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(
		`{"id":"q1","question":"What is 2+2?","answer":"4","suite":"mine","tools":["calculator"],"split":"train"}`+"\n\n"+
			`{"id":"q2","question":"Capital of Norway?","answer":"Oslo","suite":"mine","tools":[]}`+"\n"), 0o600))
	got, err := Load(path, Test)
	require.NoError(t, err)
	require.Len(t, got, 1, "tasks without a split belong to every split")
	assert.Equal(t, "q2", got[0].ID)
	got, err = Load(path, Train)
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

func TestJSONLErrorsNameTheLine(t *testing.T) {
	in := strings.Join([]string{
		`{"id":"a","question":"q","answer":"x","suite":"s","tools":[]}`,
		`{"id":"b","question":"q","answer":"","suite":"s","tools":[]}`,
		``,
		`{"id":"c","question":"q","answer":"x","suite":"s","anwser":"typo"}`,
		`{"id":"a","question":"q2","answer":"y","suite":"s"}`,
		`not json`,
		`{"id":"d","question":"q","answer":"x","suite":"s","tools":["calculator"],"solution":{"calls":[{"tool":"browser","arguments":{}}]}}`,
		`{"id":"e","question":"q","answer":"x","suite":"s"} {"id":"f"}`,
		`{"id":"g","question":"q","answer":"x","suite":"s","split":"dev"}`,
	}, "\n")
	_, err := ReadJSONL(strings.NewReader(in), "my.jsonl")
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`my.jsonl:2: missing "answer"`,
		`my.jsonl:4: invalid task: json: unknown field "anwser"`,
		`my.jsonl:5: duplicate id "a" (first on line 1)`,
		`my.jsonl:6: invalid task`,
		`my.jsonl:7: solution.calls[0]: tool "browser" is not in the task's tools`,
		`my.jsonl:8: more than one JSON value`,
		`my.jsonl:9: split "dev" is not train or test`,
	} {
		assert.Contains(t, msg, want)
	}
	var le *LineError
	require.True(t, errors.As(err, &le))
	assert.Equal(t, 2, le.Line)

	_, err = ReadJSONL(strings.NewReader("\n\n"), "empty.jsonl")
	assert.ErrorContains(t, err, "empty.jsonl: no tasks")
	_, err = LoadJSONL(filepath.Join(t.TempDir(), "missing.jsonl"))
	assert.ErrorContains(t, err, "no such file")

	var many strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintln(&many, "{")
	}
	_, err = ReadJSONL(strings.NewReader(many.String()), "bad.jsonl")
	assert.ErrorContains(t, err, "too many errors")
}

func FuzzReadJSONL(f *testing.F) {
	f.Add(`{"id":"a","question":"q","answer":"x","suite":"s","tools":["t"]}`)
	f.Add(`{"id":"a","question":"q","answer":"x","suite":"s","tools":["t"],"solution":{"calls":[{"tool":"t","arguments":{"x":1}}],"flawed":{"calls":1,"answer":"y","critique":"c"}}}`)
	f.Add("{\"id\":\"a\"}\n{\"id\":\"a\"}")
	f.Add("[1,2]\n\x00\xff")
	f.Add(`{"id":"a","question":"q","answer":"x","suite":"s","split":"test","metadata":{"k":"v"}}`)
	f.Fuzz(func(t *testing.T, in string) {
		tasks, err := ReadJSONL(strings.NewReader(in), "f.jsonl")
		if err != nil {
			if tasks != nil {
				t.Fatal("tasks returned with an error")
			}
			return
		}
		ids := map[string]bool{}
		for _, tk := range tasks {
			if err := tk.Validate(); err != nil {
				t.Fatalf("accepted an invalid task: %v", err)
			}
			if ids[tk.ID] {
				t.Fatalf("accepted duplicate id %q", tk.ID)
			}
			ids[tk.ID] = true
		}
		// What was read writes back and reads again to the same tasks.
		var buf bytes.Buffer
		if err := WriteJSONL(&buf, tasks); err != nil {
			t.Fatal(err)
		}
		again, err := ReadJSONL(&buf, "again")
		if err != nil {
			t.Fatalf("re-reading written tasks: %v", err)
		}
		if len(again) != len(tasks) {
			t.Fatalf("%d tasks, then %d", len(tasks), len(again))
		}
	})
}

func TestArith2Tasks(t *testing.T) {
	train, err := Generate(Arith2, Train, WithCount(300))
	require.NoError(t, err)
	test, err := Generate(Arith2, Test, WithCount(100))
	require.NoError(t, err)
	arithTrain, err := Generate(Arith, Train, WithCount(2000))
	require.NoError(t, err)
	arithExprs := map[string]bool{}
	for _, tk := range arithTrain {
		var a struct{ Expression string }
		require.NoError(t, json.Unmarshal(tk.Solution.Calls[0].Arguments, &a))
		arithExprs[a.Expression] = true
	}
	calc := calculator.New()
	wordings := map[string]int{}
	for _, tk := range append(train, test...) {
		require.NoError(t, tk.Validate(), tk.ID)
		assert.Equal(t, Arith2, tk.Suite)
		assert.Equal(t, TaskID(Arith2, tk.Question), tk.ID)
		require.Len(t, tk.Solution.Calls, 1)
		var a struct{ Expression string }
		require.NoError(t, json.Unmarshal(tk.Solution.Calls[0].Arguments, &a))
		obs, err := calc.Call(t.Context(), string(tk.Solution.Calls[0].Arguments))
		require.NoError(t, err)
		assert.Equal(t, tk.Answer, obs, tk.Question)
		// The expression is verbatim in one of the wordings, and the split is
		// that of the arith question with the same expression.
		found := false
		for _, w := range arithWordings {
			if fmt.Sprintf(w, a.Expression) == tk.Question {
				wordings[w]++
				found = true
			}
		}
		assert.True(t, found, "%q is not a wording of %q", tk.Question, a.Expression)
		assert.Equal(t, SplitOf("What is "+a.Expression+"?"), tk.Split, tk.Question)
		if tk.Split == Test {
			assert.False(t, arithExprs[a.Expression], "test expression %q is in arith's training split", a.Expression)
		}
	}
	assert.Len(t, wordings, len(arithWordings), "every wording is used")
}

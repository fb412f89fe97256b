package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/tools/netsafe"
)

var loopbackOK = &netsafe.Policy{AllowLoopback: true}

type echoed struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   map[string][]string `json:"query"`
	Headers map[string]string   `json:"headers"`
	Body    string              `json:"body"`
}

// echoServer answers with what it received, and counts its requests.
func echoServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		e := echoed{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: string(body), Headers: map[string]string{}}
		for _, h := range []string{"Authorization", "X-Trace", "Content-Type", "Accept"} {
			if v := r.Header.Get(h); v != "" {
				e.Headers[h] = v
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func env(m map[string]string) Option {
	return WithGetenv(func(k string) string { return m[k] })
}

// decode reads the JSON body of an observation ("HTTP 200 OK\n{…}").
func decode(t *testing.T, obs string) echoed {
	t.Helper()
	status, body, ok := strings.Cut(obs, "\n")
	require.True(t, ok, obs)
	require.Equal(t, "HTTP 200 OK", status)
	var e echoed
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	return e
}

func callTool(t *testing.T, tool *Tool, input string) string {
	t.Helper()
	out, err := tool.Call(context.Background(), input)
	require.NoError(t, err, "tool failures are observations")
	return out
}

func TestTemplatesEscapingAndSecrets(t *testing.T) {
	srv, _ := echoServer(t)
	red := redact.Default()
	tool, err := New(Spec{
		Name:    "get_user",
		URL:     srv.URL + "/users/{id}/items",
		Query:   map[string]string{"q": "{q}", "lang": "en", "tag": "{tags}", "key": "${API_KEY}"},
		Headers: map[string]string{"Authorization": "Bearer ${API_TOKEN}", "X-Trace": "{trace}"},
		Schema: json.RawMessage(`{"type":"object","properties":{
			"id":{"type":"string"},"q":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}},"trace":{"type":"string"}},
			"required":["id"],"additionalProperties":false}`),
	}, WithPolicy(loopbackOK), WithRedactor(red), env(map[string]string{"API_TOKEN": "tok-123456", "API_KEY": "key-abcdef"}))
	require.NoError(t, err)

	obs := callTool(t, tool, `{"id":"a/b c","q":"x&y=1","tags":["t1","t2"]}`)
	assert.Contains(t, obs, "[REDACTED]", "secrets echoed by the server do not reach the model")
	assert.NotContains(t, obs, "tok-123456")
	assert.NotContains(t, obs, "key-abcdef")
	e := decode(t, obs)
	assert.Equal(t, "GET", e.Method)
	assert.Equal(t, "/users/a%2Fb%20c/items", e.Path, "arguments are path-escaped")
	assert.Equal(t, []string{"x&y=1"}, e.Query["q"], "a query argument cannot add parameters")
	assert.Equal(t, []string{"t1", "t2"}, e.Query["tag"], "arrays repeat the parameter")
	assert.Equal(t, []string{"en"}, e.Query["lang"])
	assert.Equal(t, []string{"[REDACTED]"}, e.Query["key"])
	assert.Equal(t, "Bearer [REDACTED]", e.Headers["Authorization"])
	assert.NotContains(t, e.Headers, "X-Trace", "a header whose argument is missing is left out")

	e = decode(t, callTool(t, tool, `{"id":"..","trace":"abc"}`))
	assert.Equal(t, "/users/%2E%2E/items", e.Path, "an argument cannot climb the path")
	assert.Equal(t, "abc", e.Headers["X-Trace"])
	assert.NotContains(t, e.Query, "q", "a missing query argument is left out")

	// The secrets are registered with the audit redactor.
	assert.Equal(t, "token [REDACTED:secret]", red.String("token tok-123456"))
	assert.ElementsMatch(t, []string{"tok-123456", "key-abcdef"}, tool.Secrets())
	spec := tool.ToolSpec()
	assert.Equal(t, []string{"read-only", "egress", "secret"}, spec.Tags)
	assert.Contains(t, string(spec.Parameters), `"required":["id"]`)
}

func TestQueryInTheURLTemplateIsEscaped(t *testing.T) {
	srv, _ := echoServer(t)
	tool, err := New(Spec{Name: "search", URL: srv.URL + "/search?q={q}&n=5"}, WithPolicy(loopbackOK))
	require.NoError(t, err)
	e := decode(t, callTool(t, tool, `{"q":"a&admin=1 #x"}`))
	assert.Equal(t, []string{"a&admin=1 #x"}, e.Query["q"])
	assert.Equal(t, []string{"5"}, e.Query["n"])
	assert.NotContains(t, e.Query, "admin")
	// A single string argument may be given bare (ReAct style).
	e = decode(t, callTool(t, tool, `golang tools`))
	assert.Equal(t, []string{"golang tools"}, e.Query["q"])
}

func TestSchemaValidation(t *testing.T) {
	srv, hits := echoServer(t)
	tool, err := New(Spec{
		Name: "get_item", URL: srv.URL + "/items/{id}",
		Schema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer","minimum":1},"verbose":{"type":"boolean"}},"required":["id"],"additionalProperties":false}`),
	}, WithPolicy(loopbackOK))
	require.NoError(t, err)
	for input, want := range map[string]string{
		`{"id":"seven"}`:        "get_item: invalid arguments: at /id: got string, want integer",
		`{}`:                    "get_item: invalid arguments: at (top level): missing property 'id'",
		`{"id":0}`:              "get_item: invalid arguments: at /id: minimum: got 0, want 1",
		`{"id":3,"extra":true}`: "get_item: invalid arguments: at (top level): additional properties 'extra' not allowed",
		`{"id":3`:               "get_item: invalid arguments: not a JSON object",
		`[1,2]`:                 "get_item: invalid arguments: expected a JSON object matching the tool's schema",
	} {
		assert.Contains(t, callTool(t, tool, input), want, input)
	}
	assert.Zero(t, hits.Load(), "invalid arguments never reach the server")
	e := decode(t, callTool(t, tool, `{"id":42,"verbose":true}`))
	assert.Equal(t, "/items/42", e.Path)
}

func TestBodies(t *testing.T) {
	srv, _ := echoServer(t)
	tmpl, err := New(Spec{
		Name: "create", Method: "post", URL: srv.URL + "/notes",
		Body:   `{"note": {"title": {title}, "count": {count}, "tags": {tags}}}`,
		Schema: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"count":{"type":"integer"},"tags":{"type":"array"}},"required":["title"]}`),
	}, WithPolicy(loopbackOK))
	require.NoError(t, err)
	e := decode(t, callTool(t, tmpl, `{"title":"say \"hi\" {x}","count":3}`))
	assert.Equal(t, "POST", e.Method)
	assert.Equal(t, "application/json", e.Headers["Content-Type"])
	assert.JSONEq(t, `{"note":{"title":"say \"hi\" {x}","count":3,"tags":null}}`, e.Body)
	assert.Equal(t, []string{"egress", "risky"}, tmpl.ToolSpec().Tags)

	plain, err := New(Spec{Name: "update", Method: "PUT", URL: srv.URL + "/notes/{id}"}, WithPolicy(loopbackOK))
	require.NoError(t, err)
	// Without a body template the arguments not used in the URL are the body.
	_, err = New(Spec{Name: "update2", Method: "PUT", URL: srv.URL + "/notes/{id}",
		Schema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"text":{"type":"string"}}}`)}, WithPolicy(loopbackOK))
	require.NoError(t, err)
	e = decode(t, callTool(t, plain, `{"id":"n1"}`))
	assert.Equal(t, "/notes/n1", e.Path)
	assert.Equal(t, "", e.Body, "nothing left for the body")
	upd, _ := New(Spec{Name: "update3", Method: "PUT", URL: srv.URL + "/notes/{id}",
		Schema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"text":{"type":"string"}}}`)}, WithPolicy(loopbackOK))
	e = decode(t, callTool(t, upd, `{"id":"n1","text":"hello"}`))
	assert.JSONEq(t, `{"text":"hello"}`, e.Body)
}

func TestResponseTrimmingAndLimits(t *testing.T) {
	long := strings.Repeat("x", 2000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/list":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			items := make([]map[string]any, 100)
			for i := range items {
				items[i] = map[string]any{"id": i, "name": fmt.Sprintf("item <%d>", i)}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"items": items, "blob": long})
		case "/big":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, strings.Repeat("abcdefghij", 500))
		case "/missing":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":  "no such thing"}`)
		}
	}))
	defer srv.Close()
	tools, err := FromSpecs([]Spec{
		{Name: "list", URL: srv.URL + "/list"},
		{Name: "big", URL: srv.URL + "/big"},
		{Name: "missing", URL: srv.URL + "/missing"},
	}, WithPolicy(loopbackOK), WithMaxResponseBytes(1000))
	require.NoError(t, err)

	obs := callTool(t, tools[0], `{}`)
	// The response is larger than 1000 bytes: read raw, cut, and said so.
	assert.Contains(t, obs, "[Response larger than 1000 bytes: only the first 1000 bytes were read.]")

	tools, err = FromSpecs([]Spec{{Name: "list", URL: srv.URL + "/list"}, {Name: "big", URL: srv.URL + "/big"}, {Name: "missing", URL: srv.URL + "/missing"}},
		WithPolicy(loopbackOK), WithMaxObservation(1500))
	require.NoError(t, err)
	obs = callTool(t, tools[0], `{}`)
	assert.True(t, strings.HasPrefix(obs, "HTTP 200 OK\n{\"blob\":\"xxx"), obs[:40])
	assert.Contains(t, obs, "… (2000 characters in all)")
	assert.Contains(t, obs, `"… 80 more items"`)
	assert.Contains(t, obs, `"name":"item <19>"`, "compact JSON without HTML escaping")
	assert.NotContains(t, obs, `item <20>`)
	assert.Contains(t, obs, "[Long arrays and strings were shortened")

	obs = callTool(t, tools[1], `{}`)
	assert.Contains(t, obs, "[Response cut: showing the first 1500 of 5000 characters.]")

	assert.Equal(t, "HTTP 404 Not Found\n{\"error\":\"no such thing\"}", callTool(t, tools[2], `{}`))
}

func TestTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	tool, err := New(Spec{Name: "slow", URL: srv.URL + "/", Timeout: "300ms"}, WithPolicy(loopbackOK))
	require.NoError(t, err)
	assert.Equal(t, "slow: request timed out after 300ms", callTool(t, tool, `{}`))
}

// listenOn starts a server on a specific loopback address.
func listenOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

type fixedResolver map[string]string

func (r fixedResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestSSRFIsRefused(t *testing.T) {
	inner, innerHits := echoServer(t) // on 127.0.0.1: loopback, refused below
	u, _ := url.Parse(inner.URL)
	// A server on 127.0.0.2, allowed by CIDR, that redirects to 127.0.0.1.
	front := listenOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL+"/admin", http.StatusFound)
	}))
	policy := &netsafe.Policy{
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Resolver:   fixedResolver{"rebind.example": "127.0.0.1", "ok.example": "127.0.0.2"},
	}
	specs := []Spec{
		{Name: "direct", URL: inner.URL + "/admin"},
		{Name: "decimal", URL: "http://2130706433:" + u.Port() + "/admin"},
		{Name: "metadata", URL: "http://169.254.169.254/latest/meta-data/{path}"},
		{Name: "gcp", URL: "http://metadata.google.internal/computeMetadata/v1/"},
		{Name: "rebind", URL: "http://rebind.example:" + u.Port() + "/admin"},
		{Name: "redirect", URL: front.URL + "/go"},
		{Name: "ipv6", URL: "http://[::ffff:127.0.0.1]:" + u.Port() + "/admin"},
	}
	tools, err := FromSpecs(specs, WithPolicy(policy))
	require.NoError(t, err)
	for _, tool := range tools {
		input := `{}`
		if tool.Name() == "metadata" {
			input = `{"path":"iam"}`
		}
		obs := callTool(t, tool, input)
		assert.Contains(t, obs, tool.Name()+": blocked by the network policy", tool.Name())
	}
	assert.Zero(t, innerHits.Load(), "the loopback server was never reached")

	// The default policy (no WithPolicy) refuses loopback as well.
	def, err := New(Spec{Name: "def", URL: inner.URL + "/x"})
	require.NoError(t, err)
	assert.Contains(t, callTool(t, def, `{}`), "blocked by the network policy")
	assert.Zero(t, innerHits.Load())
}

func TestBadSpecs(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		opts []Option
		msg  string
	}{
		{Spec{Name: "bad name!", URL: "https://a.example/"}, nil, `tool name "bad name!"`},
		{Spec{Name: "x", URL: "https://{host}/a"}, nil, "placeholders are allowed only in the path and query"},
		{Spec{Name: "x", URL: "https://api.example.com{path}"}, nil, "placeholders are allowed only in the path and query"},
		{Spec{Name: "x", URL: "ftp://a.example/f"}, nil, "want an absolute http or https URL"},
		{Spec{Name: "x", URL: "/relative"}, nil, "want an absolute http or https URL"},
		{Spec{Name: "x", URL: "https://a.example/", Body: "{a}"}, nil, "a GET request has no body"},
		{Spec{Name: "x", Method: "TRACE", URL: "https://a.example/"}, nil, `unsupported method "TRACE"`},
		{Spec{Name: "x", URL: "https://a.example/{id}", Schema: json.RawMessage(`{"type":"object","properties":{"other":{"type":"string"}}}`)}, nil, "placeholder {id} is not a property of the schema"},
		{Spec{Name: "x", URL: "https://a.example/", Schema: json.RawMessage(`{"type":"array"}`)}, nil, "the arguments must be an object"},
		{Spec{Name: "x", URL: "https://a.example/", Schema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"nope"}}}`)}, nil, "schema:"},
		{Spec{Name: "x", URL: "https://a.example/", Headers: map[string]string{"Authorization": "Bearer ${NO_SUCH_TOKEN}"}}, []Option{env(nil)}, "environment variable NO_SUCH_TOKEN is not set"},
		{Spec{Name: "x", URL: "https://a.example/", Headers: map[string]string{"Bad Header": "v"}}, nil, `bad header name "Bad Header"`},
		{Spec{Name: "x", URL: "https://a.example/", Timeout: "soon"}, nil, `bad timeout "soon"`},
	} {
		_, err := New(c.spec, c.opts...)
		require.Error(t, err, c.msg)
		assert.Contains(t, err.Error(), c.msg)
	}
	_, err := FromSpecs([]Spec{{Name: "a", URL: "https://a.example/"}, {Name: "a", URL: "https://b.example/"}})
	assert.ErrorContains(t, err, `two tools are named "a"`)
}

func TestParseSpecsYAML(t *testing.T) {
	specs, err := ParseSpecs([]byte(`
tools:
  - name: weather
    description: Current weather for a city.
    url: https://api.example.com/weather/{city}
    query: {units: metric}
    headers: {Authorization: "Bearer ${WEATHER_TOKEN}"}
    schema:
      type: object
      properties: {city: {type: string}}
      required: [city]
    tags: [read-only]
    timeout: 5s
`))
	require.NoError(t, err)
	require.Len(t, specs, 1)
	assert.Equal(t, "weather", specs[0].Name)
	assert.JSONEq(t, `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`, string(specs[0].Schema))
	tool, err := New(specs[0], env(map[string]string{"WEATHER_TOKEN": "w-secret"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"read-only"}, tool.ToolSpec().Tags)

	_, err = ParseSpecs([]byte(`[{"name":"a","url":"https://a.example/","bogus":1}]`))
	assert.ErrorContains(t, err, `unknown field "bogus"`)
	_, err = ParseSpecs([]byte(`{"name":"a"}`))
	assert.ErrorContains(t, err, `"tools" list`)
	_, err = ParseSpecs(nil)
	assert.ErrorContains(t, err, "empty document")
}

// Fuzz targets. Run longer with, e.g.:
//   go test ./tools/httpapi -run XXX -fuzz FuzzTemplate -fuzztime 30s
//   (also FuzzTrimJSON, FuzzOpenAPI, FuzzParseSpecs)

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"https://a/{id}?q={q}", `{"a": {x}, "b": "{y}"}`, "${TOKEN}", "{", "}{", "{a.b-c}", "${}", "${A", "{0}", "$${X}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm := parseTemplate(s)
		resolved, _, _ := tm.resolveEnv(func(string) string { return "v" })
		out, err := resolved.render(func(name string) (string, error) { return "{" + name + "}", nil })
		if err != nil {
			t.Fatal(err)
		}
		// With placeholders rendered as themselves and env as "v", the text
		// round-trips apart from the ${…} references.
		if !resolved.hasEnv() && !tm.hasEnv() && out != s {
			t.Fatalf("round trip: %q -> %q", s, out)
		}
		for _, p := range tm.params() {
			if !validPlaceholder(p) {
				t.Fatalf("bad placeholder %q from %q", p, s)
			}
		}
		_, _ = renderURL(resolved, map[string]any{})
		_ = checkURLTemplate(resolved)
	})
}

func FuzzTrimJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,3],"b":"xxxx"}`, `[[[[[]]]]]`, `"str"`, `1e999`, `{"a":`, `null`, `[1] [2]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, _, err := TrimJSON([]byte(s), Trim{MaxItems: 2, MaxString: 3, MaxFields: 2, MaxDepth: 3})
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("trimmed output is not JSON: %q from %q", out, s)
		}
	})
}

func FuzzOpenAPI(f *testing.F) {
	f.Add(petstore)
	f.Add(`openapi: "3.0.0"
paths: {"/a/{b}": {get: {parameters: [{name: b, in: path}]}}}`)
	f.Add(`{"openapi":"3.1.0","paths":{"/x":{"post":{"requestBody":{"$ref":"#/x"}}}}}`)
	f.Add(`openapi: 3.0.0
components: {schemas: {A: {$ref: "#/components/schemas/A"}}}
paths: {/a: {post: {requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/A"}}}}}}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		_, _ = OpenAPISpecs([]byte(doc), WithBaseURL("https://api.example.com"), WithSkipUnsupported())
		_, _ = FromOpenAPI([]byte(doc), WithBaseURL("https://api.example.com"))
	})
}

func FuzzParseSpecs(f *testing.F) {
	f.Add(`[{"name":"a","url":"https://a.example/{x}"}]`)
	f.Add("tools:\n  - name: a\n    url: https://a/\n    schema: {type: object}\n")
	f.Add("&a [*a, *a]")
	f.Fuzz(func(t *testing.T, doc string) {
		specs, err := ParseSpecs([]byte(doc))
		if err != nil {
			return
		}
		_, _ = FromSpecs(specs, WithGetenv(func(string) string { return "x" }))
	})
}

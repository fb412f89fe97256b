// Package httpapi turns HTTP API endpoints into agent tools, declared by
// hand (a Spec: method, URL template, query, headers, body template and a
// JSON schema for the arguments) or built from an OpenAPI 3 document, one
// tool per operation. Arguments are validated against the schema before any
// request; requests go through a netsafe policy; responses are cut to a
// size the model can use.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/reagent-go/reagent/internal/trunc"
	"github.com/reagent-go/reagent/tools/netsafe"
	"github.com/reagent-go/reagent/trajectory"
)

// Spec declares one API tool.
type Spec struct {
	// Name is the tool's name: letters, digits, _ and -, at most 64.
	Name string `json:"name"`
	// Description tells the model what the tool does.
	Description string `json:"description,omitempty"`
	// Method is GET (default), POST, PUT, PATCH, DELETE or HEAD.
	Method string `json:"method,omitempty"`
	// URL is an absolute http(s) URL; {param} placeholders in its path are
	// filled with path-escaped arguments, ${VAR} with environment values.
	URL string `json:"url"`
	// Query maps parameter names to templates ("{q}", "en", "${KEY}"). A
	// parameter whose arguments are all missing is left out; an array
	// argument repeats the parameter.
	Query map[string]string `json:"query,omitempty"`
	// Headers maps header names to templates, e.g.
	// "Authorization": "Bearer ${API_TOKEN}".
	Headers map[string]string `json:"headers,omitempty"`
	// Body is a template for POST, PUT, PATCH and DELETE bodies; each
	// {param} becomes the argument's JSON encoding. Without it, the
	// arguments not used in the URL, query or headers are sent as a JSON
	// object.
	Body string `json:"body,omitempty"`
	// Schema is the JSON schema of the arguments object. Without it, every
	// placeholder is a string argument and the path placeholders are
	// required.
	Schema json.RawMessage `json:"schema,omitempty"`
	// Tags classify the tool for guardrails. Default: "read-only" and
	// "egress" for GET and HEAD, "egress" and "risky" for the others, plus
	// "secret" when the tool reads ${VARS}.
	Tags []string `json:"tags,omitempty"`
	// Timeout bounds one call ("10s"); the option WithTimeout otherwise.
	Timeout string `json:"timeout,omitempty"`
}

// Tool is one API endpoint as a langchaingo tool and trajectory.Specifier.
type Tool struct {
	spec    Spec
	method  string
	url     template
	query   []namedTemplate
	headers []namedTemplate
	body    template
	schema  *jsonschema.Schema
	params  json.RawMessage
	tags    []string
	secrets []string
	used    map[string]bool // arguments consumed by the URL, query or headers
	single  string          // the one string argument a bare input fills
	timeout time.Duration
	client  *http.Client
	cfg     config
}

type namedTemplate struct {
	name string
	t    template
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// New builds one tool from a spec. It fails when the spec is invalid, when
// a ${VAR} it reads is not set, or when its schema does not compile.
func New(spec Spec, opts ...Option) (*Tool, error) {
	tools, err := FromSpecs([]Spec{spec}, opts...)
	if err != nil {
		return nil, err
	}
	return tools[0], nil
}

// FromSpecs builds tools that share one HTTP client and policy.
func FromSpecs(specs []Spec, opts ...Option) ([]*Tool, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	client := newClient(cfg)
	out := make([]*Tool, 0, len(specs))
	seen := map[string]bool{}
	for _, s := range specs {
		t, err := build(s, cfg, client)
		if err != nil {
			return nil, err
		}
		if seen[t.spec.Name] {
			return nil, fmt.Errorf("httpapi: two tools are named %q", t.spec.Name)
		}
		seen[t.spec.Name] = true
		out = append(out, t)
	}
	return out, nil
}

func newClient(cfg config) *http.Client {
	p := cfg.policy
	if p == nil {
		p = &netsafe.Policy{}
	}
	// The per-call context carries each tool's own timeout.
	return p.HTTPClient(0)
}

func build(s Spec, cfg config, client *http.Client) (*Tool, error) {
	if !validName.MatchString(s.Name) {
		return nil, fmt.Errorf("httpapi: tool name %q: use 1 to 64 letters, digits, _ or -", s.Name)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("httpapi: tool %s: %s", s.Name, fmt.Sprintf(format, args...))
	}
	t := &Tool{spec: s, client: client, cfg: cfg, used: map[string]bool{}, timeout: cfg.timeout}
	t.method = strings.ToUpper(strings.TrimSpace(s.Method))
	if t.method == "" {
		t.method = http.MethodGet
	}
	switch t.method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil, fail("unsupported method %q", s.Method)
	}
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil || d <= 0 {
			return nil, fail("bad timeout %q", s.Timeout)
		}
		t.timeout = d
	}

	resolve := func(what, raw string) (template, error) {
		tm, used, err := parseTemplate(raw).resolveEnv(cfg.getenv)
		if err != nil {
			return template{}, fail("%s: %v", what, err)
		}
		t.secrets = append(t.secrets, used...)
		return tm, nil
	}
	var err error
	if t.url, err = resolve("url", s.URL); err != nil {
		return nil, err
	}
	if err := checkURLTemplate(t.url); err != nil {
		return nil, fail("%v", err)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Query)) {
		tm, err := resolve("query "+name, s.Query[name])
		if err != nil {
			return nil, err
		}
		t.query = append(t.query, namedTemplate{name, tm})
	}
	headers := map[string]string{}
	for k, v := range cfg.headers {
		headers[k] = v
	}
	for k, v := range s.Headers {
		headers[k] = v
	}
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		if !validHeaderName(name) {
			return nil, fail("bad header name %q", name)
		}
		if strings.ContainsAny(headers[name], "\r\n") {
			return nil, fail("header %s: line breaks are not allowed", name)
		}
		tm, err := resolve("header "+name, headers[name])
		if err != nil {
			return nil, err
		}
		t.headers = append(t.headers, namedTemplate{http.CanonicalHeaderKey(name), tm})
	}
	if s.Body != "" {
		if t.method == http.MethodGet || t.method == http.MethodHead {
			return nil, fail("a %s request has no body", t.method)
		}
		if t.body, err = resolve("body", s.Body); err != nil {
			return nil, err
		}
	}
	var pathParams []string
	for _, p := range t.url.params() {
		t.used[p] = true
		pathParams = append(pathParams, p)
	}
	for _, q := range t.query {
		for _, p := range q.t.params() {
			t.used[p] = true
		}
	}
	for _, h := range t.headers {
		for _, p := range h.t.params() {
			t.used[p] = true
		}
	}
	if cfg.redactor != nil {
		cfg.redactor.AddSecrets(t.secrets...)
	}

	// The arguments schema: the spec's own, or one derived from the
	// placeholders.
	placeholders := append([]string(nil), pathParams...)
	for p := range t.used {
		if !slices.Contains(placeholders, p) {
			placeholders = append(placeholders, p)
		}
	}
	for _, p := range t.body.params() {
		if !slices.Contains(placeholders, p) {
			placeholders = append(placeholders, p)
		}
	}
	sort.Strings(placeholders[len(pathParams):])
	params := s.Schema
	if len(bytes.TrimSpace(params)) == 0 {
		params = derivedSchema(placeholders, pathParams)
	}
	props, err := checkSchema(params, placeholders)
	if err != nil {
		return nil, fail("%v", err)
	}
	if t.schema, err = compileSchema(s.Name, params); err != nil {
		return nil, fail("schema: %v", err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, params); err != nil {
		return nil, fail("schema: %v", err)
	}
	t.params = compact.Bytes()
	var strs []string
	for name, typ := range props {
		if typ == "string" {
			strs = append(strs, name)
		}
	}
	if len(strs) == 1 {
		t.single = strs[0]
	}

	t.tags = s.Tags
	if len(t.tags) == 0 {
		if t.method == http.MethodGet || t.method == http.MethodHead {
			t.tags = []string{"read-only", "egress"}
		} else {
			t.tags = []string{"egress", "risky"}
		}
		if len(t.secrets) > 0 {
			t.tags = append(t.tags, "secret")
		}
	}
	return t, nil
}

func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// checkURLTemplate requires an absolute http(s) URL whose scheme and host
// are fixed: arguments may only fill in the path and the query, so a model
// cannot point the tool at another host.
func checkURLTemplate(t template) error {
	prefix := t.literalPrefix()
	scheme, rest, ok := strings.Cut(prefix, "://")
	if !ok || (!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https")) {
		if len(t.params()) > 0 && !strings.Contains(prefix, "://") {
			return errors.New("url: placeholders are allowed only in the path and query, after a fixed http(s)://host")
		}
		return fmt.Errorf("url %q: want an absolute http or https URL", prefix)
	}
	if len(t.params()) > 0 && !strings.ContainsAny(rest, "/?") {
		return errors.New("url: placeholders are allowed only in the path and query, after a fixed http(s)://host")
	}
	host, _, _ := strings.Cut(rest, "/")
	host, _, _ = strings.Cut(host, "?")
	if host == "" {
		return errors.New("url: no host")
	}
	if _, err := url.Parse(strings.ReplaceAll(prefix, " ", "%20")); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	return nil
}

func derivedSchema(all, required []string) json.RawMessage {
	props := map[string]any{}
	for _, p := range all {
		props[p] = map[string]any{"type": "string"}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	b, _ := json.Marshal(s)
	return b
}

// checkSchema requires an object schema that declares every placeholder,
// and returns the declared properties with their types.
func checkSchema(raw json.RawMessage, placeholders []string) (map[string]string, error) {
	var s struct {
		Type       any                        `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("schema is not a JSON object: %w", err)
	}
	if s.Type != nil && s.Type != "object" {
		return nil, fmt.Errorf(`schema: the arguments must be an object ("type": "object"), not %v`, s.Type)
	}
	props := map[string]string{}
	for name, p := range s.Properties {
		var pt struct {
			Type any `json:"type"`
		}
		_ = json.Unmarshal(p, &pt)
		typ, _ := pt.Type.(string)
		props[name] = typ
	}
	for _, p := range placeholders {
		if _, ok := props[p]; !ok {
			return nil, fmt.Errorf("placeholder {%s} is not a property of the schema", p)
		}
	}
	return props, nil
}

func compileSchema(name string, raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	loc := "mem://httpapi/" + name + ".json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	return c.Compile(loc)
}

// Name returns the tool's name.
func (t *Tool) Name() string { return t.spec.Name }

// Description returns the spec's description, or the method and URL.
func (t *Tool) Description() string {
	if d := strings.TrimSpace(t.spec.Description); d != "" {
		return d
	}
	return fmt.Sprintf("Calls %s %s. Input: a JSON object of arguments.", t.method, t.spec.URL)
}

// ToolSpec describes the tool with its tags and its arguments' schema.
func (t *Tool) ToolSpec() trajectory.ToolSpec {
	return trajectory.ToolSpec{
		Name:        t.Name(),
		Description: t.Description(),
		Tags:        append([]string(nil), t.tags...),
		Parameters:  append(json.RawMessage(nil), t.params...),
	}
}

// Secrets returns the values the tool read from the environment, so they
// can be registered with a redactor (WithRedactor does it at build time).
func (t *Tool) Secrets() []string { return append([]string(nil), t.secrets...) }

// Method returns the HTTP method.
func (t *Tool) Method() string { return t.method }

// Call validates the arguments, sends the request and returns the
// response, shortened for the model. Every failure (invalid arguments, a
// refused address, a timeout, an HTTP error status) comes back as the
// observation with a nil error; Call never returns a non-nil error.
func (t *Tool) Call(ctx context.Context, input string) (string, error) {
	return t.redactSecrets(t.call(ctx, input)), nil
}

func (t *Tool) call(ctx context.Context, input string) string {
	args, err := t.parseArgs(input)
	if err != nil {
		return t.spec.Name + ": " + err.Error()
	}
	req, err := t.request(ctx, args)
	if err != nil {
		return t.spec.Name + ": " + err.Error()
	}
	cctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	resp, err := t.client.Do(req.WithContext(cctx))
	if err != nil {
		switch {
		case errors.Is(err, netsafe.ErrBlocked):
			return fmt.Sprintf("%s: blocked by the network policy: %v", t.spec.Name, err)
		case cctx.Err() != nil && ctx.Err() == nil:
			return fmt.Sprintf("%s: request timed out after %s", t.spec.Name, t.timeout)
		case ctx.Err() != nil:
			return fmt.Sprintf("%s: cancelled: %v", t.spec.Name, ctx.Err())
		}
		return fmt.Sprintf("%s: request failed: %v", t.spec.Name, err)
	}
	defer resp.Body.Close()
	return t.observe(cctx, resp)
}

// parseArgs reads the input as a JSON object and validates it. A bare
// string is accepted for tools with a single string argument.
func (t *Tool) parseArgs(input string) (map[string]any, error) {
	s := strings.TrimSpace(input)
	if s == "" {
		s = "{}"
	}
	var v any
	if strings.HasPrefix(s, "{") {
		var err error
		v, err = jsonschema.UnmarshalJSON(strings.NewReader(s))
		if err != nil {
			return nil, fmt.Errorf("invalid arguments: not a JSON object: %v", err)
		}
	} else if t.single != "" {
		v = map[string]any{t.single: s}
	} else {
		return nil, fmt.Errorf("invalid arguments: expected a JSON object matching the tool's schema, got %q", truncate(s, 80))
	}
	args, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("invalid arguments: expected a JSON object")
	}
	if err := t.schema.Validate(v); err != nil {
		return nil, fmt.Errorf("invalid arguments: %s", validationMessage(err))
	}
	return args, nil
}

// validationMessage flattens a jsonschema error into short lines the model
// can act on.
func validationMessage(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var lines []string
	var walk func(u jsonschema.OutputUnit)
	walk = func(u jsonschema.OutputUnit) {
		if u.Error != nil {
			loc := u.InstanceLocation
			if loc == "" {
				loc = "(top level)"
			}
			lines = append(lines, fmt.Sprintf("at %s: %s", loc, u.Error.String()))
		}
		for _, e := range u.Errors {
			walk(e)
		}
	}
	walk(*ve.BasicOutput())
	if len(lines) == 0 {
		return ve.Error()
	}
	if len(lines) > 8 {
		lines = append(lines[:8], fmt.Sprintf("and %d more", len(lines)-8))
	}
	return strings.Join(lines, "; ")
}

// scalar renders an argument for a URL, query or header.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// pathEscape escapes an argument for one path segment; "." and ".." are
// escaped too, so an argument cannot climb the path.
func pathEscape(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}

// renderURL fills the URL template: path-escaped in the path, query-escaped
// after the "?", so an argument cannot add path segments or parameters.
func renderURL(t template, args map[string]any) (string, error) {
	var b strings.Builder
	inQuery := false
	for _, p := range t.parts {
		if p.param == "" {
			b.WriteString(p.lit)
			if strings.ContainsAny(p.lit, "?#") {
				inQuery = true
			}
			continue
		}
		v, ok := args[p.param]
		if !ok || v == nil {
			return "", fmt.Errorf("missing argument %q for the URL", p.param)
		}
		if inQuery {
			b.WriteString(url.QueryEscape(scalar(v)))
		} else {
			b.WriteString(pathEscape(scalar(v)))
		}
	}
	return b.String(), nil
}

func (t *Tool) request(ctx context.Context, args map[string]any) (*http.Request, error) {
	u, err := renderURL(t.url, args)
	if err != nil {
		return nil, err
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("building the URL: %w", err)
	}
	q := parsed.Query()
	for _, qp := range t.query {
		if p, ok := qp.t.only(); ok {
			v, present := args[p]
			if !present || v == nil {
				continue
			}
			if arr, ok := v.([]any); ok {
				for _, e := range arr {
					q.Add(qp.name, scalar(e))
				}
				continue
			}
			q.Add(qp.name, scalar(v))
			continue
		}
		missing := 0
		val, _ := qp.t.render(func(name string) (string, error) {
			v, ok := args[name]
			if !ok || v == nil {
				missing++
			}
			return scalar(v), nil
		})
		if missing > 0 && missing == len(qp.t.params()) {
			continue
		}
		q.Add(qp.name, val)
	}
	parsed.RawQuery = q.Encode()

	var body io.Reader
	var bodyJSON bool
	switch t.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		var data []byte
		if !t.body.empty() {
			s, err := t.body.render(func(name string) (string, error) {
				b, err := json.Marshal(args[name])
				return string(b), err
			})
			if err != nil {
				return nil, fmt.Errorf("building the body: %w", err)
			}
			data = []byte(s)
			bodyJSON = json.Valid(data)
		} else {
			rest := map[string]any{}
			for k, v := range args {
				if !t.used[k] {
					rest[k] = v
				}
			}
			if len(rest) > 0 {
				if data, err = json.Marshal(rest); err != nil {
					return nil, fmt.Errorf("building the body: %w", err)
				}
				bodyJSON = true
			}
		}
		if data != nil {
			body = bytes.NewReader(data)
		}
	}
	req, err := http.NewRequestWithContext(ctx, t.method, parsed.String(), body)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	for _, h := range t.headers {
		if p, ok := h.t.only(); ok {
			if v, present := args[p]; !present || v == nil {
				continue
			}
		}
		val, _ := h.t.render(func(name string) (string, error) { return scalar(args[name]), nil })
		if strings.ContainsAny(val, "\r\n") {
			return nil, fmt.Errorf("argument for header %s contains a line break", h.name)
		}
		req.Header.Set(h.name, val)
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		if bodyJSON {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json, text/plain;q=0.9, */*;q=0.5")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "reagent-httpapi/1")
	}
	return req, nil
}

// observe renders the response for the model: the status line, then the
// body (JSON compacted and trimmed), cut to the observation size.
func (t *Tool) observe(ctx context.Context, resp *http.Response) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "HTTP %s\n", resp.Status)
	if t.method == http.MethodHead {
		for _, h := range []string{"Content-Type", "Content-Length", "Last-Modified", "Etag"} {
			if v := resp.Header.Get(h); v != "" {
				fmt.Fprintf(&sb, "%s: %s\n", h, v)
			}
		}
		return strings.TrimRight(sb.String(), "\n")
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, t.cfg.maxBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Sprintf("%s: request timed out after %s while reading the response", t.spec.Name, t.timeout)
		}
		return fmt.Sprintf("%s: reading the response failed: %v", t.spec.Name, err)
	}
	tooBig := int64(len(data)) > t.cfg.maxBytes
	if tooBig {
		data = data[:t.cfg.maxBytes]
	}
	var body string
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	isJSON := ct == "application/json" || strings.HasSuffix(ct, "+json")
	trimmed := false
	if !tooBig && (isJSON || looksJSON(data)) {
		if out, cut, err := TrimJSON(data, t.cfg.trim); err == nil {
			body, trimmed = string(out), cut
		}
	}
	if body == "" {
		body = strings.ToValidUTF8(string(data), "�")
	}
	if body == "" {
		body = "(empty body)"
	}
	body, total, cut := trunc.Runes(body, t.cfg.maxObservation)
	sb.WriteString(body)
	switch {
	case tooBig:
		fmt.Fprintf(&sb, "\n[Response larger than %d bytes: only the first %d bytes were read.]", t.cfg.maxBytes, t.cfg.maxBytes)
	case cut:
		fmt.Fprintf(&sb, "\n[Response cut: showing the first %d of %d characters.]", t.cfg.maxObservation, total)
	case trimmed:
		sb.WriteString("\n[Long arrays and strings were shortened; the marks … say how much.]")
	}
	return sb.String()
}

func looksJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// redactSecrets hides the tool's own secrets from the model, in case a
// server echoes them back. Values shorter than 4 bytes are left alone, as
// replacing them would garble the text.
func (t *Tool) redactSecrets(s string) string {
	for _, v := range t.secrets {
		if len(v) < 4 {
			continue
		}
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			if form != "" {
				s = strings.ReplaceAll(s, form, "[REDACTED]")
			}
		}
	}
	return s
}

func truncate(s string, n int) string {
	out, _, cut := trunc.Runes(s, n)
	if cut {
		return out + "…"
	}
	return out
}

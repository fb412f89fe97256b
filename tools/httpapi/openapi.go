package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

var openAPIMethods = []string{"get", "put", "post", "delete", "patch", "head"}

// FromOpenAPI builds one tool per operation of an OpenAPI 3 document (JSON
// or YAML). Path, query and header parameters become arguments; a JSON
// request body becomes the argument "body"; local $refs are inlined. Use
// WithBaseURL for a relative server URL, WithHeader for credentials and
// WithOperations to keep some operations. An operation that cannot be a
// tool (a non-JSON body, a remote $ref) is an error unless
// WithSkipUnsupported is given.
func FromOpenAPI(doc []byte, opts ...Option) ([]*Tool, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	specs, err := openAPISpecs(doc, cfg)
	if err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, errors.New("httpapi: openapi: no operations to turn into tools")
	}
	client := newClient(cfg)
	out := make([]*Tool, 0, len(specs))
	seen := map[string]bool{}
	for _, s := range specs {
		t, err := build(s, cfg, client)
		if err != nil {
			return nil, fmt.Errorf("httpapi: openapi: %w", err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("httpapi: openapi: two operations make the tool name %q", s.Name)
		}
		seen[s.Name] = true
		out = append(out, t)
	}
	return out, nil
}

// OpenAPISpecs returns the specs FromOpenAPI would build, for inspection
// or for editing before New.
func OpenAPISpecs(doc []byte, opts ...Option) ([]Spec, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	return openAPISpecs(doc, cfg)
}

func openAPISpecs(data []byte, cfg config) ([]Spec, error) {
	v, err := decodeDoc(data)
	if err != nil {
		return nil, fmt.Errorf("httpapi: openapi: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("httpapi: openapi: the document is not an object")
	}
	ver, _ := root["openapi"].(string)
	if !strings.HasPrefix(ver, "3.") {
		return nil, fmt.Errorf("httpapi: openapi: want an OpenAPI 3 document (\"openapi\": \"3.x\"), got %q", fmt.Sprint(root["openapi"]))
	}
	base, err := serverURL(root, cfg.baseURL)
	if err != nil {
		return nil, fmt.Errorf("httpapi: openapi: %w", err)
	}
	paths, _ := root["paths"].(map[string]any)
	r := &resolver{root: root}
	var specs []Spec
	var problems []string
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		item, ok := paths[path].(map[string]any)
		if !ok {
			continue
		}
		item, err := r.deref(item)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", path, err))
			continue
		}
		for _, m := range openAPIMethods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			name := operationName(op, m, path)
			if cfg.operations != nil && !cfg.operations[name] && !cfg.operations[fmt.Sprint(op["operationId"])] {
				continue
			}
			s, err := r.operation(base, path, m, name, item, op)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s %s: %v", strings.ToUpper(m), path, err))
				continue
			}
			specs = append(specs, s)
		}
	}
	if len(problems) > 0 {
		if !cfg.skipUnsup {
			return nil, fmt.Errorf("httpapi: openapi: %s (WithSkipUnsupported skips such operations)", strings.Join(problems, "; "))
		}
		for _, p := range problems {
			cfg.logger.Warn("httpapi: openapi: skipped an operation", "problem", p)
		}
	}
	return specs, nil
}

var nonName = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

func operationName(op map[string]any, method, path string) string {
	id, _ := op["operationId"].(string)
	if id == "" {
		id = method + "_" + path
	}
	n := strings.Trim(nonName.ReplaceAllString(id, "_"), "_")
	if n == "" {
		n = method
	}
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// serverURL returns the first server's URL with its variables' defaults,
// resolved against base when relative.
func serverURL(root map[string]any, base string) (string, error) {
	var raw string
	if servers, ok := root["servers"].([]any); ok && len(servers) > 0 {
		if s, ok := servers[0].(map[string]any); ok {
			raw, _ = s["url"].(string)
			if vars, ok := s["variables"].(map[string]any); ok {
				for name, v := range vars {
					if vm, ok := v.(map[string]any); ok {
						raw = strings.ReplaceAll(raw, "{"+name+"}", fmt.Sprint(vm["default"]))
					}
				}
			}
		}
	}
	if strings.Contains(raw, "{") {
		return "", fmt.Errorf("server URL %q has a variable without a default", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("server URL %q: %w", raw, err)
	}
	if !u.IsAbs() {
		if base == "" {
			return "", fmt.Errorf("the server URL %q is relative; pass WithBaseURL", raw)
		}
		b, err := url.Parse(base)
		if err != nil || !b.IsAbs() {
			return "", fmt.Errorf("WithBaseURL %q is not an absolute URL", base)
		}
		u = b.ResolveReference(u)
		if raw == "" {
			u = b
		}
	}
	return strings.TrimRight(u.String(), "/"), nil
}

type resolver struct {
	root map[string]any
}

// deref follows a local $ref ("#/components/…") until it reaches an object.
func (r *resolver) deref(m map[string]any) (map[string]any, error) {
	for range 32 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		target, err := r.lookup(ref)
		if err != nil {
			return nil, err
		}
		next, ok := target.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q is not an object", ref)
		}
		m = next
	}
	return nil, errors.New("$ref chain too long")
}

func (r *resolver) lookup(ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q: only local references (#/…) are supported", ref)
	}
	var cur any = r.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if un, err := url.PathUnescape(tok); err == nil {
			tok = un
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: not found", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q: not found", ref)
		}
	}
	return cur, nil
}

// inline returns a copy of a schema with local $refs replaced by their
// targets; a reference to a schema being inlined (a cycle) becomes an
// open schema.
func (r *resolver) inline(v any, stack []string, depth int) (any, error) {
	if depth > 64 {
		return map[string]any{"description": "(nested too deeply)"}, nil
	}
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			for _, s := range stack {
				if s == ref {
					return map[string]any{"description": "(recursive: " + ref + ")"}, nil
				}
			}
			target, err := r.lookup(ref)
			if err != nil {
				return nil, err
			}
			return r.inline(target, append(stack, ref), depth+1)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			// OpenAPI 3.0 keywords that are not JSON schema.
			if k == "nullable" || k == "example" || k == "xml" || k == "discriminator" || k == "externalDocs" || strings.HasPrefix(k, "x-") {
				continue
			}
			n, err := r.inline(e, stack, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		if nullable, _ := x["nullable"].(bool); nullable {
			if t, ok := out["type"].(string); ok {
				out["type"] = []any{t, "null"}
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := r.inline(e, stack, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	default:
		return v, nil
	}
}

func (r *resolver) operation(base, path, method, name string, item, op map[string]any) (Spec, error) {
	s := Spec{Name: name, Method: strings.ToUpper(method), URL: base + path, Query: map[string]string{}, Headers: map[string]string{}}
	var desc []string
	for _, k := range []string{"summary", "description"} {
		if d, ok := op[k].(string); ok && strings.TrimSpace(d) != "" {
			desc = append(desc, strings.TrimSpace(d))
		}
	}
	s.Description = strings.Join(desc, ". ")
	if s.Description == "" {
		s.Description = fmt.Sprintf("Calls %s %s.", s.Method, path)
	}
	if len(s.Description) > 1024 {
		s.Description = s.Description[:1024]
	}

	props := map[string]any{}
	var required []string
	// Operation parameters override path-item ones with the same name and
	// location.
	params := map[string]map[string]any{}
	var order []string
	for _, list := range []any{item["parameters"], op["parameters"]} {
		arr, _ := list.([]any)
		for _, p := range arr {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			pm, err := r.deref(pm)
			if err != nil {
				return Spec{}, err
			}
			key := fmt.Sprint(pm["in"]) + ":" + fmt.Sprint(pm["name"])
			if _, ok := params[key]; !ok {
				order = append(order, key)
			}
			params[key] = pm
		}
	}
	for _, key := range order {
		pm := params[key]
		pname, _ := pm["name"].(string)
		in, _ := pm["in"].(string)
		if pname == "" {
			return Spec{}, errors.New("a parameter has no name")
		}
		if in == "cookie" {
			continue
		}
		if !validPlaceholder(pname) {
			return Spec{}, fmt.Errorf("parameter name %q cannot be an argument", pname)
		}
		if _, dup := props[pname]; dup {
			return Spec{}, fmt.Errorf("two parameters are named %q", pname)
		}
		var schema any = map[string]any{"type": "string"}
		if sc, ok := pm["schema"]; ok {
			inl, err := r.inline(sc, nil, 0)
			if err != nil {
				return Spec{}, err
			}
			schema = inl
		}
		if sm, ok := schema.(map[string]any); ok {
			if d, ok := pm["description"].(string); ok && d != "" {
				if _, has := sm["description"]; !has {
					sm["description"] = d
				}
			}
		}
		props[pname] = schema
		req, _ := pm["required"].(bool)
		switch in {
		case "path":
			req = true
			if !strings.Contains(path, "{"+pname+"}") {
				return Spec{}, fmt.Errorf("path parameter %q is not in the path", pname)
			}
		case "query":
			s.Query[pname] = "{" + pname + "}"
		case "header":
			s.Headers[pname] = "{" + pname + "}"
		default:
			return Spec{}, fmt.Errorf("parameter %q: unknown location %q", pname, in)
		}
		if req {
			required = append(required, pname)
		}
	}
	if rb, ok := op["requestBody"].(map[string]any); ok {
		rb, err := r.deref(rb)
		if err != nil {
			return Spec{}, err
		}
		content, _ := rb["content"].(map[string]any)
		var media map[string]any
		for _, ct := range slices.Sorted(maps.Keys(content)) {
			base, _, _ := strings.Cut(ct, ";")
			if base == "application/json" || strings.HasSuffix(base, "+json") {
				media, _ = content[ct].(map[string]any)
				break
			}
		}
		if media == nil {
			if len(content) > 0 {
				return Spec{}, fmt.Errorf("request body types %v are not supported (only JSON)", slices.Sorted(maps.Keys(content)))
			}
		} else {
			if _, dup := props["body"]; dup {
				return Spec{}, errors.New(`a parameter is named "body", which the request body needs`)
			}
			var schema any = map[string]any{}
			if sc, ok := media["schema"]; ok {
				inl, err := r.inline(sc, nil, 0)
				if err != nil {
					return Spec{}, err
				}
				schema = inl
			}
			if sm, ok := schema.(map[string]any); ok {
				if d, ok := rb["description"].(string); ok && d != "" {
					if _, has := sm["description"]; !has {
						sm["description"] = d
					}
				}
			}
			props["body"] = schema
			s.Body = "{body}"
			if req, _ := rb["required"].(bool); req {
				required = append(required, "body")
			}
		}
	}
	for _, m := range strings.SplitAfter(path, "}") {
		if i := strings.IndexByte(m, '{'); i >= 0 {
			p := strings.TrimSuffix(m[i+1:], "}")
			if _, ok := props[p]; !ok {
				return Spec{}, fmt.Errorf("path placeholder {%s} has no parameter", p)
			}
		}
	}
	schema := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		sort.Strings(required)
		schema["required"] = required
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return Spec{}, err
	}
	s.Schema = raw
	return s, nil
}

func validPlaceholder(n string) bool {
	if n == "" || !isNameStart(n[0]) {
		return false
	}
	for i := 1; i < len(n); i++ {
		if !isNameChar(n[i]) {
			return false
		}
	}
	return true
}

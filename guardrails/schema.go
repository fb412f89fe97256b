package guardrails

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/reagent-go/reagent/trajectory"
)

// SchemaGuard validates a tool's input against a JSON schema: the one the
// policy gives for the tool, else (when fromToolSpecs) the tool's own
// ToolSpec.Parameters. A policy schema is strict: input that is not JSON,
// or does not validate, is blocked. A tool's own schema applies to input
// that is a JSON object (many tools also take plain text, which their own
// parser checks). A tool without a schema is allowed. Schemas must be
// self-contained: references to files or URLs are refused.
type SchemaGuard struct {
	fromSpecs bool
	byTool    map[string]compiledSchema // canonical tool name
	names     []string

	mu    sync.Mutex
	cache map[string]compiledSchema // tool-spec schemas by their text

	noFlat bool // tests: every schema through the validator
}

type compiledSchema struct {
	s    *jsonschema.Schema
	flat *flatSchema // s in the shape the guard checks itself, or nil
	err  error
}

// maxSchemaCache bounds the compiled tool-spec schemas kept.
const maxSchemaCache = 256

// NewSchemaGuard compiles the given schemas (tool name to JSON schema).
// fromToolSpecs also validates tools that describe their own parameters.
func NewSchemaGuard(schemas map[string]json.RawMessage, fromToolSpecs bool) (*SchemaGuard, error) {
	g := &SchemaGuard{fromSpecs: fromToolSpecs, byTool: map[string]compiledSchema{}, cache: map[string]compiledSchema{}}
	for tool, raw := range schemas {
		s, err := compileSchema(raw)
		if err != nil {
			return nil, fmt.Errorf("schema for tool %q: %w", tool, err)
		}
		g.byTool[canonName(tool)] = compiledSchema{s: s, flat: compileFlat(raw)}
		g.names = append(g.names, tool)
	}
	sort.Strings(g.names)
	return g, nil
}

// refuseLoader stops schemas from reading files or URLs.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema references %q: external references are not allowed", url)
}

func compileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(refuseLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	const loc = "mem:///tool-schema.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("schema does not compile: %s", oneLine(err.Error()))
	}
	return s, nil
}

// Name returns "schema".
func (g *SchemaGuard) Name() string { return "schema" }

// Handles reports that the guard checks tool calls only.
func (g *SchemaGuard) Handles(kind trajectory.GuardEvent) bool {
	return kind == trajectory.EventToolCall
}

// Check validates the call's input.
func (g *SchemaGuard) Check(_ context.Context, ev *Event) trajectory.Decision {
	cs, from, err := g.schemaFor(ev)
	if errors.Is(err, errNoSchema) {
		return allow("no schema for this tool")
	}
	if err != nil {
		return decide(trajectory.Block, "tool schema unusable: "+err.Error())
	}
	if d, big := tooLarge(callInput(ev)); big {
		return d
	}
	pc := ev.parsed()
	if cs.flat != nil && !g.noFlat && pc.err == nil && len(pc.values) > 0 {
		// The strict reading accepted the input (it is the document): the
		// schema's shape is checked over its values.
		if root := pc.values[len(pc.values)-1]; from == "tool's" && (root.isText || root.text[0] != '{') {
			return allow("input is not a JSON object; the tool's schema does not apply")
		}
		if cs.flat.valid(pc.values) {
			return schemaAllow(from)
		}
	}
	doc, ok := pc.document()
	if !ok && looksLikeJSON(pc.input) {
		// Input the tool will decode as JSON but the strict reading
		// refuses (over the size limit, NaN, a trailing comma, broken
		// syntax) cannot be validated: refuse it rather than skip the
		// schema.
		why := "it is not strict JSON (NaN, a trailing comma or broken syntax)"
		if len(pc.input) > maxJSONWalk {
			why = fmt.Sprintf("it is %d bytes, over the %d the guards parse", len(pc.input), maxJSONWalk)
		}
		return decide(trajectory.Block, "input cannot be checked against the "+from+" schema: "+why+"; send strict JSON")
	}
	if _, isObject := doc.(map[string]any); from == "tool's" && !isObject {
		// Tools that describe JSON parameters often take plain text too
		// ("2+2", "https://…"); their own parser is the check then.
		return allow("input is not a JSON object; the tool's schema does not apply")
	}
	if !ok {
		return decide(trajectory.Block, "input is not JSON, but the policy gives the tool a schema")
	}
	if err := cs.s.Validate(doc); err != nil {
		return decide(trajectory.Block, "input does not match the "+from+" schema: "+validationSummary(err))
	}
	return schemaAllow(from)
}

// schemaAllow is the decision for input that matches its schema (constant
// messages: this is the hot path).
func schemaAllow(from string) trajectory.Decision {
	if from == "policy" {
		return allow("input matches the policy schema")
	}
	return allow("input matches the tool's schema")
}

// wantsDocument reports whether checking ev needs the input decoded as a
// document: its tool has a schema that is not flat (see flatSchema).
func (g *SchemaGuard) wantsDocument(ev *Event) bool {
	cs, _, err := g.schemaFor(ev)
	return err == nil && (cs.flat == nil || g.noFlat)
}

var errNoSchema = errors.New("no schema")

func (g *SchemaGuard) schemaFor(ev *Event) (compiledSchema, string, error) {
	if cs, ok := g.byTool[canonName(toolName(ev))]; ok {
		return cs, "policy", nil
	}
	raw := bytes.TrimSpace(ev.Tool.Parameters)
	if !g.fromSpecs || len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return compiledSchema{}, "", errNoSchema
	}
	g.mu.Lock()
	c, ok := g.cache[string(raw)] // no copy of raw for a lookup
	g.mu.Unlock()
	if !ok {
		key := string(raw)
		s, err := compileSchema(raw)
		c = compiledSchema{s: s, err: err}
		if err == nil {
			c.flat = compileFlat(raw)
		}
		g.mu.Lock()
		if len(g.cache) >= maxSchemaCache {
			clear(g.cache)
		}
		g.cache[key] = c
		g.mu.Unlock()
	}
	return c, "tool's", c.err
}

// validationSummary turns a validation error into one line naming where
// the input is wrong.
func validationSummary(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return oneLine(err.Error())
	}
	p := message.NewPrinter(language.English)
	var parts []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/" + strings.Join(e.InstanceLocation, "/")
			parts = append(parts, fmt.Sprintf("at %s: %s", loc, e.ErrorKind.LocalizedString(p)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("and %d more", len(parts)-3))
	}
	return strings.Join(parts, "; ")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Describe summarizes the schemas.
func (g *SchemaGuard) Describe() string {
	s := fmt.Sprintf("schema: %d policy schema(s)", len(g.names))
	if len(g.names) > 0 {
		s += " (" + strings.Join(g.names, ", ") + ")"
	}
	if g.fromSpecs {
		s += ", plus the tools' own parameter schemas"
	}
	return s
}

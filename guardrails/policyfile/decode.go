package policyfile

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// This file decodes a yaml.Node into the typed structs of spec.go, strictly:
// every mapping is checked for unknown and duplicate keys and for aliases
// before its values are decoded, and every error carries the line and
// column of the node at fault and the dotted path of the value
// ("network.allow_private").
//
// The structs use `yaml` tags for their keys. A field is one of:
//   - a leaf: a type whose pointer implements leaf (a scalar or a list of
//     scalars that checks its own form);
//   - a struct or a pointer to one (a nested mapping; a nil pointer means
//     the key is absent), or an embedded struct tagged `yaml:",inline"`;
//   - a slice of structs or leaves (a YAML sequence; items are named
//     path[i]);
//   - a byName[T] (a mapping from names the file chooses to values).
//
// A `want` tag gives the message for a value of the wrong kind ("must map
// tool names to lists of tags"); the default says "must be a mapping" or
// "must be a list".

// leaf is a value that decodes and checks itself. Its error message
// follows the value's path: "must be true or false, not \"yes\"".
type leaf interface {
	decode(n *yaml.Node) *valueError
}

// valueError is a leaf's complaint about a node; msg gets the value's path.
type valueError struct {
	n   *yaml.Node
	msg func(path string) string
}

func invalid(n *yaml.Node, format string, args ...any) *valueError {
	return &valueError{n: n, msg: func(path string) string { return path + " " + fmt.Sprintf(format, args...) }}
}

// invalidEntry words a complaint about one entry of a value: "path: …".
func invalidEntry(n *yaml.Node, format string, args ...any) *valueError {
	return &valueError{n: n, msg: func(path string) string { return path + ": " + fmt.Sprintf(format, args...) }}
}

// decoder decodes one file.
type decoder struct {
	source string
}

func (d *decoder) errAt(n *yaml.Node, format string, args ...any) *Error {
	e := &Error{Source: d.source, Msg: oneLine(fmt.Sprintf(format, args...))}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) noAlias(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		return d.errAt(n, "YAML aliases are not supported in policy files")
	}
	return nil
}

var (
	leafType  = reflect.TypeFor[leaf]()
	namedType = reflect.TypeFor[named]()
)

// decode decodes n into v (a pointer) as the value at path ("" at the top,
// named "the policy" in messages); want is the message for a node of the
// wrong kind (see the want tag).
func (d *decoder) decode(n *yaml.Node, path, want string, v reflect.Value) error {
	if err := d.noAlias(n); err != nil {
		return err
	}
	t := v.Type().Elem()
	switch {
	case v.Type().Implements(leafType):
		if ve := v.Interface().(leaf).decode(n); ve != nil {
			return d.errAt(ve.n, "%s", ve.msg(path))
		}
		return nil
	case t.Kind() == reflect.Pointer:
		if v.Elem().IsNil() {
			v.Elem().Set(reflect.New(t.Elem()))
		}
		return d.decode(n, path, want, v.Elem())
	case v.Type().Implements(namedType):
		return d.decodeNamed(n, path, want, v.Interface().(named))
	case t.Kind() == reflect.Struct:
		return d.decodeStruct(n, path, want, v)
	case t.Kind() == reflect.Slice:
		return d.decodeSlice(n, path, want, v)
	}
	panic(fmt.Sprintf("policyfile: cannot decode into %s", t))
}

// field is a key of a struct and where its value goes.
type field struct {
	index []int
	want  string
}

// fieldsOf lists the keys of a struct type, following inline structs.
func fieldsOf(t reflect.Type, prefix []int, into map[string]field) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		idx := append(append([]int(nil), prefix...), i)
		if tag == ",inline" {
			fieldsOf(f.Type, idx, into)
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		into[tag] = field{index: idx, want: f.Tag.Get("want")}
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, path, want string, v reflect.Value) error {
	where := path
	if where == "" {
		where = "the policy"
	}
	if n.Kind != yaml.MappingNode {
		if want == "" {
			want = "must be a mapping"
		}
		return d.errAt(n, "%s %s", where, want)
	}
	fields := map[string]field{}
	fieldsOf(v.Type().Elem(), nil, fields)
	if pos, ok := v.Interface().(positioned); ok {
		pos.at(n)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, err := d.key(k, where, seen)
		if err != nil {
			return err
		}
		f, ok := fields[key]
		if !ok {
			known := make([]string, 0, len(fields))
			for name := range fields {
				known = append(known, name)
			}
			sort.Strings(known)
			return d.errAt(k, "unknown key %q in %s (known: %s)", key, where, strings.Join(known, ", "))
		}
		if err := d.decode(val, join(path, key), f.want, v.Elem().FieldByIndex(f.index).Addr()); err != nil {
			return err
		}
	}
	return nil
}

// key checks a mapping key: a plain string, not seen before.
func (d *decoder) key(k *yaml.Node, where string, seen map[string]bool) (string, error) {
	if err := d.noAlias(k); err != nil {
		return "", err
	}
	if k.Kind != yaml.ScalarNode {
		return "", d.errAt(k, "%s: keys must be plain strings", where)
	}
	if seen[k.Value] {
		return "", d.errAt(k, "%s: duplicate key %q", where, k.Value)
	}
	seen[k.Value] = true
	return k.Value, nil
}

func (d *decoder) decodeSlice(n *yaml.Node, path, want string, v reflect.Value) error {
	if n.Kind != yaml.SequenceNode {
		if want == "" {
			want = "must be a list"
		}
		return d.errAt(n, "%s %s", path, want)
	}
	s := reflect.MakeSlice(v.Type().Elem(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		if err := d.decode(item, fmt.Sprintf("%s[%d]", path, i), "", s.Index(i).Addr()); err != nil {
			return err
		}
	}
	v.Elem().Set(s)
	return nil
}

// named is a mapping from names the file chooses (tool names) to values.
type named interface {
	add(key *yaml.Node) reflect.Value
}

// byName holds such a mapping in file order, with the key nodes.
type byName[T any] struct {
	Keys []*yaml.Node
	Vals []*T
}

func (m *byName[T]) add(key *yaml.Node) reflect.Value {
	v := new(T)
	m.Keys, m.Vals = append(m.Keys, key), append(m.Vals, v)
	return reflect.ValueOf(v)
}

func (d *decoder) decodeNamed(n *yaml.Node, path, want string, m named) error {
	if n.Kind != yaml.MappingNode {
		if want == "" {
			want = "must be a mapping"
		}
		return d.errAt(n, "%s %s", path, want)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, err := d.key(k, path, seen)
		if err != nil {
			return err
		}
		if err := d.decode(val, join(path, key), "", m.add(k)); err != nil {
			return err
		}
	}
	return nil
}

// node remembers where a struct was in the file. A struct that embeds it
// is positioned: the decoder tells it its mapping node.
type node struct{ n *yaml.Node }

// positioned is a decoded struct that keeps its place in the file.
type positioned interface{ at(*yaml.Node) }

func (p *node) at(n *yaml.Node) { p.n = n }

// Leaves.

// scalar checks that n is a single, non-null value.
func scalar(n *yaml.Node) *valueError {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return invalid(n, "must be a single value")
	}
	return nil
}

// str is a string (a quoted or plain YAML string, not a number or bool).
type str struct {
	V string
	N *yaml.Node
}

func (s *str) decode(n *yaml.Node) *valueError {
	if ve := scalar(n); ve != nil {
		return ve
	}
	if n.Tag != "!!str" && n.Tag != "" {
		return invalid(n, "must be a string, not %s (quote it)", strings.TrimPrefix(n.Tag, "!!"))
	}
	s.V, s.N = n.Value, n
	return nil
}

// set reports whether the key was given.
func (s *str) set() bool { return s.N != nil }

// strList is a list of non-empty values (tool names, tags, domains).
type strList struct {
	V     []string
	Nodes []*yaml.Node
	N     *yaml.Node
}

func (l *strList) decode(n *yaml.Node) *valueError {
	if n.Kind != yaml.SequenceNode {
		return invalid(n, "must be a list")
	}
	l.N = n
	for _, c := range n.Content {
		if c.Kind == yaml.AliasNode {
			return &valueError{n: c, msg: func(string) string { return "YAML aliases are not supported in policy files" }}
		}
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			return &valueError{n: c, msg: func(path string) string { return path + " entries must be a single value" }}
		}
		if strings.TrimSpace(c.Value) == "" {
			return invalidEntry(c, "empty entry")
		}
		l.V, l.Nodes = append(l.V, c.Value), append(l.Nodes, c)
	}
	return nil
}

// typed is a scalar with one of the YAML tags its kind K allows, decoded
// into T.
type typed[T any, K interface {
	tags() []string
	want() string
}] struct {
	V T
	N *yaml.Node
}

func (t *typed[T, K]) decode(n *yaml.Node) *valueError {
	if ve := scalar(n); ve != nil {
		return ve
	}
	var k K
	if !slices.Contains(k.tags(), n.Tag) || n.Decode(&t.V) != nil {
		return invalid(n, "must be %s, not %q", k.want(), n.Value)
	}
	t.N = n
	return nil
}

type (
	boolKind   struct{}
	intKind    struct{}
	numberKind struct{}
)

func (boolKind) tags() []string   { return []string{"!!bool"} }
func (boolKind) want() string     { return "true or false" }
func (intKind) tags() []string    { return []string{"!!int"} }
func (intKind) want() string      { return "a whole number" }
func (numberKind) tags() []string { return []string{"!!int", "!!float"} }
func (numberKind) want() string   { return "a number" }

// boolean is true or false.
type boolean = typed[bool, boolKind]

// integer is a whole number; its range is checked where it is used.
type integer = typed[int, intKind]

// fraction is a number between 0 and 1.
type fraction struct {
	typed[float64, numberKind]
}

func (f *fraction) decode(n *yaml.Node) *valueError {
	if ve := f.typed.decode(n); ve != nil {
		return ve
	}
	if math.IsNaN(f.V) || f.V < 0 || f.V > 1 {
		f.N = nil
		return invalid(n, "must be between 0 and 1, not %v", f.V)
	}
	return nil
}

// duration is a positive Go duration ("30s", "5m").
type duration struct {
	V time.Duration
	N *yaml.Node
}

func (d *duration) decode(n *yaml.Node) *valueError {
	if ve := scalar(n); ve != nil {
		return ve
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v <= 0 {
		return invalid(n, "must be a positive duration like 30s or 5m, not %q", n.Value)
	}
	d.V, d.N = v, n
	return nil
}

// pattern is a string that compiles as a Go regular expression.
type pattern struct{ str }

func (p *pattern) decode(n *yaml.Node) *valueError {
	if ve := p.str.decode(n); ve != nil {
		return ve
	}
	if _, err := regexp.Compile(p.V); err != nil {
		return invalidEntry(n, "bad regular expression: %v", err)
	}
	return nil
}

// choice is a string out of a fixed set, compared case-insensitively and
// kept in lower case; the set is given by the field's type.
type choice[C interface{ options() []string }] struct{ str }

func (c *choice[C]) decode(n *yaml.Node) *valueError {
	if ve := c.str.decode(n); ve != nil {
		return ve
	}
	var set C
	opts := set.options()
	c.V = strings.ToLower(c.V)
	for _, o := range opts {
		if c.V == o {
			return nil
		}
	}
	return invalid(n, "must be %s, not %q", orList(opts), n.Value)
}

func orList(opts []string) string {
	if len(opts) == 1 {
		return opts[0]
	}
	return strings.Join(opts[:len(opts)-1], ", ") + " or " + opts[len(opts)-1]
}

// jsonDoc is a JSON document written as YAML (a mapping) or as a string of
// JSON.
type jsonDoc struct {
	V json.RawMessage
	N *yaml.Node
}

func (j *jsonDoc) decode(n *yaml.Node) *valueError {
	if a := firstAlias(n); a != nil {
		return &valueError{n: a, msg: func(string) string { return "YAML aliases are not supported in policy files" }}
	}
	j.N = n
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		if !json.Valid([]byte(n.Value)) {
			return invalidEntry(n, "string is not valid JSON")
		}
		j.V = json.RawMessage(n.Value)
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return invalid(n, "must be a mapping (or a JSON string)")
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return invalidEntry(n, "%v", err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return invalidEntry(n, "cannot be JSON (keys must be strings): %v", err)
	}
	j.V = raw
	return nil
}

func firstAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n
	}
	for _, c := range n.Content {
		if a := firstAlias(c); a != nil {
			return a
		}
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

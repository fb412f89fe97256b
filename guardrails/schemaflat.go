package guardrails

import (
	"encoding/json"
)

// flatSchema is a tool schema of the shape most tools describe their
// parameters with: an object with required keys and typed properties
//
//	{"type":"object","required":["url"],"properties":{"url":{"type":"string"}},
//	 "additionalProperties":false}
//
// (titles and descriptions anywhere). The schema guard checks such a schema
// over the values the guards read anyway, without building the document
// and running the validator (a dozen allocations per call). It only ever
// says "valid" where the validator does: any other answer, and any schema
// it does not know, goes to the validator (FuzzFlatSchema compares the
// guard's decisions with and without it).
type flatSchema struct {
	required []string
	props    []flatProp
	closed   bool // additionalProperties: false
}

type flatProp struct {
	name string
	typ  string // "" (anything), string, boolean, null, object, array, number or integer
}

// compileFlat returns raw as a flatSchema, or nil when raw uses anything
// outside that shape (a keyword it does not know, a type list, $schema, a
// nested constraint).
func compileFlat(raw []byte) *flatSchema {
	var root map[string]json.RawMessage
	if json.Unmarshal(raw, &root) != nil || root == nil {
		return nil
	}
	fs := &flatSchema{}
	sawType := false
	for k, v := range root {
		switch k {
		case "title", "description":
			if !isJSONString(v) {
				return nil
			}
		case "type":
			var t string
			if json.Unmarshal(v, &t) != nil || t != "object" {
				return nil
			}
			sawType = true
		case "required":
			if json.Unmarshal(v, &fs.required) != nil || fs.required == nil {
				return nil
			}
		case "additionalProperties":
			switch string(v) {
			case "false":
				fs.closed = true
			case "true":
			default:
				return nil
			}
		case "properties":
			var props map[string]map[string]json.RawMessage
			if json.Unmarshal(v, &props) != nil || props == nil {
				return nil
			}
			for name, p := range props {
				if p == nil {
					return nil
				}
				fp := flatProp{name: name}
				for pk, pv := range p {
					switch pk {
					case "title", "description":
						if !isJSONString(pv) {
							return nil
						}
					case "type":
						if json.Unmarshal(pv, &fp.typ) != nil || !flatTypes[fp.typ] {
							return nil
						}
					default:
						return nil
					}
				}
				fs.props = append(fs.props, fp)
			}
		default:
			return nil
		}
	}
	if !sawType {
		return nil // without "type": "object", a non-object input must validate too
	}
	return fs
}

var flatTypes = map[string]bool{"string": true, "boolean": true, "null": true, "object": true, "array": true, "number": true, "integer": true}

func isJSONString(v json.RawMessage) bool {
	var s string
	return len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil
}

// valid reports whether the document whose values (walkJSON's, in order,
// the document itself last) are vs surely validates: false means "ask the
// validator", not "invalid".
func (fs *flatSchema) valid(vs []jsonValue) bool {
	if len(vs) == 0 {
		return false
	}
	root := vs[len(vs)-1]
	if root.isText || len(root.path) != 0 || root.text == "" || root.text[0] != '{' {
		return false
	}
	for _, name := range fs.required {
		found := false
		for _, v := range vs {
			if len(v.path) == 1 && v.path[0] == name {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, v := range vs {
		if len(v.path) != 1 {
			continue
		}
		p := fs.prop(v.path[0])
		if p == nil {
			if fs.closed {
				return false
			}
			continue
		}
		if !flatTypeOK(p.typ, v) {
			return false // every value of a duplicated key must fit: the validator sees the last
		}
	}
	return true
}

func (fs *flatSchema) prop(name string) *flatProp {
	for i := range fs.props {
		if fs.props[i].name == name {
			return &fs.props[i]
		}
	}
	return nil
}

// flatTypeOK reports whether v surely has JSON type typ ("integer" only
// for plain digit runs; other integral numbers go to the validator).
func flatTypeOK(typ string, v jsonValue) bool {
	if typ == "" {
		return true
	}
	if v.isText {
		return typ == "string"
	}
	t := v.text
	if t == "" {
		return false
	}
	switch typ {
	case "boolean":
		return t == "true" || t == "false"
	case "null":
		return t == "null"
	case "object":
		return t[0] == '{'
	case "array":
		return t[0] == '['
	case "number":
		return t[0] == '-' || t[0] >= '0' && t[0] <= '9'
	case "integer":
		if t[0] == '-' {
			t = t[1:]
		}
		if t == "" {
			return false
		}
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return false
			}
		}
		return true
	}
	return false
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// maxDocBytes bounds the specs and OpenAPI documents this package reads.
const maxDocBytes = 16 << 20

// ParseSpecs reads tool specs from YAML or JSON: a list of specs, or an
// object with a "tools" list.
func ParseSpecs(data []byte) ([]Spec, error) {
	v, err := decodeDoc(data)
	if err != nil {
		return nil, fmt.Errorf("httpapi: specs: %w", err)
	}
	if m, ok := v.(map[string]any); ok {
		list, ok := m["tools"]
		if !ok {
			return nil, errors.New(`httpapi: specs: want a list of tools or an object with a "tools" list`)
		}
		v = list
	}
	if _, ok := v.([]any); !ok {
		return nil, errors.New(`httpapi: specs: want a list of tools or an object with a "tools" list`)
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("httpapi: specs: %w", err)
	}
	var specs []Spec
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&specs); err != nil {
		return nil, fmt.Errorf("httpapi: specs: %w", err)
	}
	return specs, nil
}

// decodeDoc reads YAML or JSON (YAML is a superset) into JSON-compatible
// values: maps with string keys, slices, strings, numbers, booleans, nil.
func decodeDoc(data []byte) (any, error) {
	if len(data) > maxDocBytes {
		return nil, fmt.Errorf("document larger than %d bytes", maxDocBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty document")
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return normalize(v, 0)
}

func normalize(v any, depth int) (any, error) {
	if depth > 200 {
		return nil, errors.New("document nested too deeply")
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case int, int64, uint64, float64, string, bool, nil:
		return x, nil
	default:
		// Timestamps and other YAML scalars become their text.
		return fmt.Sprint(x), nil
	}
}

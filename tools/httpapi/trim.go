package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"unicode/utf8"
)

// Trim limits how much of a JSON response reaches the model.
type Trim struct {
	MaxItems  int // array items kept (default 20)
	MaxString int // characters kept of each string (default 500)
	MaxFields int // object fields kept (default 50)
	MaxDepth  int // nesting kept (default 12)
}

func (t Trim) withDefaults() Trim {
	if t.MaxItems <= 0 {
		t.MaxItems = 20
	}
	if t.MaxString <= 0 {
		t.MaxString = 500
	}
	if t.MaxFields <= 0 {
		t.MaxFields = 50
	}
	if t.MaxDepth <= 0 {
		t.MaxDepth = 12
	}
	return t
}

// TrimJSON returns data as compact JSON with long arrays, strings and
// objects cut, each cut marked in place ("… 480 more items"), and whether
// anything was cut. It fails only when data is not JSON.
func TrimJSON(data []byte, t Trim) ([]byte, bool, error) {
	t = t.withDefaults()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false, fmt.Errorf("not JSON: %w", err)
	}
	if dec.More() {
		return nil, false, fmt.Errorf("not JSON: data after the first value")
	}
	cut := false
	v = t.trim(v, 0, &cut)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, false, fmt.Errorf("encoding trimmed JSON: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), cut, nil
}

func (t Trim) trim(v any, depth int, cut *bool) any {
	switch x := v.(type) {
	case string:
		if n := utf8.RuneCountInString(x); n > t.MaxString {
			*cut = true
			i := 0
			for pos := range x {
				if i == t.MaxString {
					return x[:pos] + fmt.Sprintf("… (%d characters in all)", n)
				}
				i++
			}
		}
		return x
	case []any:
		if depth >= t.MaxDepth {
			*cut = true
			return fmt.Sprintf("… (array of %d items, nested too deep)", len(x))
		}
		keep := x
		if len(x) > t.MaxItems {
			*cut = true
			keep = x[:t.MaxItems]
		}
		out := make([]any, 0, len(keep)+1)
		for _, e := range keep {
			out = append(out, t.trim(e, depth+1, cut))
		}
		if len(x) > len(keep) {
			out = append(out, fmt.Sprintf("… %d more items", len(x)-len(keep)))
		}
		return out
	case map[string]any:
		if depth >= t.MaxDepth {
			*cut = true
			return fmt.Sprintf("… (object with %d fields, nested too deep)", len(x))
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make(map[string]any, min(len(keys), t.MaxFields)+1)
		for i, k := range keys {
			if i == t.MaxFields {
				*cut = true
				out["…"] = fmt.Sprintf("%d more fields", len(keys)-t.MaxFields)
				break
			}
			out[k] = t.trim(x[k], depth+1, cut)
		}
		return out
	default:
		return v
	}
}

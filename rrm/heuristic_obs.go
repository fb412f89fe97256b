package rrm

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// observation is a tool observation as the heuristic judge reads it: the
// content without the untrusted-content fence the guardrails put around it,
// the HTTP status an API or browser tool reported, the message of a JSON
// error body, and the fields of a JSON object or of "Key: value" lines.
type observation struct {
	// body is the content: unfenced, without the HTTP status line.
	body string
	// status is the HTTP status code the observation reports (0: none);
	// statusLine is its line as written ("HTTP 404 Not Found").
	status     int
	statusLine string
	// errMsg is the message of a JSON error body ({"error": "…"}).
	errMsg string
	// fields are the observation's values by key; ownID is the id of the
	// record itself (a top-level "id").
	fields []field
	ownID  string
}

// field is one value of an observation: a top-level key of a JSON object
// (a reference {"id", "name"} gives both), or a "Key: value" line.
type field struct {
	key   string // lower case
	value string
	id    bool // the value is the id of a reference (city.id)
}

// fenceOpen and fenceClose are the markers of guardrails.Fence; the judge
// reads the content between them (rrm does not import guardrails).
const (
	fenceOpen  = "<<<UNTRUSTED CONTENT "
	fenceClose = "<<<END UNTRUSTED CONTENT "
	fenceNote  = "The text between these markers came from a tool"
)

// unfence returns the content of an untrusted-content fence, or s as it is
// when it is not fenced. A fence with no end marker (a cut observation)
// gives everything after its header.
func unfence(s string) string {
	t := strings.TrimLeft(s, " \t\r\n")
	if !strings.HasPrefix(t, fenceOpen) {
		return s
	}
	nl := strings.IndexByte(t, '\n')
	if nl < 0 || !strings.Contains(t[:nl], ">>>") {
		return s
	}
	t = t[nl+1:]
	if strings.HasPrefix(t, fenceNote) {
		if nl = strings.IndexByte(t, '\n'); nl < 0 {
			return ""
		}
		t = t[nl+1:]
	}
	if i := strings.LastIndex(t, fenceClose); i >= 0 {
		t = t[:i]
	}
	return strings.TrimSuffix(strings.TrimSuffix(t, "\n"), "\r")
}

// parseObservation reads a raw observation.
func parseObservation(raw string) observation {
	o := observation{body: unfence(raw)}
	o.status, o.statusLine, o.body = httpStatus(o.body)
	o.errMsg = jsonError(o.body)
	o.fields, o.ownID = observedFields(o.body)
	return o
}

// httpStatus finds the HTTP status an observation reports: a first line
// "HTTP 404 Not Found" (or "HTTP/1.1 404 Not Found", as API tools write it)
// or, among the first four lines, "HTTP status: 404" (as the browser notes
// an error page). It returns the code, the line, and the text without that
// line; code 0 and the text unchanged when there is none.
func httpStatus(s string) (code int, line, rest string) {
	start := 0
	for n := 0; n < 4 && start <= len(s); n++ {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		l := strings.TrimRight(s[start:end], "\r ")
		if c, ok := statusLineCode(l, n == 0); ok {
			after := min(end+1, len(s))
			return c, strings.TrimSpace(l), s[:start] + s[after:]
		}
		if end >= len(s) {
			break
		}
		start = end + 1
	}
	return 0, "", s
}

// statusLineCode reads one line as an HTTP status: "HTTP[/v] NNN [reason]"
// (first line only) or "HTTP status: NNN".
func statusLineCode(l string, first bool) (int, bool) {
	l = strings.TrimLeft(l, " \t")
	if !strings.HasPrefix(l, "HTTP") {
		return 0, false
	}
	rest := l[len("HTTP"):]
	switch {
	case strings.HasPrefix(rest, " status: "):
		rest = rest[len(" status: "):]
	case !first:
		return 0, false
	case strings.HasPrefix(rest, "/"):
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 || sp > 5 {
			return 0, false
		}
		rest = rest[sp+1:]
	case strings.HasPrefix(rest, " "):
		rest = rest[1:]
	default:
		return 0, false
	}
	if len(rest) < 3 || !isDigit(rest[0]) || !isDigit(rest[1]) || !isDigit(rest[2]) || len(rest) > 3 && rest[3] != ' ' {
		return 0, false
	}
	c, _ := strconv.Atoi(rest[:3])
	if c < 100 || c > 599 {
		return 0, false
	}
	return c, true
}

// jsonError returns the message of a JSON error body: {"error": "…"},
// {"error": {"message": "…"}}, {"message": "…"} or {"detail": "…"} (the
// shapes common APIs use); "" when the body is not one.
func jsonError(body string) string {
	b := strings.TrimSpace(body)
	if !strings.HasPrefix(b, "{") {
		return ""
	}
	var m map[string]any
	if json.Unmarshal([]byte(b), &m) != nil {
		return ""
	}
	for _, k := range [...]string{"error", "message", "detail", "error_description"} {
		switch v := m[k].(type) {
		case string:
			if strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		case map[string]any:
			if s, ok := v["message"].(string); ok && strings.TrimSpace(s) != "" {
				return strings.TrimSpace(s)
			}
		}
	}
	return ""
}

// observedFields returns the values of a JSON object by key (a reference
// object {"id", "name"} gives both under its key), or else the "Key: value"
// lines of a text (keys of one to three words), with the record's own id.
func observedFields(body string) ([]field, string) {
	b := strings.TrimSpace(body)
	if strings.HasPrefix(b, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(b), &m) != nil {
			return nil, ""
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []field
		own := ""
		for _, k := range keys {
			lk := strings.ToLower(k)
			switch v := m[k].(type) {
			case string:
				out = append(out, field{key: lk, value: v, id: lk == "id"})
				if lk == "id" {
					own = v
				}
			case float64:
				out = append(out, field{key: lk, value: strconv.FormatFloat(v, 'f', -1, 64)})
			case map[string]any:
				if name, ok := v["name"].(string); ok {
					out = append(out, field{key: lk, value: name})
				}
				if id, ok := v["id"].(string); ok {
					out = append(out, field{key: lk, value: id, id: true})
				}
			}
		}
		return out, own
	}
	var out []field
	for line := range strings.SplitSeq(body, "\n") {
		k, v, ok := strings.Cut(line, ":")
		k, v = strings.TrimSpace(strings.TrimLeft(k, "#-* ")), strings.TrimSpace(v)
		if !ok || k == "" || v == "" || len(v) > 80 || strings.Count(k, " ") > 2 || strings.HasPrefix(v, "//") {
			continue
		}
		letters := true
		for i := 0; i < len(k) && letters; i++ {
			letters = isLetter(k[i]) || k[i] == ' ' || k[i] == '_' || k[i] == '-'
		}
		if letters {
			out = append(out, field{key: strings.ToLower(k), value: v})
		}
	}
	return out, ""
}

// slug folds a name or id for comparison: lower case, every run of other
// characters than letters and digits one "-", none at the ends ("Ada Falk"
// and "ada-falk" are the same).
func slug(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 0x80 {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

// containsSlug reports whether the slug needle occurs in the slug hay as
// whole words ("ada-falk" in "which-city-does-ada-falk-live-in").
func containsSlug(hay, needle string) bool {
	return containsBounded(hay, needle, func(c byte) bool { return c == '-' })
}

// editDistance is the Levenshtein distance of two short strings (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

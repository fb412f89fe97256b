package browser

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Input is the tool's argument object.
type Input struct {
	// Action is one of open, read, links, click, type, back, screenshot.
	Action string `json:"action"`
	// URL is the page to open (open; optional for read and links).
	URL string `json:"url,omitempty"`
	// Selector is a CSS selector (click, type; optional for screenshot).
	Selector string `json:"selector,omitempty"`
	// Text is the link or button text to click, or the text to type.
	Text string `json:"text,omitempty"`
	// Submit submits the field's form after typing.
	Submit bool `json:"submit,omitempty"`
}

// Actions lists the actions in the order the tool documents them.
var Actions = []string{"open", "read", "links", "click", "type", "back", "screenshot"}

var actionAliases = map[string]string{
	"navigate": "open", "goto": "open", "go": "open", "visit": "open", "get": "open",
	"text": "read", "fill": "type", "input": "type", "press": "click",
	"screen": "screenshot", "snapshot": "screenshot",
}

const maxInputLen = 64 << 10

// ParseInput reads the tool input: a JSON object (see Input), or a bare
// http(s) URL, which means open. It checks that each action has the fields
// it needs.
func ParseInput(raw string) (Input, error) {
	var in Input
	s := strings.TrimSpace(raw)
	if len(s) > maxInputLen {
		return in, fmt.Errorf("input longer than %d bytes", maxInputLen)
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(s, "{"):
		if err := json.Unmarshal([]byte(s), &in); err != nil {
			return in, fmt.Errorf("invalid JSON input: %w; expected e.g. {\"action\":\"open\",\"url\":\"https://example.com\"}", err)
		}
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		if strings.ContainsAny(s, " \t\n") {
			return in, errors.New(`input is not JSON; expected e.g. {"action":"open","url":"https://example.com"}`)
		}
		in = Input{Action: "open", URL: s}
	default:
		return in, errors.New(`input is not JSON; expected e.g. {"action":"open","url":"https://example.com"}`)
	}
	in.Action = strings.ToLower(strings.TrimSpace(in.Action))
	if a, ok := actionAliases[in.Action]; ok {
		in.Action = a
	}
	in.URL = strings.TrimSpace(in.URL)
	in.Selector = strings.TrimSpace(in.Selector)
	switch in.Action {
	case "open":
		if in.URL == "" {
			return in, errors.New(`action "open" needs a "url"`)
		}
	case "read", "links", "back", "screenshot":
	case "click":
		if in.Selector == "" && strings.TrimSpace(in.Text) == "" {
			return in, errors.New(`action "click" needs a "selector" (CSS) or the link or button "text"`)
		}
	case "type":
		if in.Selector == "" {
			return in, errors.New(`action "type" needs a "selector" (CSS) for the field`)
		}
	case "":
		return in, fmt.Errorf(`missing "action"; use one of %s`, strings.Join(Actions, ", "))
	default:
		return in, fmt.Errorf("unknown action %q; use one of %s", in.Action, strings.Join(Actions, ", "))
	}
	return in, nil
}

// normalizeURL adds https:// to a URL written without a scheme.
func normalizeURL(u string) string {
	if u == "" || strings.Contains(u, "://") {
		return u
	}
	lower := strings.ToLower(u)
	for _, p := range []string{"about:", "data:", "javascript:", "file:", "blob:", "mailto:"} {
		if strings.HasPrefix(lower, p) {
			return u
		}
	}
	return "https://" + strings.TrimPrefix(u, "//")
}

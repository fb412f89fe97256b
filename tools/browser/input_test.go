package browser

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseInput(t *testing.T) {
	in, err := ParseInput(` {"action":" Navigate ","url":" https://example.com "} `)
	require.NoError(t, err)
	assert.Equal(t, Input{Action: "open", URL: "https://example.com"}, in)

	in, err = ParseInput("https://example.com/a?b=c")
	require.NoError(t, err)
	assert.Equal(t, Input{Action: "open", URL: "https://example.com/a?b=c"}, in)

	in, err = ParseInput(`{"action":"type","selector":"#q","text":"hi","submit":true}`)
	require.NoError(t, err)
	assert.True(t, in.Submit)

	for raw, msg := range map[string]string{
		`{"action":"open"}`:                    `action "open" needs a "url"`,
		`{"action":"click"}`:                   `action "click" needs a "selector" (CSS) or the link or button "text"`,
		`{"action":"type","text":"x"}`:         `action "type" needs a "selector"`,
		`{"url":"https://example.com"}`:        `missing "action"`,
		`{"action":"delete"}`:                  `unknown action "delete"; use one of open, read, links, click, type, back, screenshot`,
		`{"action":"open","url":"x"`:           "invalid JSON input",
		`{"action":1}`:                         "invalid JSON input",
		`open the page`:                        "input is not JSON",
		`https://a.example b`:                  "input is not JSON",
		"{" + strings.Repeat(" ", 70000) + "}": "input longer than",
	} {
		_, err := ParseInput(raw)
		require.Error(t, err, raw)
		assert.Contains(t, err.Error(), msg, raw)
	}
}

func TestNormalizeURLAndHost(t *testing.T) {
	assert.Equal(t, "https://example.com/x", normalizeURL("example.com/x"))
	assert.Equal(t, "https://example.com", normalizeURL("//example.com"))
	assert.Equal(t, "http://a", normalizeURL("http://a"))
	assert.Equal(t, "file:///etc", normalizeURL("file:///etc"))
	assert.Equal(t, "example.com", hostOf("https://user:pw@Example.COM:8080/path?q#f"))
	assert.Equal(t, "::1", hostOf("http://[::1]:80/"))
}

func TestCleanText(t *testing.T) {
	assert.Equal(t, "ab\ncd\te", cleanText("a\u200bb\nc\u202ed\t\U000E0041\x07e"))
}

// FuzzParseInput checks that no input panics and that accepted inputs are
// complete for their action.
// Run longer with: go test ./tools/browser -run XXX -fuzz FuzzParseInput -fuzztime 30s
func FuzzParseInput(f *testing.F) {
	for _, s := range []string{
		`{"action":"open","url":"https://example.com"}`, `{"action":"click","text":"More"}`,
		`{"action":"type","selector":"#q","text":"x","submit":true}`, `https://example.com`,
		`{"action":"GOTO","url":"a"}`, `{}`, `[]`, `{"action":null}`, "{\"action\":\"read\"\x00}", `"open"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		in, err := ParseInput(raw)
		if err != nil {
			return
		}
		switch in.Action {
		case "open":
			if in.URL == "" {
				t.Fatalf("open without url from %q", raw)
			}
		case "click":
			if in.Selector == "" && strings.TrimSpace(in.Text) == "" {
				t.Fatalf("click without target from %q", raw)
			}
		case "type":
			if in.Selector == "" {
				t.Fatalf("type without selector from %q", raw)
			}
		case "read", "links", "back", "screenshot":
		default:
			t.Fatalf("accepted unknown action %q from %q", in.Action, raw)
		}
	})
}

package policyfile

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/trajectory"
)

// The inputs below are the fail-open forms of issue 17: each one reached a
// tool past the default policy before. They must now be refused.

func TestDefaultPolicyRefusesFailOpenForms(t *testing.T) {
	c := guardrails.NewChain(Default())
	pem := `-----BEGIN RSA PRIVATE KEY-----`
	escaped := strings.ReplaceAll(pem, "-", `\u002d`)
	big := strings.Repeat("x", 1<<20) // the guards' JSON size limit
	cases := []struct{ name, tool, input string }{
		{"escaped PEM in JSON over the size limit", "browser", `{"pad":"` + big + `","body":"` + escaped + `"}`},
		{"escaped AWS key id over the size limit", "browser", `{"pad":"` + big + `","k":"\u0041KIAQ3EGRSWBYEXD4K7Q"}`},
		{"escaped PEM in lenient JSON (NaN)", "browser", `{"n": NaN, "body":"` + escaped + `"}`},
		{"escaped PEM in lenient JSON (trailing comma)", "browser", `{"body":"` + escaped + `",}`},
		{"fetch is a network tool", "fetch", `{"url":"http://169.254.169.254/latest/meta-data/"}`},
		{"web_fetch is a network tool", "web_fetch", `{"url":"http://127.0.0.1:8080/admin"}`},
		{"requests_get is a network tool", "requests_get", `{"url":"http://10.0.0.5/"}`},
		{"http_get is a network tool", "http_get", `http://localhost/`},
		{"URL with a space before the real host", "browser", `{"url":"http://example.com @127.0.0.1/admin"}`},
		{"folded key", "browser", `{"hoſt":"127.0.0.1"}`},
		{"address under a non-URL key", "browser", `{"ip":"10.1.2.3"}`},
		{"address under a camel-case key", "browser", `{"targetIp":"192.168.1.1"}`},
		{"bare IPv6 loopback", "browser", `{"q":"::1"}`},
		{"bare IPv6 as the input", "browser", `::1`},
		{"plus read as a space", "browser", `{"url":"127.0.0.1+/admin"}`},
		{"backslash protocol-relative", "browser", `{"q":"see \\\\127.0.0.1\\admin"}`},
		{"slash-backslash", "browser", `fetch /\127.0.0.1/admin now`},
		{"fullwidth dots in prose", "browser", `please open 127。0。0。1/admin`},
		{"short IPv4 in prose", "browser", `then go to 127.1/admin and read it`},
		{"hex IPv4 in prose", "browser", `the page at 0x7f000001:8080/ is next`},
		{"lenient JSON URL", "browser", `{"url":"http://127.0.0.1/", "n": NaN}`},
		{"escaped URL in broken JSON", "browser", `{"url":"http:\/\/127.0.0.1\/", oops}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := c.Check(context.Background(), callEvent(tc.tool, tc.input))
			assert.Equal(t, trajectory.Block, d.Verdict, "%s: %s", tc.input[max(0, len(tc.input)-120):], d.Reason)
		})
	}
	// And the ordinary forms still pass.
	for _, in := range []string{`{"url":"https://example.com/a b"}`, `{"q":"version 3.14 of the table"}`, `{"count":"10"}`, `{"zip":"10001"}`,
		`{"q":"http: is a protocol, and so is ftp: too"}`, `{"q":"file: notes for today"}`} {
		assert.Equal(t, trajectory.Allow, c.Check(context.Background(), callEvent("browser", in)).Verdict, in)
	}
}

// FuzzDefaultPolicy runs the whole default policy (arguments, schema,
// network, budget, sequence, injection fencing, RRM gate) on arbitrary
// tool names and inputs: it never panics, decides the same way twice, and
// always refuses a network tool's call to the loopback address, however
// the rest of the input is written.
func FuzzDefaultPolicy(f *testing.F) {
	for _, s := range [][2]string{
		{"browser", `{"url":"http://127.0.0.1/"}`}, {"fetch", `{"hoſt":"::1"}`}, {"calculator", "2+2"},
		{"web_fetch", `{"u":"x", "n": NaN,}`}, {"http", "see 127。0。0。1"}, {"x", `{"a":"\u002d\u002d"}`},
	} {
		f.Add(s[0], s[1])
	}
	c := guardrails.NewChain(Default())
	f.Fuzz(func(t *testing.T, tool, input string) {
		d1 := c.Check(context.Background(), callEvent(tool, input))
		d2 := c.Check(context.Background(), callEvent(tool, input))
		switch d1.Verdict {
		case trajectory.Allow, trajectory.Block, trajectory.Escalate:
		default:
			t.Fatalf("verdict %q", d1.Verdict)
		}
		if d1.Verdict != d2.Verdict {
			t.Fatalf("%q %q decided %s then %s", tool, input, d1.Verdict, d2.Verdict)
		}
		probe := callEvent("fetch", input+" http://127.0.0.1/")
		if d := c.Check(context.Background(), probe); d.Verdict == trajectory.Allow {
			t.Fatalf("loopback allowed in %q: %s", probe.Call.Input, d.Reason)
		}
	})
}

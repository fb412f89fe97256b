package guardrails

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/tools/netsafe"
	"github.com/reagent-go/reagent/trajectory"
)

func TestSchemaIsNotSkippedForUnparseableJSON(t *testing.T) {
	g, err := NewSchemaGuard(nil, true)
	require.NoError(t, err)
	schema := json.RawMessage(`{"type":"object","properties":{"amount":{"type":"number","maximum":1000}}}`)
	check := func(input string) trajectory.Decision {
		ev := callEvent("pay", input)
		ev.Tool.Parameters = schema
		return g.Check(ctx, ev)
	}
	assert.Equal(t, trajectory.Allow, check(`{"amount": 5}`).Verdict)
	assert.Equal(t, trajectory.Block, check(`{"amount": 5000}`).Verdict)
	d := check(`{"pad":"` + strings.Repeat("a", maxJSONWalk) + `","amount": 5000}`)
	assert.Equal(t, trajectory.Block, d.Verdict)
	assert.Contains(t, d.Reason, "over the")
	for _, in := range []string{`{"amount": NaN}`, `{"amount": 5000,}`, `{"amount": 5000`} {
		d := check(in)
		assert.Equal(t, trajectory.Block, d.Verdict, in)
		assert.Contains(t, d.Reason, "not strict JSON", in)
	}
	assert.Equal(t, trajectory.Allow, check(`2+2`).Verdict, "plain text is the tool's own to parse")
}

func TestArgRulesReadLenientJSONAndEscapes(t *testing.T) {
	g, err := NewArgGuard(ArgRule{Name: "no-rm", Deny: `rm\s+-rf`}, ArgRule{Name: "cmd-field", Field: "cmd", Deny: `shutdown`})
	require.NoError(t, err)
	for _, in := range []string{
		`{"cmd":"\u0072m -rf /", "n": NaN}`,
		`{"cmd":"\u0072m -rf /",}`,
		`{"cmd":"\u0072m -rf /" broken`,
		`{"cmd":"sh\u0075tdown now", "x": Infinity}`,
		`{"cmd":"x", "cmd":"shutdown"}`,
		`{"pad":"` + strings.Repeat("a", maxJSONWalk) + `","cmd":"\u0072m -rf /"}`,
	} {
		assert.Equal(t, trajectory.Block, g.Check(ctx, callEvent("shell", in)).Verdict, in[max(0, len(in)-60):])
	}
	assert.Equal(t, trajectory.Allow, g.Check(ctx, callEvent("shell", `{"cmd":"ls -la", "n": NaN}`)).Verdict)
}

func TestNetworkShapedName(t *testing.T) {
	for _, n := range []string{"fetch", "web_fetch", "requests_get", "http_get", "HTTP-GET", "webFetch", "curl", "download_file", "fetch_url", "urlFetch", "browser"} {
		assert.True(t, NetworkShapedName(n), n)
	}
	for _, n := range []string{"calculator", "get_time", "read_file", "search_notes", "request_approval", "fetcher_count", ""} {
		assert.False(t, NetworkShapedName(n), n)
	}
}

func TestURLKeysFoldAndSplit(t *testing.T) {
	for _, k := range []string{"url", "URL", "hoſt", "imageUrl", "remote_ip", "clientIP", "base-url", "ip"} {
		assert.True(t, isURLKey(k), k)
	}
	for _, k := range []string{"zip", "tip", "description", "skip", "urlencoded_body"} {
		assert.False(t, isURLKey(k), k)
	}
}

func TestNetworkGuardReadsWholeURLValues(t *testing.T) {
	g, err := NewNetworkGuard(netsafe.Policy{}, ToolMatch{}, false)
	require.NoError(t, err)
	for _, u := range []string{"http://example.com @127.0.0.1/", "http://example.com\t@127.0.0.1/", " http://127.0.0.1/ "} {
		in := fmt.Sprintf(`{"url":%q}`, u)
		assert.Equal(t, trajectory.Block, g.Check(ctx, callEvent("x", in)).Verdict, in)
	}
}

func TestOversizedInputIsRefusedOrEscalated(t *testing.T) {
	args, err := NewArgGuard(ArgRule{Name: "no-rm", Deny: `rm\s+-rf`})
	require.NoError(t, err)
	net, err := NewNetworkGuard(netsafe.Policy{}, ToolMatch{}, false)
	require.NoError(t, err)
	schema, err := NewSchemaGuard(nil, true)
	require.NoError(t, err)
	huge := `{"body":"` + strings.Repeat("a", maxGuardInput) + `"}`
	for _, g := range []Guard{args, net, schema} {
		ev := callEvent("fetch", huge)
		ev.Tool.Parameters = json.RawMessage(`{"type":"object"}`)
		d := g.Check(ctx, ev)
		assert.Equal(t, trajectory.Block, d.Verdict, g.Name())
		assert.Contains(t, d.Reason, "refused unread", g.Name())
	}
	// Between the parse limit and the hard limit: patterns run on the raw
	// text, and a clean input still needs a person.
	mid := `{"body":"` + strings.Repeat("a", maxJSONWalk) + `"}`
	d := args.Check(ctx, callEvent("shell", mid))
	assert.Equal(t, trajectory.Escalate, d.Verdict)
	assert.Contains(t, d.Reason, "raw text only")
	assert.Equal(t, trajectory.Block, args.Check(ctx, callEvent("shell", mid[:len(mid)-2]+` rm -rf /"}`)).Verdict)
	assert.Equal(t, trajectory.Allow, args.Check(ctx, callEvent("shell", strings.Repeat("a ", maxJSONWalk))).Verdict, "plain text over the JSON limit is read whole")
}

package redact

import (
	"strings"
	"testing"
)

// FuzzWindowsMatchWholeText checks the keyword windows against reading
// every text whole: the redacted output must be the same. The fuzzer picks
// two texts and the gap between them, so that secrets land near and far
// from keywords, at window edges and across them.
func FuzzWindowsMatchWholeText(f *testing.F) {
	for _, s := range []struct {
		a, b string
		gap  uint16
	}{
		{"api_key = ", "Zx81Qw3rTy8uIoPaSdFgHjKl", 0},
		{"the access token expires. key: ", "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", 900},
		{"password=", strings.Repeat("a1B2", 200), 3000},
		{"-----BEGIN RSA PRIVATE KEY-----\n", strings.Repeat("MIIEpAIBAAKCAQEAu1SU1L\n", 100), 2000},
		{"curl -u admin:p!ss ", "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD", 1500},
	} {
		f.Add(s.a, s.b, s.gap)
	}
	win := Default()
	whole := Default()
	whole.noWin = true
	f.Fuzz(func(t *testing.T, a, b string, gap uint16) {
		text := a + strings.Repeat("x ", int(gap)%4096) + b + " " + a + b
		if got, want := win.String(text), whole.String(text); got != want {
			t.Fatalf("windows and the whole text differ on %q:\n%q\n%q", text, got, want)
		}
	})
}

package redact

import (
	"regexp"
	"strings"
)

// The built-in rules. Each has literal needles, one of which must occur
// (ignoring ASCII case) for the pattern to match at all; see prefilter.
var defaultRuleNames = []string{
	"private-key", "url-password", "bearer-token", "authorization-header",
	"cookie-header", "openai-key", "stripe-key", "aws-access-key", "github-token",
	"slack-token", "google-api-key", "jwt", "secret-assignment",
}

func isDefault(name string) bool {
	for _, n := range defaultRuleNames {
		if n == name {
			return true
		}
	}
	return false
}

func withAccept(r rule, accept func(string) bool) rule {
	r.accept = accept
	return r
}

// looksRandom reports whether s has a digit, a token symbol, or an upper-case
// letter after its first character: what opaque tokens have and words lack.
func looksRandom(s string) bool {
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9', strings.ContainsRune("-._~+/=", c):
			return true
		case i > 0 && c >= 'A' && c <= 'Z':
			return true
		}
	}
	return false
}

func defaultRules() []rule {
	mk := func(name, expr string, needles ...string) rule {
		re := regexp.MustCompile(expr)
		g := re.SubexpIndex("secret")
		if g < 0 {
			g = 0
		}
		return rule{name: name, re: re, group: g, needles: needles}
	}
	return []rule{
		// PEM private keys, whole block; a block cut off before its END line
		// is redacted to the end of the text.
		mk("private-key", `-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*)`, "PRIVATE KEY-----"),
		// scheme://user:password@host keeps the user and host.
		mk("url-password", `\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]+:(?P<secret>[^\s/?#@]+)@`, "://"),
		// A bearer token must look random (a digit, a symbol or mixed case),
		// so that prose such as "bearer of bad news" is left alone.
		withAccept(mk("bearer-token", `(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)`, "bearer"), looksRandom),
		// Authorization / Proxy-Authorization headers in any scheme (Basic,
		// Digest, Token, …), as "Name: value", "name=value" or JSON.
		mk("authorization-header", `(?i)\bauthorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|digest|token|apikey|negotiate|ntlm|aws4-hmac-sha256)\s+)?(?P<secret>[^\s"',;}]+)`, "authorization"),
		mk("cookie-header", `(?i)\b(?:set-)?cookie["']?\s*:\s*["']?(?P<secret>[^\r\n"']+)`, "cookie"),
		// OpenAI, Anthropic and similar "sk-" keys.
		mk("openai-key", `\bsk-[A-Za-z0-9_\-]{16,}`, "sk-"),
		mk("stripe-key", `\b[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}`, "k_live_", "k_test_"),
		mk("aws-access-key", `\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b`, "AKIA", "ASIA", "AGPA", "AIDA", "AROA"),
		mk("github-token", `\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})`, "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
		mk("slack-token", `\bxox[abposr]-[A-Za-z0-9\-]{10,}`, "xox"),
		mk("google-api-key", `\bAIza[0-9A-Za-z_\-]{35}`, "AIza"),
		mk("jwt", `\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}`, "eyJ"),
		// key=value, key: value and "key": "value" for names that hold secrets.
		mk("secret-assignment", `(?i)\b(?:api[_\-]?key|access[_\-]?key|secret[_\-]?key|access[_\-]?token|auth[_\-]?token|refresh[_\-]?token|id[_\-]?token|client[_\-]?secret|private[_\-]?key|x-api-key|secret|password|passwd|passphrase|pwd|token)["']?\s*[:=]\s*["']?(?P<secret>[^\s"'&,;}<>\[][^\s"'&,;}<>]{2,})`,
			"key", "token", "secret", "pass", "pwd"),
	}
}

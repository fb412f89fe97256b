package redact

import (
	"regexp"
	"strings"
)

func withAccept(r rule, accept func(string) bool) rule {
	r.accept = accept
	return r
}

// notFiller rejects values made mostly of one repeated character
// ("ghp_xxxxxxxx…", "AKIAXXXXXXXXXXXXXXXX", "glc_1111…"): documentation
// placeholders, not keys.
func notFiller(s string) bool {
	var counts [256]int
	most := 0
	for i := 0; i < len(s); i++ {
		c := lowerASCII(s[i])
		counts[c]++
		most = max(most, counts[c])
	}
	return len(s) == 0 || most*2 < len(s)
}

// isConstantName reports whether s reads as a constant or variable name
// (ACCESS_TOKEN, MY_SECRET) rather than a value.
func isConstantName(s string) bool {
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

// hasKeyMaterial reports whether a private key block holds at least a few
// dozen characters of key text besides its header and footer lines.
func hasKeyMaterial(block string) bool {
	n := 0
	for _, line := range strings.Split(block, "\n") {
		if strings.Contains(line, "-----") {
			continue
		}
		for _, c := range line {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				n++
			}
		}
	}
	return n >= 24
}

// notPlaceholder rejects values that stand for a secret rather than being
// one: shell and template variables, <placeholders>, [placeholders] and the
// usual stand-in words.
func notPlaceholder(s string) bool {
	l := strings.ToLower(strings.Trim(s, `"'`))
	switch {
	case l == "", strings.HasPrefix(l, "$"), strings.HasPrefix(l, "<"), strings.HasPrefix(l, "["),
		strings.HasPrefix(l, "{"), strings.HasPrefix(l, "%"), strings.HasSuffix(l, ">"):
		return false
	}
	for _, w := range []string{"redacted", "your_", "_here", "placeholder"} {
		if strings.Contains(l, w) {
			return false
		}
	}
	switch strings.Trim(l, "*x.") {
	case "", "pass", "password", "passwd", "pwd", "secret", "token", "test", "changeme", "changeit":
		return false
	}
	return true
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

// builtinRules are the project's own rules, run before gitleaks' rule set:
// what an agent's trajectory holds and a repository scanner does not look
// for (headers and URLs with credentials in any form, truncated key blocks,
// curl passwords), and the vendor formats the project has always masked
// under these names. Each has literal needles, one of which must occur
// (ignoring ASCII case) for the pattern to match at all; see prefilter.
func builtinRules() []rule {
	mk := func(name, expr string, needles ...string) rule {
		re := regexp.MustCompile(expr)
		g := re.SubexpIndex("secret")
		if g < 0 {
			g = 0
		}
		return rule{name: name, re: re, group: g, needles: needles, builtin: true, maxLen: matchLimit(re)}
	}
	return []rule{
		// PEM private keys, whole block; a block cut off before its END line
		// is redacted to the end of the text.
		// PGP's "PRIVATE KEY BLOCK" included.
		// A block needs some key material: a header around "anything" is a
		// placeholder.
		withAccept(mk("private-key", `-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|[\s\S]*)`, "PRIVATE KEY"), hasKeyMaterial),
		// scheme://user:password@host keeps the user and host.
		mk("url-password", `\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]+:(?P<secret>[^\s/?#@]+)@`, "://"),
		// A bearer token must look random (a digit, a symbol or mixed case),
		// so that prose such as "bearer of bad news" is left alone.
		withAccept(mk("bearer-token", `(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)`, "bearer"), looksRandom),
		// Authorization / Proxy-Authorization headers in any scheme (Basic,
		// Digest, Token, Api-Token, a vendor's own word …), as "Name: value",
		// "name=value" or JSON: a scheme word followed by blanks is kept, and
		// everything after it up to the end of the value is masked (Digest's
		// parameters included); a value without a scheme is masked whole.
		withAccept(mk("authorization-header", `(?i)\bauthorization["']?[ \t]*[:=][ \t]*["']?(?:[A-Za-z][A-Za-z0-9._~+/-]*[ \t]+)?(?P<secret>[^\s"',;}&][^\r\n"'}&]*[^\s"',;}&]|[^\s"',;}&])`, "authorization"), notPlaceholder),
		mk("cookie-header", `(?i)\b(?:set-)?cookie["']?\s*:\s*["']?(?P<secret>[^\r\n"']+)`, "cookie"),
		// curl -u user:password / --user user:password: the password is
		// masked, the user kept; placeholders ($VAR, <pw>, user:pass) stay.
		withAccept(mk("curl-user", `(?i)\bcurl\b[^\r\n]*?[ \t](?:-u|--user)(?:=|[ \t]{1,5})["']?[^\s:"']*["']?:["']?(?P<secret>[^\s"']+)`, "curl"), notPlaceholder),
		// OpenAI and similar "sk-" keys of any length (gitleaks' rule wants
		// the exact OpenAI shape; Anthropic's keys have rules of their own).
		withAccept(mk("openai-key", `\bsk-[A-Za-z0-9_\-]{16,}`, "sk-"), func(s string) bool {
			return !strings.HasPrefix(s, "sk-ant-") && notFiller(s)
		}),
		// The vendor formats the project masked before it used gitleaks,
		// kept under their names; gitleaks' rules cover the rest (Slack,
		// Google, Hugging Face, …).
		withAccept(mk("stripe-key", `\b[rsp]k_(?:live|test|prod)_[A-Za-z0-9]{16,}`, "k_live_", "k_test_", "k_prod_"), notFiller),
		// AWS documents its example keys with an EXAMPLE suffix.
		withAccept(mk("aws-access-key", `\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b`, "AKIA", "ASIA", "AGPA", "AIDA", "AROA"), func(s string) bool {
			return notFiller(s) && !strings.HasSuffix(s, "EXAMPLE")
		}),
		withAccept(mk("github-token", `\b(?:gh[pousr]_[A-Za-z0-9_]{30,}|github_pat_[A-Za-z0-9_]{22,})`, "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), notFiller),
		mk("jwt", `\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}`, "eyJ"),
		// key=value, key: value and "key": "value" for names that hold
		// secrets (not a longer name such as csrf-token), on one line; constant
		// names and placeholders are not values.
		withAccept(mk("secret-assignment", `(?i)(?:^|[^A-Za-z0-9_-])(?:api[_\-]?key|access[_\-]?key|secret[_\-]?key|access[_\-]?token|auth[_\-]?token|refresh[_\-]?token|id[_\-]?token|client[_\-]?secret|private[_\-]?key|x-api-key|secret|password|passwd|passphrase|pwd|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[^\s"'&,;}<>()\[][^\s"'&,;}<>()]{2,})`,
			"key", "token", "secret", "pass", "pwd"), func(s string) bool { return notPlaceholder(s) && notFiller(s) && !isConstantName(s) }),
	}
}

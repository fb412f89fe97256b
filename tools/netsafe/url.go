package netsafe

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Target is one reading of a URL's destination.
type Target struct {
	Scheme string
	Host   Host
	Port   uint16
}

// maxURLLen bounds the work done on one URL.
const maxURLLen = 8192

// ParseURL reads the destination of a URL the way every common parser
// might: WHATWG (browsers: backslashes end the authority, "http:host" has
// one) and RFC 3986 / Go's net/url. It returns every distinct reading, so a
// check can refuse a URL when any reading is refused. Userinfo is dropped
// ("http://evil@127.0.0.1" targets 127.0.0.1); two '@' in the authority are
// an error, since parsers disagree about where the host starts.
func ParseURL(raw string) ([]Target, error) {
	if len(raw) > maxURLLen {
		return nil, fmt.Errorf("url longer than %d bytes", maxURLLen)
	}
	if t, ok := plainURL(raw); ok {
		return []Target{t}, nil
	}
	return parseURL(raw)
}

// plainURL reads the common URL on which every reading of ParseURL
// agrees, and reports whether raw is one: "http://" or "https://", a
// host of lower-case letters, digits, '.', '-' and '_' (no userinfo, no
// port, no percent-encoding), then nothing or '/', '?' or '#' followed by
// printable ASCII other than '\'. Browsers, RFC 3986 and net/url then
// all read that host with the scheme's default port (net/url may reject
// the rest, which only drops its reading). Anything else takes the full
// parse.
func plainURL(raw string) (Target, bool) {
	var scheme, rest string
	switch {
	case strings.HasPrefix(raw, "https://"):
		scheme, rest = "https", raw[len("https://"):]
	case strings.HasPrefix(raw, "http://"):
		scheme, rest = "http", raw[len("http://"):]
	default:
		return Target{}, false
	}
	end := len(rest)
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			continue
		}
		if c != '/' && c != '?' && c != '#' {
			return Target{}, false
		}
		end = i
		break
	}
	if end == 0 {
		return Target{}, false
	}
	for i := end; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return Target{}, false
		}
	}
	h, err := ParseHost(rest[:end])
	if err != nil {
		return Target{}, false // the full parse says why
	}
	return Target{Scheme: scheme, Host: h, Port: defaultPort(scheme)}, true
}

// parseURL is ParseURL's full reading of raw.
func parseURL(raw string) ([]Target, error) {
	// Browsers strip leading/trailing C0 controls and spaces and remove tabs
	// and newlines anywhere.
	s := strings.TrimFunc(raw, func(r rune) bool { return r <= ' ' })
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return nil, fmt.Errorf("url %q: control character", raw)
		}
	}
	colon := strings.IndexByte(s, ':')
	if colon <= 0 || !validScheme(s[:colon]) {
		return nil, fmt.Errorf("url %q: missing scheme", raw)
	}
	scheme := strings.ToLower(s[:colon])
	rest := s[colon+1:]

	var out []Target
	add := func(t Target) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	// WHATWG reading, for special schemes: any run of / and \ starts the
	// authority, which ends at / \ ? #.
	whatwg := strings.TrimLeft(rest, `/\`)
	if isSpecial(scheme) {
		t, err := readAuthority(raw, scheme, whatwg, `/\?#`)
		if err != nil {
			return nil, err
		}
		add(t)
	}
	// RFC 3986 reading: "//" starts the authority, which ends at / ? #.
	if strings.HasPrefix(rest, "//") {
		t, err := readAuthority(raw, scheme, rest[2:], "/?#")
		if err != nil {
			return nil, err
		}
		add(t)
	} else if !isSpecial(scheme) {
		return nil, fmt.Errorf("url %q: no authority", raw)
	}
	// Go's reading, since the HTTP client uses it.
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		t, err := readAuthority(raw, scheme, u.Host, "")
		if err != nil {
			return nil, err
		}
		add(t)
	}
	return out, nil
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// isSpecial lists the WHATWG special schemes, whose authority parsing is
// lenient about slashes.
func isSpecial(scheme string) bool {
	switch scheme {
	case "http", "https", "ws", "wss", "ftp", "file":
		return true
	}
	return false
}

func defaultPort(scheme string) uint16 {
	switch scheme {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	case "ftp":
		return 21
	}
	return 0
}

func readAuthority(raw, scheme, s, stops string) (Target, error) {
	if stops != "" {
		if i := strings.IndexAny(s, stops); i >= 0 {
			s = s[:i]
		}
	}
	switch strings.Count(s, "@") {
	case 0:
	case 1:
		s = s[strings.IndexByte(s, '@')+1:]
	default:
		return Target{}, fmt.Errorf("url %q: ambiguous userinfo (more than one '@')", raw)
	}
	host, portStr := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return Target{}, fmt.Errorf("url %q: unterminated IPv6 literal", raw)
		}
		host = s[:end+1]
		after := s[end+1:]
		if after != "" {
			if after[0] != ':' {
				return Target{}, fmt.Errorf("url %q: junk after IPv6 literal", raw)
			}
			portStr = after[1:]
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, portStr = s[:i], s[i+1:]
	}
	if host == "" {
		return Target{}, fmt.Errorf("url %q: empty host", raw)
	}
	port := defaultPort(scheme)
	if portStr != "" {
		n, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil {
			return Target{}, fmt.Errorf("url %q: invalid port %q", raw, portStr)
		}
		port = uint16(n)
	}
	h, err := ParseHost(host)
	if err != nil {
		return Target{}, fmt.Errorf("url %q: %w", raw, err)
	}
	return Target{Scheme: scheme, Host: h, Port: port}, nil
}

// CheckURL checks a URL: it must parse (in every reading), use an allowed
// scheme and port, and its host must pass CheckHost (resolved unless
// NoResolve).
func (p *Policy) CheckURL(ctx context.Context, raw string) error {
	if len(raw) <= maxURLLen {
		if t, ok := plainURL(raw); ok { // ParseURL's one target, without a slice
			return p.checkTarget(ctx, raw, t)
		}
	}
	targets, err := ParseURL(raw)
	if err != nil {
		return &BlockedError{Target: raw, Reason: err.Error()}
	}
	for _, t := range targets {
		if err := p.checkTarget(ctx, raw, t); err != nil {
			return err
		}
	}
	return nil
}

func (p *Policy) checkTarget(ctx context.Context, raw string, t Target) error {
	schemes := p.Schemes
	if len(schemes) == 0 {
		schemes = []string{"http", "https"}
	}
	if !slices.ContainsFunc(schemes, func(s string) bool { return strings.EqualFold(s, t.Scheme) }) {
		return blocked(raw, "scheme %q not allowed", t.Scheme)
	}
	if err := p.checkPort(raw, t.Port); err != nil {
		return err
	}
	if err := p.checkParsed(t.Host); err != nil {
		return err
	}
	if t.Host.IsIP() || p.NoResolve {
		return nil
	}
	_, err := p.resolve(ctx, t.Host.Name)
	return err
}

package guardrails

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/reagent-go/reagent/internal/trunc"
	"github.com/reagent-go/reagent/tools/netsafe"
	"github.com/reagent-go/reagent/trajectory"
)

// NetworkGuard checks every URL found in a tool's input against a
// netsafe.Policy: scheme, domain rules, and the addresses the host names
// or means (private, loopback, metadata, every IPv4 and IPv6 spelling).
// URLs are taken from JSON string fields and from free text; a JSON field
// whose key names a URL or host ("url", "host", "endpoint", …) and an input
// that is a single bare host ("127.0.0.1:8080/admin") count as URLs too.
//
// By default names are not resolved here: tools dial through
// netsafe.Policy.DialContext, which checks the address at connect time.
type NetworkGuard struct {
	policy netsafe.Policy
	tools  ToolMatch
}

// NewNetworkGuard returns a guard for the tools selected by tools (empty:
// every tool). resolve makes it look names up now and check their
// addresses (needs DNS where the agent runs).
func NewNetworkGuard(p netsafe.Policy, tools ToolMatch, resolve bool) (*NetworkGuard, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("network guard: %w", err)
	}
	p.NoResolve = !resolve
	return &NetworkGuard{policy: p, tools: tools}, nil
}

// Policy returns a copy of the guard's network policy, for tools that
// should dial under the same rules.
func (g *NetworkGuard) Policy() netsafe.Policy { return g.policy }

// Name returns "network".
func (g *NetworkGuard) Name() string { return "network" }

// Handles reports that the guard checks tool calls only.
func (g *NetworkGuard) Handles(kind trajectory.GuardEvent) bool {
	return kind == trajectory.EventToolCall
}

// Check refuses the call when any URL in its input is refused.
func (g *NetworkGuard) Check(ctx context.Context, ev *Event) trajectory.Decision {
	tool := toolName(ev)
	if !g.tools.Empty() {
		if ok, _ := g.tools.matches(ev, tool); !ok {
			return allow("tool does not reach the network")
		}
	}
	if d, big := tooLarge(callInput(ev)); big {
		return d
	}
	pc := ev.parsed()
	if !pc.hasURLs {
		values, err := pc.values, pc.err
		if err != nil && pc.lenient {
			err = nil // lenient JSON: read its values, as the tool will
		}
		pc.urls, pc.hasURLs = extractURLs(pc.input, values, err, pc.urlBuf[:0]), true
		if pc.unescaped != "" {
			for _, u := range extractURLs(pc.unescaped, nil, errNotJSON, nil) {
				if !slices.Contains(pc.urls, u) {
					pc.urls = append(pc.urls, u)
				}
			}
		}
	}
	urls := pc.urls
	if len(urls) == 0 {
		return allow("no URL in the input")
	}
	for _, u := range urls {
		if err := g.policy.CheckURL(ctx, u); err != nil {
			return decide(trajectory.Block, fmt.Sprintf("URL %s refused: %s", trunc.Quote(u, 200), reasonOf(err)))
		}
	}
	return allow("URLs allowed")
}

func reasonOf(err error) string {
	var be *netsafe.BlockedError
	if errors.As(err, &be) {
		return be.Reason
	}
	return err.Error()
}

// Describe summarizes the network policy.
func (g *NetworkGuard) Describe() string {
	p := g.policy
	var parts []string
	scope := "every tool"
	if !g.tools.Empty() {
		scope = g.tools.String()
	}
	parts = append(parts, scope)
	if len(p.AllowDomains) > 0 {
		parts = append(parts, "allow domains "+strings.Join(p.AllowDomains, ", "))
	}
	if len(p.DenyDomains) > 0 {
		parts = append(parts, "deny domains "+strings.Join(p.DenyDomains, ", "))
	}
	var opened []string
	if p.AllowPrivate {
		opened = append(opened, "private")
	}
	if p.AllowLoopback {
		opened = append(opened, "loopback")
	}
	if p.AllowMetadata {
		opened = append(opened, "cloud metadata")
	}
	if len(opened) > 0 {
		parts = append(parts, "allows "+strings.Join(opened, ", "))
	} else {
		parts = append(parts, "private, loopback and metadata addresses refused")
	}
	if !p.NoResolve {
		parts = append(parts, "names resolved at check time")
	}
	return "network: " + strings.Join(parts, "; ")
}

// specialSchemes may be written with any number of slashes, or none
// ("http:host", "http:/\\host"); other schemes count only with "://".
var specialSchemes = map[string]bool{
	"http": true, "https": true, "ws": true, "wss": true, "ftp": true, "file": true, "gopher": true,
	"dict": true, "ldap": true, "ldaps": true, "tftp": true, "sftp": true, "smb": true, "jar": true, "netdoc": true,
}

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-'
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isURLStop ends a URL in free text: white space, quotes, angle brackets
// and the characters RFC 3986 never allows unescaped.
func isURLStop(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', '"', '\'', '<', '>', '`', '{', '}', '|', '^':
		return true
	}
	return false
}

// findSchemeURLs calls add with every "scheme:…" URL in text (special
// schemes with any slashes, others with "://") and every protocol-relative
// "//host…" that starts a word.
func findSchemeURLs(text string, add func(string)) {
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case ':':
			j := i
			for j > 0 && isSchemeByte(text[j-1]) {
				j--
			}
			for j < i && !isASCIILetter(text[j]) {
				j++
			}
			if j == i || (j > 0 && text[j-1] == '_') {
				continue
			}
			scheme := strings.ToLower(text[j:i])
			body := i + 1
			if specialSchemes[scheme] {
				for body < len(text) && (text[body] == '/' || text[body] == '\\') {
					body++
				}
			} else if len(scheme) < 2 || len(scheme) > 21 || !strings.HasPrefix(text[i+1:], "//") {
				continue
			}
			k := body
			for k < len(text) && !isURLStop(text[k]) {
				k++
			}
			if k > body {
				add(text[j:k])
				i = k - 1
			}
		case '/', '\\':
			// "//host", and the forms browsers read the same way:
			// "\\host", "/\\host", "\\/host".
			if i+1 < len(text) && (text[i+1] == '/' || text[i+1] == '\\') && (i == 0 || strings.IndexByte(" \t\r\n\"'(=", text[i-1]) >= 0) {
				k := i + 2
				for k < len(text) && !isURLStop(text[k]) {
					k++
				}
				if k > i+2 {
					add("http://" + text[i+2:k])
				}
				i = k - 1
			}
		}
	}
}

// findBareIPs calls add with "http://" + every dotted-quad IPv4 address and
// every bracketed IPv6 address (with an optional port) that stands on its
// own in text (not inside a name, path or URL).
func findBareIPs(text string, add func(string)) {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if !(c >= '0' && c <= '9') && c != '[' {
			continue
		}
		if i > 0 {
			if p := text[i-1]; isWordByte(p) || strings.IndexByte(".:/@-", p) >= 0 {
				continue
			}
		}
		end := -1
		if c == '[' {
			k := strings.IndexByte(text[i:], ']')
			if k < 2 {
				continue
			}
			inner := text[i+1 : i+k]
			if z := strings.IndexByte(inner, '%'); z >= 0 {
				inner = inner[:z]
			}
			if inner == "" || strings.IndexFunc(inner, func(r rune) bool { return !(r == ':' || r == '.' || r < 128 && isHexByte(byte(r))) }) >= 0 {
				continue
			}
			end = i + k + 1
		} else {
			k := i
			for group := 0; group < 4; group++ {
				n := 0
				for k < len(text) && n < 3 && text[k] >= '0' && text[k] <= '9' {
					k++
					n++
				}
				if n == 0 {
					k = -1
					break
				}
				if group < 3 {
					if k >= len(text) || text[k] != '.' {
						k = -1
						break
					}
					k++
				}
			}
			if k < 0 {
				continue
			}
			end = k
		}
		if end < len(text) && text[end] == ':' {
			k := end + 1
			for k < len(text) && text[k] >= '0' && text[k] <= '9' {
				k++
			}
			if k > end+1 {
				end = k
			}
		}
		add("http://" + text[i:end])
		i = end - 1
	}
}

func isHexByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// urlKeys are JSON keys whose string value is a URL, host or address even
// without a scheme; a key matches when it is one of these or its last word
// is ("image_url", "baseUrl", "remote_ip", "clientIP"), compared after the
// case folding Go's encoding/json applies ("hoſt" is host).
var urlKeys = map[string]bool{
	"url": true, "uri": true, "href": true, "link": true, "endpoint": true, "host": true,
	"hostname": true, "domain": true, "address": true, "addr": true, "target": true,
	"server": true, "base_url": true, "baseurl": true, "website": true, "site": true,
	"location": true, "redirect": true, "redirect_url": true, "callback": true,
	"webhook": true, "proxy": true, "src": true, "image_url": true, "page": true,
	"ip": true, "ipv4": true, "ipv6": true, "ipaddr": true, "ip_address": true, "origin": true,
	"destination": true, "dest": true, "upstream": true, "remote": true, "socket": true,
}

// isURLKey reports whether a JSON key names a URL, host or address.
func isURLKey(key string) bool {
	var k string
	if isASCII(key) {
		k = strings.ToLower(key) // ASCII folds to itself: no rune walk
	} else {
		k = foldKey(key)
	}
	if urlKeys[k] {
		return true
	}
	// The last word: split at '_', '-', '.', ' ' and lower-to-upper changes.
	last := k
	if i := strings.LastIndexAny(k, "_-. "); i >= 0 {
		last = k[i+1:]
	} else if k != key || !isASCII(key) {
		// The same walk over bytes for ASCII keys (k is then the lowered
		// key, and foldKey of ASCII is strings.ToLower): an upper-case
		// letter after a lower-case one starts the last word.
		if isASCII(key) {
			for i := len(key) - 1; i > 0; i-- {
				if c, p := key[i], key[i-1]; c >= 'A' && c <= 'Z' && p >= 'a' && p <= 'z' {
					last = k[i:]
					break
				}
			}
			return last != k && urlKeys[last]
		}
		last = lastCamelWord(key, k)
	}
	return last != k && urlKeys[last]
}

// lastCamelWord returns the folded word that starts at key's last change
// from a lower-case to an upper-case letter, or k (key folded) when there
// is none.
func lastCamelWord(key, k string) string {
	rs := []rune(key)
	for i := len(rs) - 1; i > 0; i-- {
		if unicode.IsUpper(rs[i]) && unicode.IsLower(rs[i-1]) {
			return foldKey(string(rs[i:]))
		}
	}
	return k
}

// foldKey lowers a key with Unicode simple case folding, as Go's
// encoding/json matches keys to fields: every rune becomes the smallest of
// its fold orbit, lowered ("hoſt" and "HOST" both read "host", the Kelvin
// sign reads "k").
func foldKey(key string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return unicode.ToLower(m)
	}, key)
}

// dotForms maps the characters browsers and IDNA read as dots and digits
// in host names (fullwidth and ideographic full stops, fullwidth digits
// and colons) to ASCII, for free text such as "127。0。0。1".
var dotForms = strings.NewReplacer(
	"\u3002", ".", "\uFF0E", ".", "\uFF61", ".", "\uFE52", ".", "\uFF1A", ":", "\uFF0F", "/",
	"\uFF10", "0", "\uFF11", "1", "\uFF12", "2", "\uFF13", "3", "\uFF14", "4",
	"\uFF15", "5", "\uFF16", "6", "\uFF17", "7", "\uFF18", "8", "\uFF19", "9",
)

// findProseHosts calls add with every word of text that is an address
// written without a scheme: short and numeric IPv4 forms with a port or a
// path ("127.1/admin", "0x7f.1:80"), bare IPv6 ("::1"), bracketed IPv6 and
// localhost with a port. Dotted names are left alone: prose is full of
// them, and a domain list is checked on real URLs.
func findProseHosts(text string, add func(string)) {
	// Every form found here has a port, a path or IPv6 colons.
	if !strings.ContainsAny(text, ":/\\") {
		return
	}
	for w := range proseWords(text) {
		w = strings.Trim(w, ".,;:!?\"'()")
		if w == "" || strings.Contains(w, "://") || strings.IndexFunc(w, func(r rune) bool { return r >= '0' && r <= '9' }) < 0 && !strings.HasPrefix(strings.ToLower(w), "localhost:") {
			continue
		}
		if ip := bareIPv6(w); ip != "" {
			add("http://[" + ip + "]")
			continue
		}
		if !looksLikeHost(w, false) {
			continue
		}
		host := w
		if i := strings.IndexAny(host, "/?#\\"); i >= 0 {
			host = host[:i]
		}
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
			host = host[:i]
		}
		h, err := netsafe.ParseHost(strings.Trim(host, "[]"))
		if err == nil && (h.IsIP() || h.Name == "localhost") {
			add("http://" + w)
		}
	}
}

// isProseSep separates the words findProseHosts reads: white space
// (unicode.IsSpace) and quotes, angle brackets, parentheses, braces,
// commas and semicolons (square brackets stay: they enclose IPv6 hosts).
func isProseSep(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune("\"'`<>()[]{},;", r) && r != '[' && r != ']'
}

// proseSepASCII is isProseSep for each ASCII byte.
var proseSepASCII = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = isProseSep(rune(c))
	}
	return t
}()

// proseWords yields the words of text as strings.FieldsFunc(text,
// isProseSep) lists them, without building the list: ASCII bytes are
// classified by one table lookup.
func proseWords(text string) iter.Seq[string] {
	return func(yield func(string) bool) {
		start := -1
		for i := 0; i < len(text); {
			sep, size := false, 1
			if c := text[i]; c < utf8.RuneSelf {
				sep = proseSepASCII[c]
			} else {
				var r rune
				r, size = utf8.DecodeRuneInString(text[i:])
				sep = isProseSep(r)
			}
			if sep {
				if start >= 0 {
					if !yield(text[start:i]) {
						return
					}
					start = -1
				}
			} else if start < 0 {
				start = i
			}
			i += size
		}
		if start >= 0 {
			yield(text[start:])
		}
	}
}

// bareIPv6 returns t when it is an unbracketed IPv6 address ("::1",
// "fe80::1%eth0"), else "".
func bareIPv6(t string) string {
	if strings.Count(t, ":") < 2 || strings.ContainsAny(t, "[]/") {
		return ""
	}
	addr := t
	if z := strings.IndexByte(addr, '%'); z >= 0 {
		addr = addr[:z]
	}
	if _, err := netip.ParseAddr(addr); err != nil {
		return ""
	}
	return addr
}

// ExtractURLs finds the URLs a tool input may reach: in JSON string values
// (decoded) and free text, with percent-encoding and HTML references
// undone, plus values of URL-ish JSON keys and a bare host given as the
// whole input (both read as http://…). Duplicates are removed.
func ExtractURLs(input string) []string {
	values, err := walkJSON(input)
	return extractURLs(input, values, err, nil)
}

// extractURLs is ExtractURLs of a read input, appending to out (empty).
func extractURLs(input string, values []jsonValue, err error, out []string) []string {
	var seen map[string]struct{} // once out is long: an input may hold thousands of URLs
	add := func(u string) {
		u = strings.TrimRight(u, ".,;:!?)]}'\"")
		if u == "" {
			return
		}
		if seen == nil {
			if slices.Contains(out, u) {
				return
			}
			out = append(out, u)
			if len(out) == 16 {
				seen = make(map[string]struct{}, 64)
				for _, v := range out {
					seen[v] = struct{}{}
				}
			}
			return
		}
		if _, dup := seen[u]; !dup {
			seen[u] = struct{}{}
			out = append(out, u)
		}
	}
	scan := func(text string) {
		forms := []string{text}
		if d := decodeLayers(text); d != text {
			forms = append(forms, d)
		}
		if !isASCII(text) {
			for _, f := range forms {
				if d := dotForms.Replace(norm.NFKC.String(f)); d != f && !slices.Contains(forms, d) {
					forms = append(forms, d)
				}
			}
		}
		for _, f := range forms {
			findSchemeURLs(f, add)
			if strings.ContainsAny(f, ".[:") {
				findBareIPs(f, add)
				findProseHosts(f, add)
			}
		}
	}
	// whole reads a value that is one URL as a browser or Python's
	// requests would: surrounding blanks dropped, tabs and newlines
	// removed, and spaces kept inside it ("http://a.com @127.0.0.1/" goes
	// to 127.0.0.1), where free-text scanning stops at the first space.
	whole := func(text string) {
		t := strings.TrimSpace(text)
		if !strings.ContainsAny(t, " \t\r\n") {
			return
		}
		t = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, t)
		// Only a value shaped like an absolute URL ("http://…", "http:\\…"),
		// not prose that starts with "http:" or "file:".
		if i := strings.Index(t, ":"); i > 0 && specialSchemes[strings.ToLower(t[:i])] &&
			i+1 < len(t) && (t[i+1] == '/' || t[i+1] == '\\') {
			add(t)
		}
	}
	bare := func(text string, keyed bool) {
		forms := []string{strings.TrimSpace(text)}
		if d := strings.TrimSpace(decodeLayers(text)); d != forms[0] {
			forms = append(forms, d) // "+" and %20 read as spaces: check both readings
		}
		for _, t := range forms {
			if t == "" || strings.Contains(t, "://") {
				continue
			}
			if ip := bareIPv6(t); ip != "" {
				add("http://[" + ip + "]")
				continue
			}
			words := []string{t}
			if keyed && strings.ContainsAny(t, " \t\r\n") {
				words = strings.Fields(t) // a keyed value: any word may be the host
			}
			for _, w := range words {
				if !strings.ContainsAny(w, " \t\r\n") && looksLikeHost(w, keyed) {
					add("http://" + w)
				}
			}
		}
	}
	if err != nil {
		scan(input)
		whole(input)
		bare(input, false)
		return out
	}
	for _, v := range values {
		if !v.isText {
			continue
		}
		scan(v.text)
		whole(v.text)
		n := len(v.path)
		bare(v.text, n > 0 && isURLKey(v.path[n-1]))
	}
	return out
}

// looksLikeHost reports whether t, a single token without a scheme, reads
// as host[:port][/path]. keyed (the value of a "url"-like JSON key) accepts
// any valid host; otherwise the token must clearly be one: a dotted name
// with a letter in its last label, localhost, a metadata name, bracketed
// IPv6, a dotted quad, or a numeric host followed by a port or path
// ("127.1/admin"), so that "3.14" is not read as 3.0.0.14.
func looksLikeHost(t string, keyed bool) bool {
	if !keyed && plainWord(t) {
		return false // a word of prose ("GET"): no dot, port, path or percent sign (FuzzPlainWord)
	}
	return looksLikeHostParsed(t, keyed)
}

// plainWord reports whether t is ASCII without any of ".:/?#\\@[%" and is
// not localhost or metadata (in any case): looksLikeHost, unkeyed, refuses
// such a word, since its host could only be a name without a dot or an
// IP address without a dot or suffix.
func plainWord(t string) bool {
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= 0x80:
			return false
		case c == '.' || c == ':' || c == '/' || c == '?' || c == '#' || c == '\\' || c == '@' || c == '[' || c == '%':
			return false
		}
	}
	return !strings.EqualFold(t, "localhost") && !strings.EqualFold(t, "metadata")
}

// looksLikeHostParsed is looksLikeHost by parsing the host.
func looksLikeHostParsed(t string, keyed bool) bool {
	host := t
	if i := strings.IndexAny(host, "/?#\\"); i >= 0 {
		host = host[:i]
	}
	suffix := host != t
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host, suffix = host[at+1:], true
	}
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return false
		}
		_, err := netsafe.ParseHost(host[:end+1])
		return err == nil
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host, suffix = host[:i], true
	}
	h, err := netsafe.ParseHost(host)
	switch {
	case err != nil:
		return false
	case keyed:
		return true
	case h.IsIP():
		return suffix || strings.Count(host, ".") == 3
	case h.Name == "localhost" || h.Name == "metadata":
		return true
	}
	dot := strings.LastIndexByte(h.Name, '.')
	return dot > 0 && strings.IndexFunc(h.Name[dot+1:], func(r rune) bool { return r >= 'a' && r <= 'z' }) >= 0
}

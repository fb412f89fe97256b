package netsafe

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Host is a URL host after normalization: an IP address (Addr valid) or a
// domain name (Name set, lower case, ASCII, without a trailing dot).
type Host struct {
	Name string
	Addr netip.Addr
}

// IsIP reports whether the host is an IP address.
func (h Host) IsIP() bool { return h.Addr.IsValid() }

// String returns the normalized host.
func (h Host) String() string {
	if h.Addr.IsValid() {
		return h.Addr.String()
	}
	return h.Name
}

// maxHostLen bounds the work done on a host; DNS names are at most 253 bytes,
// and percent-encoding at most triples that.
const maxHostLen = 1024

// ParseHost normalizes a URL host the way browsers and C resolvers read it,
// so that a check sees the address that will really be dialed. It accepts
// percent-encoding, full-width and other Unicode forms (IDNA mapping),
// trailing dots, bracketed or bare IPv6 (zones dropped), and every IPv4 form
// inet_aton accepts: decimal (2130706433), octal (0177.0.0.1), hex
// (0x7f.1), and short forms (127.1). A host whose last label is numeric but
// is not a valid IPv4 address is an error, not a domain name.
func ParseHost(raw string) (Host, error) {
	if len(raw) > maxHostLen {
		return Host{}, errors.New("host too long")
	}
	h := raw
	// Decode percent-encoding until it is stable: %2531 decodes to %31 and
	// then to "1", and a resolver may do the same.
	for i := 0; i < 4 && strings.Contains(h, "%"); i++ {
		if strings.HasPrefix(h, "[") {
			break // an IPv6 zone is %25-encoded; handled below
		}
		d, err := url.PathUnescape(h)
		if err != nil {
			return Host{}, fmt.Errorf("host %q: bad percent-encoding", raw)
		}
		if d == h {
			break
		}
		h = d
	}
	if strings.HasPrefix(h, "[") {
		if !strings.HasSuffix(h, "]") {
			return Host{}, fmt.Errorf("host %q: unterminated IPv6 literal", raw)
		}
		return parseIPv6(raw, h[1:len(h)-1])
	}
	if strings.Contains(h, ":") {
		return parseIPv6(raw, h)
	}
	if !isASCII(h) {
		// IDNA maps full-width digits and dots (U+3002, U+FF0E, U+FF61) to
		// ASCII, as a browser does before it looks for an IPv4 address.
		a, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return Host{}, fmt.Errorf("host %q: invalid international name: %w", raw, err)
		}
		h = a
	}
	h = strings.ToLower(h)
	h = strings.TrimRight(h, ".")
	if h == "" {
		return Host{}, fmt.Errorf("host %q: empty", raw)
	}
	if looksNumeric(h[strings.LastIndexByte(h, '.')+1:]) {
		a, err := parseIPv4Loose(strings.Split(h, "."))
		if err != nil {
			return Host{}, fmt.Errorf("host %q: numeric host is not a valid IPv4 address: %w", raw, err)
		}
		return Host{Addr: a}, nil
	}
	if len(h) > 253 {
		return Host{}, fmt.Errorf("host %q: name longer than 253 bytes", raw)
	}
	if err := checkLabels(h); err != "" {
		return Host{}, fmt.Errorf("host %q: %s", raw, err)
	}
	return Host{Name: h}, nil
}

// checkLabels says what is wrong with the dot-separated labels of a
// lower-case name, or "" when each is 1 to 63 bytes of [a-z0-9_-]. It
// walks the name in place: hosts are checked on every tool call.
func checkLabels(h string) string {
	start := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			if c := h[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("invalid character %q", c)
			}
			continue
		}
		switch n := i - start; {
		case n == 0:
			return "empty label"
		case n > 63:
			return "label longer than 63 bytes"
		}
		start = i + 1
	}
	return ""
}

func parseIPv6(raw, s string) (Host, error) {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		s = s[:i] // zone ("%25eth0" or "%eth0"): the address decides
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return Host{}, fmt.Errorf("host %q: invalid IPv6 address", raw)
	}
	return Host{Addr: a}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// looksNumeric follows the WHATWG "ends in a number" rule: a last label made
// of digits, or 0x followed by hex digits, turns the host into an IPv4
// address (or an error), never a name to resolve.
func looksNumeric(l string) bool {
	if l == "" {
		return false
	}
	if strings.HasPrefix(l, "0x") {
		for i := 2; i < len(l); i++ {
			if !isHex(l[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
}

// parseIPv4Loose parses the inet_aton forms: 1 to 4 parts, each decimal,
// octal (leading 0) or hex (0x); the last part fills the remaining bytes.
func parseIPv4Loose(parts []string) (netip.Addr, error) {
	if len(parts) > 4 {
		return netip.Addr{}, errors.New("more than 4 parts")
	}
	var nums [4]uint64
	for i, p := range parts {
		n, err := parseIPv4Part(p)
		if err != nil {
			return netip.Addr{}, err
		}
		nums[i] = n
	}
	last := len(parts) - 1
	for i := 0; i < last; i++ {
		if nums[i] > 255 {
			return netip.Addr{}, fmt.Errorf("part %d exceeds 255", i+1)
		}
	}
	max := uint64(1)<<(8*(4-uint(last))) - 1
	if nums[last] > max {
		return netip.Addr{}, errors.New("last part out of range")
	}
	v := nums[last]
	for i := 0; i < last; i++ {
		v |= nums[i] << (8 * (3 - uint(i)))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
}

func parseIPv4Part(p string) (uint64, error) {
	if p == "" {
		return 0, errors.New("empty part")
	}
	base := 10
	switch {
	case strings.HasPrefix(p, "0x"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, nil // "0x" alone is zero in WHATWG
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	// 32 hex digits is far beyond any valid part; bound the parse.
	p = strings.TrimLeft(p, "0")
	if p == "" {
		return 0, nil
	}
	if len(p) > 16 {
		return 0, errors.New("part out of range")
	}
	n, err := strconv.ParseUint(p, base, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid part %q", p)
	}
	return n, nil
}

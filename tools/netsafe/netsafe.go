// Package netsafe keeps tools that reach the network away from addresses
// they must not reach (SSRF): loopback, private and link-local ranges, cloud
// metadata services, and whatever a policy denies. It checks URLs in every
// form a browser or resolver accepts, resolves names and checks every
// address, and dials the checked address itself so that a DNS answer that
// changes between check and connect (rebinding) cannot slip through.
package netsafe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// ErrBlocked is wrapped by every error that refuses a URL, host or address.
var ErrBlocked = errors.New("netsafe: blocked")

// BlockedError says what was refused and why. It wraps ErrBlocked and, when a
// lookup failed, the lookup's error.
type BlockedError struct {
	Target string
	Reason string
	Err    error
}

// Error says what was refused and why.
func (e *BlockedError) Error() string {
	if e.Target == "" {
		return "netsafe: blocked: " + e.Reason
	}
	return fmt.Sprintf("netsafe: blocked %q: %s", e.Target, e.Reason)
}

// Unwrap returns ErrBlocked and the underlying cause, if any.
func (e *BlockedError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrBlocked, e.Err}
	}
	return []error{ErrBlocked}
}

func blocked(target, format string, args ...any) error {
	return &BlockedError{Target: target, Reason: fmt.Sprintf(format, args...)}
}

// Resolver looks up the addresses of a host. *net.Resolver implements it;
// tests inject their own to control answers.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy says which hosts and addresses may be reached. The zero value
// allows public addresses over http and https and refuses loopback,
// private, link-local, CGNAT, unique-local, unspecified, multicast,
// reserved and cloud-metadata addresses. A Policy must not be changed while
// it is in use.
type Policy struct {
	// AllowDomains, when not empty, is the only set of host names that may
	// be reached (IP literals then need AllowCIDRs). "example.com" matches
	// the name and every subdomain; "*.example.com" only subdomains.
	AllowDomains []string
	// DenyDomains are refused, with the same matching; deny wins over allow.
	DenyDomains []string
	// AllowPrivate admits private (RFC 1918), link-local, CGNAT and
	// unique-local IPv6 addresses; cloud-metadata addresses stay refused.
	AllowPrivate bool
	// AllowLoopback admits 127.0.0.0/8, ::1 and "localhost" names.
	AllowLoopback bool
	// AllowMetadata admits cloud metadata endpoints (169.254.169.254, …).
	AllowMetadata bool
	// AllowCIDRs are admitted whatever their category; DenyCIDRs are
	// refused and win over everything.
	AllowCIDRs []netip.Prefix
	DenyCIDRs  []netip.Prefix
	// Schemes allowed in URLs (default "http" and "https").
	Schemes []string
	// Ports, when not empty, are the only destination ports allowed.
	Ports []uint16
	// NoResolve makes CheckURL and CheckHost check names without DNS (for
	// a guard that runs before the tool, offline). DialContext always
	// resolves and checks.
	NoResolve bool
	// Resolver answers DNS lookups (default net.DefaultResolver).
	Resolver Resolver
	// Dialer connects (default: a net.Dialer with a 30 s timeout).
	Dialer *net.Dialer
}

// Validate reports a malformed domain pattern.
func (p *Policy) Validate() error {
	for _, list := range [][]string{p.AllowDomains, p.DenyDomains} {
		for _, d := range list {
			if _, _, err := normPattern(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckAddr checks one IP address against the CIDR rules and categories.
func (p *Policy) CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return blocked("", "invalid address")
	}
	for _, e := range embedded(a) {
		for _, pr := range p.DenyCIDRs {
			if pr.Contains(e) {
				return blocked(a.String(), "address in denied range %s", pr)
			}
		}
	}
	for _, e := range embedded(a) {
		for _, pr := range p.AllowCIDRs {
			if pr.Contains(e) {
				return nil
			}
		}
	}
	if c := Classify(a); c != "" && !p.allows(c) {
		return blocked(a.String(), "%s address", c)
	}
	return nil
}

func (p *Policy) allows(c Category) bool {
	switch c {
	case CatLoopback:
		return p.AllowLoopback
	case CatPrivate, CatLinkLocal, CatCGNAT, CatUniqueLocal:
		return p.AllowPrivate
	case CatMetadata:
		return p.AllowMetadata
	}
	return false
}

// CheckHost checks a host (name or IP literal in any form). A name is
// checked against the domain rules and, unless NoResolve, resolved: every
// address it resolves to must pass.
func (p *Policy) CheckHost(ctx context.Context, host string) error {
	h, err := ParseHost(host)
	if err != nil {
		return &BlockedError{Target: host, Reason: err.Error()}
	}
	if err := p.checkParsed(h); err != nil {
		return err
	}
	if h.IsIP() || p.NoResolve {
		return nil
	}
	_, err = p.resolve(ctx, h.Name)
	return err
}

// checkParsed applies every rule that needs no DNS.
func (p *Policy) checkParsed(h Host) error {
	if h.IsIP() {
		if err := p.CheckAddr(h.Addr); err != nil {
			return err
		}
		if len(p.AllowDomains) > 0 && !p.inAllowCIDRs(h.Addr) {
			return blocked(h.String(), "IP address not in the allowed domains")
		}
		return nil
	}
	name := h.Name
	if matchAny(p.DenyDomains, name) {
		return blocked(name, "domain denied")
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		if !p.AllowLoopback {
			return blocked(name, "loopback name")
		}
	}
	if slices.Contains(metadataNames, name) && !p.AllowMetadata {
		return blocked(name, "cloud-metadata name")
	}
	if len(p.AllowDomains) > 0 && !matchAny(p.AllowDomains, name) {
		return blocked(name, "domain not in the allowed list")
	}
	return nil
}

func (p *Policy) inAllowCIDRs(a netip.Addr) bool {
	for _, e := range embedded(a) {
		for _, pr := range p.AllowCIDRs {
			if pr.Contains(e) {
				return true
			}
		}
	}
	return false
}

// resolve looks name up and checks every answer; one refused answer
// refuses the name, since an attacker's DNS may mix answers.
func (p *Policy) resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, &BlockedError{Target: name, Reason: "cannot resolve: " + err.Error(), Err: err}
	}
	if len(addrs) == 0 {
		return nil, blocked(name, "no addresses")
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return nil, blocked(name, "resolves to %s: %s", a.WithZone(""), reasonOf(err))
		}
	}
	return addrs, nil
}

func reasonOf(err error) string {
	var be *BlockedError
	if errors.As(err, &be) {
		return be.Reason
	}
	return err.Error()
}

func (p *Policy) checkPort(target string, port uint16) error {
	if len(p.Ports) > 0 && !slices.Contains(p.Ports, port) {
		return blocked(target, "port %d not allowed", port)
	}
	return nil
}

// normPattern returns the domain of a pattern and whether it matches only
// subdomains ("*.example.com").
func normPattern(pat string) (string, bool, error) {
	if d, sub, ok := plainPattern(pat); ok {
		return d, sub, nil
	}
	p := strings.TrimSpace(strings.ToLower(pat))
	sub := false
	if strings.HasPrefix(p, "*.") {
		sub, p = true, p[2:]
	} else if strings.HasPrefix(p, ".") {
		p = p[1:]
	}
	h, err := ParseHost(p)
	if err != nil || h.IsIP() {
		return "", false, fmt.Errorf("netsafe: bad domain pattern %q (want example.com or *.example.com; IP ranges go in CIDR lists)", pat)
	}
	return h.Name, sub, nil
}

// plainPattern recognises a pattern that is already in normal form (lower
// case, valid labels, not numeric), which ParseHost would return as it is:
// patterns are matched on every check, and most are written that way.
func plainPattern(pat string) (string, bool, bool) {
	d, sub := pat, false
	if strings.HasPrefix(d, "*.") {
		d, sub = d[2:], true
	}
	if d == "" || len(d) > 253 || checkLabels(d) != "" || looksNumeric(d[strings.LastIndexByte(d, '.')+1:]) {
		return "", false, false
	}
	return d, sub, true
}

// MatchDomain reports whether name (normalized) matches the pattern:
// "example.com" matches it and its subdomains, "*.example.com" only its
// subdomains. Matching is on label boundaries ("badexample.com" does not
// match "example.com").
func MatchDomain(pattern, name string) bool {
	d, sub, err := normPattern(pattern)
	if err != nil {
		return false
	}
	if name == d {
		return !sub
	}
	return strings.HasSuffix(name, "."+d)
}

func matchAny(patterns []string, name string) bool {
	for _, pat := range patterns {
		if MatchDomain(pat, name) {
			return true
		}
	}
	return false
}

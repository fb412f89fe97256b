package netsafe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// maxRedirects bounds redirect chains followed by HTTPClient.
const maxRedirects = 10

// DialContext connects like net.Dialer.DialContext, but only to allowed
// addresses: it applies the domain rules, resolves the host itself, checks
// every address, and dials the checked address (never the name), so a DNS
// answer that changes after the check cannot redirect the connection. The
// socket's final address is checked once more just before connecting.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return nil, blocked(addr, "network %q not allowed", network)
	}
	hostStr, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &BlockedError{Target: addr, Reason: "bad address: " + err.Error(), Err: err}
	}
	port64, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, blocked(addr, "bad port %q", portStr)
	}
	port := uint16(port64)
	if err := p.checkPort(addr, port); err != nil {
		return nil, err
	}
	h, err := ParseHost(hostStr)
	if err != nil {
		return nil, &BlockedError{Target: addr, Reason: err.Error()}
	}
	if err := p.checkParsed(h); err != nil {
		return nil, err
	}
	addrs := []netip.Addr{h.Addr}
	if !h.IsIP() {
		if addrs, err = p.resolve(ctx, h.Name); err != nil {
			return nil, err
		}
	}
	d := p.dialer()
	var errs []error
	for _, a := range addrs {
		if ctx.Err() != nil {
			break
		}
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(a.Unmap(), port).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("netsafe: dial %s: %w", addr, errors.Join(errs...))
}

// dialer returns a copy of the configured dialer whose Control re-checks the
// address the socket is about to connect to.
func (p *Policy) dialer() *net.Dialer {
	var d net.Dialer
	if p.Dialer != nil {
		d = *p.Dialer
	} else {
		d.Timeout = 30 * time.Second
		d.KeepAlive = 30 * time.Second
	}
	inner, innerCtx := d.Control, d.ControlContext
	d.Control = nil
	d.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return blocked(address, "unparsable socket address")
		}
		if err := p.CheckAddr(ap.Addr()); err != nil {
			return err
		}
		switch {
		case innerCtx != nil:
			return innerCtx(ctx, network, address, c)
		case inner != nil:
			return inner(network, address, c)
		}
		return nil
	}
	return &d
}

// HTTPClient returns a client whose every connection goes through
// DialContext, with proxies off (a proxy would dial for us), every request
// URL checked without DNS (scheme, domain rules, IP literal forms) and
// every redirect re-checked the same way; addresses are checked at connect
// time. timeout bounds each request (0: none).
func (p *Policy) HTTPClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	static := *p
	static.NoResolve = true
	return &http.Client{
		Timeout:   timeout,
		Transport: &checkedTransport{p: &static, next: tr},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("netsafe: stopped after %d redirects", maxRedirects)
			}
			return static.CheckURL(req.Context(), req.URL.String())
		},
	}
}

// checkedTransport refuses a request whose URL fails the static checks
// before any connection is made.
type checkedTransport struct {
	p    *Policy
	next http.RoundTripper
}

// RoundTrip checks the URL, then sends the request.
func (t *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.p.CheckURL(req.Context(), req.URL.String()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}

// CloseIdleConnections closes the pooled connections of the transport.
func (t *checkedTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

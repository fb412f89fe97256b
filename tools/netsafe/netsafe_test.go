package netsafe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptedResolver answers lookups from a table; a name with several
// answers gets them in turn (the last one repeats), which is how a
// rebinding DNS server behaves.
type scriptedResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	calls   map[string]int
}

func newResolver() *scriptedResolver {
	return &scriptedResolver{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
}

func (r *scriptedResolver) set(name string, answers ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var list [][]netip.Addr
	for _, a := range answers {
		var one []netip.Addr
		for _, s := range strings.Split(a, ",") {
			one = append(one, netip.MustParseAddr(s))
		}
		list = append(list, one)
	}
	r.answers[name] = list
}

func (r *scriptedResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := r.calls[host]
	r.calls[host]++
	if i >= len(list) {
		i = len(list) - 1
	}
	return list[i], nil
}

func TestParseHostForms(t *testing.T) {
	cases := []struct {
		in   string
		want string // normalized host; "" means an error is expected
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0x7F000001", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0x7f.0.0.0x1", "127.0.0.1"},
		{"127.0.0.1.", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"169.254.43518", "169.254.169.254"},
		{"0xa9fea9fe", "169.254.169.254"},
		{"%31%32%37.0.0.1", "127.0.0.1"},
		{"%2531%2532%2537.0.0.1", "127.0.0.1"},
		{"１２７.０.０.１", "127.0.0.1"},
		{"127。0。0。1", "127.0.0.1"},
		{"[::1]", "::1"},
		{"[::ffff:127.0.0.1]", "::ffff:127.0.0.1"},
		{"[fe80::1%25eth0]", "fe80::1"},
		{"::1", "::1"},
		{"Example.COM.", "example.com"},
		{"ＥＸＡＭＰＬＥ.com", "example.com"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"a_b.example", "a_b.example"},
		{"256.0.0.1", ""},
		{"1.2.3.4.5", ""},
		{"08.0.0.1", ""},
		{"0x100000000", ""},
		{"1.2.3.99999999999999999999", ""},
		{"", ""},
		{".", ""},
		{"a..b", ""},
		{"evil.com/x", ""},
		{"ex ample.com", ""},
		{"[::1", ""},
		{"[1.2.3.4]", ""},
		{"%zz", ""},
		{strings.Repeat("a", 64) + ".com", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			h, err := ParseHost(c.in)
			if c.want == "" {
				require.Error(t, err, "parsed as %v", h)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, h.String())
		})
	}
}

func TestClassify(t *testing.T) {
	cases := map[string]Category{
		"8.8.8.8":                  "",
		"2606:4700::1111":          "",
		"127.0.0.1":                CatLoopback,
		"127.255.255.254":          CatLoopback,
		"::1":                      CatLoopback,
		"::ffff:127.0.0.1":         CatLoopback,
		"::127.0.0.1":              CatLoopback, // IPv4-compatible
		"64:ff9b::7f00:1":          CatLoopback, // NAT64
		"2002:7f00:1::":            CatLoopback, // 6to4
		"2001:0:0:0:0:0:80ff:fefe": CatLoopback, // Teredo, client ^127.0.1.1
		"10.1.2.3":                 CatPrivate,
		"172.31.255.255":           CatPrivate,
		"172.32.0.1":               "",
		"192.168.1.1":              CatPrivate,
		"169.254.1.1":              CatLinkLocal,
		"fe80::1":                  CatLinkLocal,
		"100.64.0.1":               CatCGNAT,
		"100.128.0.1":              "",
		"fd12:3456::1":             CatUniqueLocal,
		"0.0.0.0":                  CatUnspecified,
		"::":                       CatUnspecified,
		"169.254.169.254":          CatMetadata,
		"::ffff:169.254.169.254":   CatMetadata,
		"fd00:ec2::254":            CatMetadata,
		"100.100.100.200":          CatMetadata,
		"224.0.0.1":                CatMulticast,
		"ff02::1":                  CatMulticast,
		"255.255.255.255":          CatReserved,
		"192.0.2.1":                CatReserved,
	}
	for in, want := range cases {
		assert.Equal(t, want, Classify(netip.MustParseAddr(in)), in)
	}
}

func TestCheckURLDefaultPolicy(t *testing.T) {
	res := newResolver()
	res.set("public.test", "93.184.216.34")
	res.set("internal.test", "10.0.0.7")
	res.set("mixed.test", "93.184.216.34,127.0.0.1")
	res.set("v6mapped.test", "::ffff:10.0.0.1")
	p := &Policy{Resolver: res}
	blockedURLs := []string{
		"http://127.0.0.1/",
		"http://localhost/",
		"http://LOCALHOST./admin",
		"http://api.localhost/",
		"http://2130706433/",
		"http://0177.0.0.1/",
		"http://0x7f.1/",
		"http://127.1/",
		"http://[::1]/",
		"http://[::ffff:127.0.0.1]/",
		"http://[::ffff:7f00:1]/",
		"http://[0:0:0:0:0:ffff:127.0.0.1]/",
		"http://127.0.0.1./",
		"http://evil.com@127.0.0.1/",
		"http://user:pass@127.0.0.1:8080/",
		"http://evil.com\\@127.0.0.1/", // Go and browsers disagree: both readings must pass
		"http://127.0.0.1\\@evil.com/",
		"http://a@b@127.0.0.1/",
		"http://%31%32%37.0.0.1/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[fd00:ec2::254]/latest/meta-data/",
		"http://metadata.google.internal/computeMetadata/v1/",
		"http://metadata/computeMetadata/v1/",
		"http://0xa9fea9fe/",
		"http://10.0.0.1/",
		"http://192.168.0.1/",
		"http://172.16.5.4/",
		"http://100.64.1.1/",
		"http://[fc00::1]/",
		"http://[fe80::1%25eth0]/",
		"http://0.0.0.0:8080/",
		"http://0/",
		"http://[::]/",
		"http:127.0.0.1/",
		"http:/\\127.0.0.1/",
		"HTTP://127.0.0.1/",
		" http://127.0.0.1/ ",
		"http://127.0.0.1\t/",
		"http://１２７.０.０.１/",
		"file:///etc/passwd",
		"gopher://example.com/",
		"ftp://example.com/",
		"javascript:alert(1)",
		"example.com",
		"http://internal.test/",
		"http://mixed.test/",
		"http://v6mapped.test/",
		"http://unknown.test/",
		"http://256.1.1.1/",
		"http://[::1/",
		"http://exa mple.com/",
	}
	for _, u := range blockedURLs {
		err := p.CheckURL(context.Background(), u)
		assert.ErrorIs(t, err, ErrBlocked, "%q should be blocked", u)
	}
	allowed := []string{
		"http://public.test/",
		"https://public.test:8443/path?q=1#frag",
		"https://user@public.test/",
		"http://93.184.216.34/",
		"http://[2606:4700::1111]/",
	}
	for _, u := range allowed {
		assert.NoError(t, p.CheckURL(context.Background(), u), u)
	}
}

func TestCheckURLPolicyOptions(t *testing.T) {
	res := newResolver()
	res.set("api.example.com", "93.184.216.34")
	res.set("example.com", "93.184.216.35")
	res.set("notexample.com", "93.184.216.36")
	res.set("evil.example.com", "93.184.216.37")
	res.set("rebind.example.com", "10.0.0.1")
	ctx := context.Background()

	allow := &Policy{Resolver: res, AllowDomains: []string{"example.com"}, DenyDomains: []string{"evil.example.com"}}
	assert.NoError(t, allow.CheckURL(ctx, "https://example.com/"))
	assert.NoError(t, allow.CheckURL(ctx, "https://api.example.com/"))
	assert.ErrorIs(t, allow.CheckURL(ctx, "https://notexample.com/"), ErrBlocked)
	assert.ErrorIs(t, allow.CheckURL(ctx, "https://evil.example.com/"), ErrBlocked)
	assert.ErrorIs(t, allow.CheckURL(ctx, "https://93.184.216.34/"), ErrBlocked, "IP literal outside the allowed domains")
	assert.ErrorIs(t, allow.CheckURL(ctx, "https://rebind.example.com/"), ErrBlocked, "allowed name resolving to a private address")

	sub := &Policy{Resolver: res, AllowDomains: []string{"*.example.com"}}
	assert.ErrorIs(t, sub.CheckURL(ctx, "https://example.com/"), ErrBlocked)
	assert.NoError(t, sub.CheckURL(ctx, "https://api.example.com/"))

	private := &Policy{Resolver: res, AllowPrivate: true}
	assert.NoError(t, private.CheckURL(ctx, "http://10.1.1.1/"))
	assert.NoError(t, private.CheckURL(ctx, "http://rebind.example.com/"))
	assert.ErrorIs(t, private.CheckURL(ctx, "http://169.254.169.254/"), ErrBlocked, "metadata stays blocked with AllowPrivate")
	assert.ErrorIs(t, private.CheckURL(ctx, "http://127.0.0.1/"), ErrBlocked)

	loop := &Policy{AllowLoopback: true}
	assert.NoError(t, loop.CheckURL(ctx, "http://127.1:8080/"))
	assert.NoError(t, loop.CheckURL(ctx, "http://localhost/"), "localhost is resolved by the system and must be loopback")

	meta := &Policy{AllowMetadata: true}
	assert.NoError(t, meta.CheckURL(ctx, "http://169.254.169.254/"))

	cidr := &Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}, DenyCIDRs: []netip.Prefix{netip.MustParsePrefix("93.184.216.0/24")}}
	assert.NoError(t, cidr.CheckURL(ctx, "http://10.9.1.1/"))
	assert.ErrorIs(t, cidr.CheckURL(ctx, "http://10.8.1.1/"), ErrBlocked)
	assert.ErrorIs(t, cidr.CheckURL(ctx, "http://93.184.216.34/"), ErrBlocked)
	assert.ErrorIs(t, cidr.CheckURL(ctx, "http://[::ffff:93.184.216.34]/"), ErrBlocked)

	ports := &Policy{Ports: []uint16{443}, NoResolve: true}
	assert.NoError(t, ports.CheckURL(ctx, "https://example.com/"))
	assert.ErrorIs(t, ports.CheckURL(ctx, "http://example.com/"), ErrBlocked)
	assert.ErrorIs(t, ports.CheckURL(ctx, "https://example.com:8443/"), ErrBlocked)

	schemes := &Policy{Schemes: []string{"https"}, NoResolve: true}
	assert.ErrorIs(t, schemes.CheckURL(ctx, "http://example.com/"), ErrBlocked)

	var be *BlockedError
	err := (&Policy{}).CheckURL(ctx, "http://0x7f.1/")
	require.ErrorAs(t, err, &be)
	assert.Contains(t, be.Reason, "loopback")
}

func TestDNSRebindingIsRefusedAtConnect(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "secret")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	res := newResolver()
	// First answer public (the check passes), then loopback (the connect).
	res.set("rebind.test", "93.184.216.34", "127.0.0.1")
	p := &Policy{Resolver: res}
	target := "http://rebind.test:" + port + "/"
	require.NoError(t, p.CheckURL(context.Background(), target))

	_, err := p.HTTPClient(5 * time.Second).Get(target)
	require.ErrorIs(t, err, ErrBlocked)
	assert.Contains(t, err.Error(), "loopback")
	assert.Zero(t, hits.Load(), "the server must not be reached")
}

func TestHTTPClientReachesAllowedAndRefusesRedirects(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		fmt.Fprint(w, "hello")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	res := newResolver()
	res.set("api.test", "127.0.0.1")
	res.set("private.test", "10.0.0.5")
	// Only this one loopback address is allowed, as a test server would be.
	p := &Policy{Resolver: res, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	client := p.HTTPClient(5 * time.Second)
	base := "http://api.test:" + port + "/"

	resp, err := client.Get(base)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "hello", string(body))

	resp, err = client.Get(base + "?to=" + url.QueryEscape("/"))
	require.NoError(t, err, "a redirect to an allowed place is followed")
	resp.Body.Close()

	for _, to := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/",
		"http://127.0.0.2:" + port + "/",
		"http://[::1]:" + port + "/",
		"http://localhost:" + port + "/",
		"http://0x7f.2:" + port + "/",
		"http://private.test:" + port + "/",
		"file:///etc/passwd",
		"gopher://api.test:" + port + "/",
	} {
		before := hits.Load()
		_, err := client.Get(base + "?to=" + url.QueryEscape(to))
		assert.ErrorIs(t, err, ErrBlocked, "redirect to %s", to)
		assert.Equal(t, before+1, hits.Load(), "only the first hop reaches the server (%s)", to)
	}

	// Direct requests to a refused address never leave the client.
	_, err = client.Get("http://127.0.0.2:" + port + "/")
	assert.ErrorIs(t, err, ErrBlocked)
	_, err = client.Get("http://2130706434:" + port + "/")
	assert.ErrorIs(t, err, ErrBlocked)
}

func TestHTTPClientIgnoresProxyEnvironment(t *testing.T) {
	var proxyHits atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxyHits.Add(1)
		fmt.Fprint(w, "proxied")
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	res := newResolver()
	res.set("site.test", "10.0.0.9")
	_, err := (&Policy{Resolver: res}).HTTPClient(2 * time.Second).Get("http://site.test/")
	assert.ErrorIs(t, err, ErrBlocked)
	assert.Zero(t, proxyHits.Load())
}

func TestDialContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx := context.Background()

	_, err = (&Policy{}).DialContext(ctx, "tcp", "127.0.0.1:"+port)
	assert.ErrorIs(t, err, ErrBlocked)
	_, err = (&Policy{}).DialContext(ctx, "tcp", "0x7f.1:"+port)
	assert.ErrorIs(t, err, ErrBlocked)
	_, err = (&Policy{AllowLoopback: true}).DialContext(ctx, "unix", "/tmp/x.sock")
	assert.ErrorIs(t, err, ErrBlocked)
	_, err = (&Policy{AllowLoopback: true, Ports: []uint16{1}}).DialContext(ctx, "tcp", "127.0.0.1:"+port)
	assert.ErrorIs(t, err, ErrBlocked)

	c, err := (&Policy{AllowLoopback: true}).DialContext(ctx, "tcp", "127.1:"+port)
	require.NoError(t, err, "short IPv4 form is dialed as the address it means")
	c.Close()

	// A custom dialer's own Control still runs after the address check.
	var controlled atomic.Int32
	d := &net.Dialer{Timeout: time.Second}
	d.Control = func(string, string, syscall.RawConn) error { controlled.Add(1); return nil }
	c, err = (&Policy{AllowLoopback: true, Dialer: d}).DialContext(ctx, "tcp", "127.0.0.1:"+port)
	require.NoError(t, err)
	c.Close()
	assert.Equal(t, int32(1), controlled.Load())
}

func TestMatchDomain(t *testing.T) {
	assert.True(t, MatchDomain("example.com", "example.com"))
	assert.True(t, MatchDomain("Example.COM.", "a.b.example.com"))
	assert.False(t, MatchDomain("example.com", "badexample.com"))
	assert.False(t, MatchDomain("*.example.com", "example.com"))
	assert.True(t, MatchDomain("*.example.com", "x.example.com"))
	assert.True(t, MatchDomain(".example.com", "example.com"))
	assert.False(t, MatchDomain("10.0.0.1", "10.0.0.1"))
	assert.Error(t, (&Policy{AllowDomains: []string{"bad domain"}}).Validate())
	assert.Error(t, (&Policy{DenyDomains: []string{"127.0.0.1"}}).Validate())
	assert.NoError(t, (&Policy{AllowDomains: []string{"*.example.com", "bücher.de"}}).Validate())
}

func TestBlockedErrorWrapsCause(t *testing.T) {
	p := &Policy{Resolver: newResolver()}
	err := p.CheckHost(context.Background(), "nowhere.test")
	var dnsErr *net.DNSError
	assert.ErrorIs(t, err, ErrBlocked)
	assert.True(t, errors.As(err, &dnsErr))
}

// FuzzCheckURL checks that no input panics, and that whatever the default
// policy lets through (without DNS) has no reading that lands on a
// refused address: every IP Go's own parser would dial is public.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1/", "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/",
		"http://[::ffff:127.0.0.1]/", "http://evil@127.0.0.1/", "http://%31%32%37.0.0.1/",
		"http://example.com./", "https://a.b.c/?x#y", "http:\\\\127.0.0.1", "http://[fe80::1%25en0]:80/",
		"http://1.1.1.1:65536/", "http://a@b@c/", "http://１２７.０.０.１/", "ftp://x", "http://[::]:1",
	} {
		f.Add(s)
	}
	p := &Policy{NoResolve: true}
	f.Fuzz(func(t *testing.T, raw string) {
		err := p.CheckURL(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("error does not wrap ErrBlocked: %v", err)
			}
			return
		}
		targets, perr := ParseURL(raw)
		if perr != nil {
			t.Fatalf("CheckURL passed but ParseURL fails: %v", perr)
		}
		for _, tg := range targets {
			if tg.Host.IsIP() && Classify(tg.Host.Addr) != "" {
				t.Fatalf("passed %q with non-public reading %v", raw, tg.Host.Addr)
			}
		}
		if u, err := url.Parse(raw); err == nil {
			if a, err := netip.ParseAddr(u.Hostname()); err == nil && Classify(a) != "" {
				t.Fatalf("passed %q but Go dials %v", raw, a)
			}
		}
	})
}

// FuzzParseHost checks that host parsing never panics and is idempotent on
// what it accepts.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"127.1", "0x7f.1", "[::1]", "example.com.", "%31.1", "１.１", "0", "a_b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h, err := ParseHost(raw)
		if err != nil {
			return
		}
		s := h.String()
		if h.IsIP() && h.Addr.Is6() {
			s = "[" + s + "]"
		}
		h2, err := ParseHost(s)
		if err != nil || h2 != h {
			t.Fatalf("ParseHost(%q)=%v but re-parse of %q gives %v, %v", raw, h, s, h2, err)
		}
	})
}

// FuzzPlainPattern checks the domain-pattern fast path: whatever it
// accepts, ParseHost gives the same name.
func FuzzPlainPattern(f *testing.F) {
	for _, s := range []string{"example.com", "*.example.com", "Example.com", "a..b", "1.2.3.4", "x.0x1f", "a_b.c-d", "*.", "example.com."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pat string) {
		d, sub, ok := plainPattern(pat)
		if !ok {
			return
		}
		if sub != strings.HasPrefix(pat, "*.") {
			t.Fatalf("plainPattern(%q): sub %v", pat, sub)
		}
		h, err := ParseHost(strings.TrimPrefix(pat, "*."))
		if err != nil || h.IsIP() || h.Name != d {
			t.Fatalf("plainPattern(%q) = %q, but ParseHost gives %v, %v", pat, d, h, err)
		}
	})
}

// FuzzPlainURL checks ParseURL's fast path against its full parse: every
// URL plainURL reads has exactly the one target the full parse finds.
func FuzzPlainURL(f *testing.F) {
	for _, s := range []string{
		"https://api.example.com/v1/items?q=weather&page=2", "http://127.0.0.1/", "http://0x7f.1/",
		"http://example.com.", "http://a_b.example/#x", "https://x/%zz", "http://x?y@z", "http://x#a\\b",
		"http://example.com:80/", "http://EXAMPLE.com/", "http:///x", "http://-/", "http://a..b/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fast, ok := plainURL(raw)
		if !ok {
			return
		}
		full, err := parseURL(raw)
		if err != nil {
			t.Fatalf("plainURL read %q as %+v, the full parse fails: %v", raw, fast, err)
		}
		if len(full) != 1 || full[0] != fast {
			t.Fatalf("plainURL read %q as %+v, the full parse as %+v", raw, fast, full)
		}
	})
}

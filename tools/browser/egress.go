package browser

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/reagent-go/reagent/tools/netsafe"
)

// blockedHeader marks a response that the egress proxy made itself because
// the policy refused the connection.
const blockedHeader = "X-Reagent-Blocked"

// egress is a small forward proxy on 127.0.0.1 through which Chromium sends
// all its traffic (loopback included). It dials with the netsafe policy, so
// the address a name resolves to is checked at connect time: a DNS answer
// that changes after the URL check (rebinding) cannot reach a refused
// address, and Chromium itself never resolves names.
type egress struct {
	policy *netsafe.Policy
	ln     net.Listener
	srv    *http.Server
	tr     *http.Transport
	log    *slog.Logger

	mu     sync.Mutex
	blocks map[string]string // host → last refusal reason
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func startEgress(p *netsafe.Policy, log *slog.Logger) (*egress, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("browser: egress proxy: listen: %w", err)
	}
	e := &egress{
		policy: p,
		ln:     ln,
		log:    log,
		blocks: map[string]string{},
		conns:  map[net.Conn]struct{}{},
		tr: &http.Transport{
			Proxy:                 nil,
			DialContext:           p.DialContext,
			DisableCompression:    true, // pass the page's encoding through untouched
			MaxIdleConns:          64,
			IdleConnTimeout:       30 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		},
	}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 30 * time.Second, ErrorLog: nil}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("browser egress proxy stopped", "err", err)
		}
	}()
	return e, nil
}

// URL is the proxy address to give Chromium.
func (e *egress) URL() string { return "http://" + e.ln.Addr().String() }

// lastBlock returns why the proxy last refused host, if it did.
func (e *egress) lastBlock(host string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.blocks[strings.ToLower(host)]
	return r, ok
}

func (e *egress) noteBlock(host string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.blocks) > 1024 {
		clear(e.blocks)
	}
	e.blocks[strings.ToLower(host)] = err.Error()
}

func (e *egress) close() error {
	e.mu.Lock()
	e.closed = true
	for c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	if err != nil {
		err = e.srv.Close()
	}
	e.tr.CloseIdleConnections()
	e.wg.Wait()
	return err
}

func (e *egress) track(c net.Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.conns[c] = struct{}{}
	return true
}

func (e *egress) untrack(c net.Conn) {
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
}

var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func (e *egress) refuse(w http.ResponseWriter, host string, err error) {
	e.noteBlock(host, err)
	e.log.Debug("browser egress refused", "host", host, "reason", err)
	w.Header().Set(blockedHeader, "1")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, "Blocked by the network policy: %v\n", err)
}

func (e *egress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		e.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "this is a forward proxy", http.StatusBadRequest)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	resp, err := e.tr.RoundTrip(out)
	if err != nil {
		if errors.Is(err, netsafe.ErrBlocked) {
			e.refuse(w, r.URL.Hostname(), err)
			return
		}
		http.Error(w, "upstream error: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, h := range hopHeaders {
		resp.Header.Del(h)
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// tunnel serves CONNECT (HTTPS, WebSocket): it dials the target through the
// policy and then copies bytes both ways.
func (e *egress) tunnel(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	dctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	upstream, err := e.policy.DialContext(dctx, "tcp", host)
	cancel()
	if err != nil {
		hn, _, _ := net.SplitHostPort(host)
		if errors.Is(err, netsafe.ErrBlocked) {
			e.refuse(w, hn, err)
			return
		}
		http.Error(w, "upstream error: "+err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "cannot tunnel", http.StatusInternalServerError)
		return
	}
	client, rw, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	if !e.track(client) || !e.track(upstream) {
		client.Close()
		upstream.Close()
		return
	}
	_, _ = client.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n"))
	e.wg.Add(2)
	go e.pipe(upstream, client, rw.Reader)
	go e.pipe(client, upstream, nil)
}

func (e *egress) pipe(dst, src net.Conn, buffered *bufio.Reader) {
	defer e.wg.Done()
	var from io.Reader = src
	if buffered != nil && buffered.Buffered() > 0 {
		from = io.MultiReader(io.LimitReader(buffered, int64(buffered.Buffered())), src)
	}
	_, _ = io.Copy(dst, from)
	// Closing both ends stops the other direction too.
	dst.Close()
	src.Close()
	e.untrack(dst)
	e.untrack(src)
}

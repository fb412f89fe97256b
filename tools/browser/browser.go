// Package browser is a web-browsing tool for agents backed by one
// long-lived headless Chromium (driven by chromedp). Each run gets its own
// tab; every document and subresource request is checked against a netsafe
// policy, and all traffic leaves through a local egress proxy that checks
// the address it connects to, so redirects, clicks and script navigations
// cannot reach refused hosts.
package browser

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/reagent-go/reagent/tools/netsafe"
	"github.com/reagent-go/reagent/trajectory"
)

//go:embed readable.js
var readableJS string

//go:embed links.js
var linksJS string

//go:embed findtext.js
var findTextJS string

// ErrNoChromium is returned by New when no Chromium binary can be found.
var ErrNoChromium = errors.New(`browser: Chromium not found; install it with "apt-get install -y chromium" or pass WithExecPath`)

// ErrClosed is reported for calls made after Close.
var ErrClosed = errors.New("browser: closed")

// Browser is the browsing tool: a langchaingo tools.Tool and a
// trajectory.Specifier. It is safe for concurrent use; calls of one run
// share a tab and run one at a time, calls of different runs run in
// parallel in their own tabs. Close it to end Chromium.
type Browser struct {
	cfg    config
	policy *netsafe.Policy // resolving policy, used by the egress proxy
	static *netsafe.Policy // the same rules without DNS, for per-request checks
	egress *egress

	allocCtx    context.Context
	cancelAlloc context.CancelFunc
	ctx         context.Context // the browser's own context; tabs derive from it
	cancel      context.CancelFunc
	pid         int

	mu     sync.Mutex
	tabs   map[string]*tab
	closed bool

	stop      chan struct{}
	janitor   chan struct{}
	closeOnce sync.Once
	closeErr  error
	shots     atomic.Int64
}

// tab is one run's browser tab.
type tab struct {
	key    string
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{} // one action at a time
	ready  chan struct{} // closed once the tab is open (or failed to open)
	err    error         // why the tab failed to open

	// guarded by Browser.mu
	busy     int
	lastUsed time.Time

	bmu       sync.Mutex
	blocked   []blockedRequest // requests refused during the current action
	fetchDone chan struct{}
}

type blockedRequest struct {
	url    string
	reason string
}

func (t *tab) noteBlocked(u, reason string) {
	t.bmu.Lock()
	defer t.bmu.Unlock()
	if len(t.blocked) < 50 {
		t.blocked = append(t.blocked, blockedRequest{u, reason})
	}
}

func (t *tab) takeBlocked() []blockedRequest {
	t.bmu.Lock()
	defer t.bmu.Unlock()
	b := t.blocked
	t.blocked = nil
	return b
}

func (t *tab) peekBlocked() []blockedRequest {
	t.bmu.Lock()
	defer t.bmu.Unlock()
	return append([]blockedRequest(nil), t.blocked...)
}

// LookPath returns the Chromium binary New would run without WithExecPath:
// /usr/bin/chromium, else chromium, chromium-browser or google-chrome on
// PATH. The error wraps ErrNoChromium and says how to install it.
func LookPath() (string, error) { return findChromium("") }

// findChromium returns the browser binary to run.
func findChromium(path string) (string, error) {
	if path != "" {
		st, err := os.Stat(path)
		if err != nil {
			return "", fmt.Errorf("%w (WithExecPath %q: %v)", ErrNoChromium, path, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%w (WithExecPath %q is not an executable file)", ErrNoChromium, path)
		}
		return path, nil
	}
	if st, err := os.Stat(DefaultExecPath); err == nil && !st.IsDir() {
		return DefaultExecPath, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (looked for %s and for chromium, chromium-browser, google-chrome on PATH)", ErrNoChromium, DefaultExecPath)
}

// New starts Chromium and returns the tool. ctx bounds only the start: the
// browser lives until Close, whatever happens to ctx. New fails with an
// error wrapping ErrNoChromium when no binary is found.
func New(ctx context.Context, opts ...Option) (*Browser, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	exe, err := findChromium(cfg.execPath)
	if err != nil {
		return nil, err
	}
	pol := cfg.policy
	pol.AllowDomains = append(append([]string(nil), pol.AllowDomains...), cfg.allow...)
	pol.DenyDomains = append(append([]string(nil), pol.DenyDomains...), cfg.deny...)
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("browser: policy: %w", err)
	}
	static := pol
	static.NoResolve = true

	b := &Browser{
		cfg:     cfg,
		policy:  &pol,
		static:  &static,
		tabs:    map[string]*tab{},
		stop:    make(chan struct{}),
		janitor: make(chan struct{}),
	}
	proxy := cfg.proxy
	if proxy == "" {
		if b.egress, err = startEgress(b.policy, cfg.logger); err != nil {
			return nil, err
		}
		proxy = b.egress.URL()
	}

	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(cfg.width, cfg.height),
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-domain-reliability", true),
		// The back/forward cache restores pages without a load event, which
		// would leave "back" waiting; translation and hints phone home.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,BackForwardCache,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication"),
		chromedp.ProxyServer(proxy),
		// Send loopback through the proxy too, so the policy sees it.
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
	)
	if os.Geteuid() == 0 {
		allocOpts = append(allocOpts, chromedp.NoSandbox)
	}
	if cfg.userAgent != "" {
		allocOpts = append(allocOpts, chromedp.UserAgent(cfg.userAgent))
	}
	// The browser lives as long as the context of its first run: start it
	// from a context that ctx's cancellation does not reach.
	b.allocCtx, b.cancelAlloc = chromedp.NewExecAllocator(context.WithoutCancel(ctx), allocOpts...)
	b.ctx, b.cancel = chromedp.NewContext(b.allocCtx, chromedp.WithErrorf(func(f string, a ...any) {
		cfg.logger.Debug("chromedp: " + fmt.Sprintf(f, a...))
	}))

	started := make(chan error, 1)
	go func() { started <- chromedp.Do(b.ctx) }()
	timer := time.NewTimer(cfg.startTimeout)
	defer timer.Stop()
	select {
	case err = <-started:
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = fmt.Errorf("no answer after %s", cfg.startTimeout)
	}
	if err != nil {
		b.shutdown()
		return nil, fmt.Errorf("browser: starting %s: %w", exe, err)
	}
	if c := chromedp.FromContext(b.ctx); c != nil && c.Browser != nil && c.Browser.Process() != nil {
		b.pid = c.Browser.Process().Pid
	}
	go b.reap()
	cfg.logger.Debug("browser started", "exec", exe, "pid", b.pid, "proxy", proxy)
	return b, nil
}

// PID returns the process id of the main Chromium process.
func (b *Browser) PID() int { return b.pid }

// Close closes every tab, ends Chromium (waiting until its processes are
// gone and its temporary profile is removed) and stops the egress proxy.
// It is safe to call more than once.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		tabs := make([]*tab, 0, len(b.tabs))
		for _, t := range b.tabs {
			tabs = append(tabs, t)
		}
		b.tabs = map[string]*tab{}
		b.mu.Unlock()
		close(b.stop)
		<-b.janitor
		for _, t := range tabs {
			b.closeTab(t)
		}
		b.closeErr = b.shutdown()
	})
	return b.closeErr
}

// shutdown ends the browser process and the proxy.
func (b *Browser) shutdown() error {
	var errs []error
	if b.ctx != nil {
		// A graceful close, bounded: Cancel waits for the browser to exit up
		// to the deadline of the context it is given.
		cctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		if err := chromedp.Cancel(cctx); err != nil && !errors.Is(err, context.Canceled) &&
			!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, chromedp.ErrInvalidContext) {
			errs = append(errs, fmt.Errorf("browser: closing chromium: %w", err))
		}
		cancel()
		b.cancel()
	}
	if b.cancelAlloc != nil {
		// Kills what is left and waits until the process is reaped and
		// its temporary profile directory removed.
		b.cancelAlloc()
	}
	if b.egress != nil {
		if err := b.egress.close(); err != nil {
			errs = append(errs, fmt.Errorf("browser: egress proxy: %w", err))
		}
	}
	return errors.Join(errs...)
}

// reap closes tabs that have been idle longer than the idle timeout.
func (b *Browser) reap() {
	defer close(b.janitor)
	every := b.cfg.idleTab / 4
	every = max(every, 10*time.Millisecond)
	every = min(every, 30*time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-tick.C:
			b.closeIdle(now)
		}
	}
}

// closeIdle closes the tabs that, at now, have been idle longer than the
// idle timeout, and returns how many it closed. The janitor calls it on
// every tick; tests call it with a time of their choosing, so that no test
// races a timer.
func (b *Browser) closeIdle(now time.Time) int {
	var idle []*tab
	b.mu.Lock()
	for k, t := range b.tabs {
		if t.busy == 0 && now.Sub(t.lastUsed) > b.cfg.idleTab {
			delete(b.tabs, k)
			idle = append(idle, t)
		}
	}
	b.mu.Unlock()
	for _, t := range idle {
		b.cfg.logger.Debug("browser: closing idle tab", "tab", t.key)
		b.closeTab(t)
	}
	return len(idle)
}

// Tabs returns the number of open tabs (one per run that used the browser
// recently).
func (b *Browser) Tabs() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.tabs)
}

func tabKey(ctx context.Context) string {
	if id, ok := trajectory.RunIDFromContext(ctx); ok {
		return "run:" + id
	}
	return "default"
}

// acquire returns the tab of the run in ctx, opening it when needed, and
// marks it busy; release undoes the mark.
func (b *Browser) acquire(ctx context.Context) (*tab, error) {
	key := tabKey(ctx)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if t := b.tabs[key]; t != nil {
		t.busy++
		b.mu.Unlock()
		select {
		case <-t.ready:
		case <-ctx.Done():
			b.release(t)
			return nil, ctx.Err()
		}
		if t.err != nil {
			b.release(t)
			return nil, t.err
		}
		return t, nil
	}
	var evict *tab
	if len(b.tabs) >= b.cfg.maxTabs {
		for _, t := range b.tabs {
			if t.busy == 0 && (evict == nil || t.lastUsed.Before(evict.lastUsed)) {
				evict = t
			}
		}
		if evict == nil {
			b.mu.Unlock()
			return nil, fmt.Errorf("browser: all %d tabs are busy with other runs; try again later", b.cfg.maxTabs)
		}
		delete(b.tabs, evict.key)
	}
	t := &tab{key: key, sem: make(chan struct{}, 1), ready: make(chan struct{}), fetchDone: make(chan struct{}), busy: 1}
	b.tabs[key] = t
	b.mu.Unlock()
	if evict != nil {
		b.closeTab(evict)
	}

	t.err = b.openTab(ctx, t)
	close(t.ready)
	if t.err != nil {
		b.mu.Lock()
		if b.tabs[key] == t {
			delete(b.tabs, key)
		}
		b.mu.Unlock()
		b.release(t)
		return nil, t.err
	}
	return t, nil
}

func (b *Browser) release(t *tab) {
	b.mu.Lock()
	t.busy--
	t.lastUsed = time.Now()
	b.mu.Unlock()
}

// openTab creates the tab's target and turns on request interception.
func (b *Browser) openTab(ctx context.Context, t *tab) error {
	t.ctx, t.cancel = chromedp.NewContext(b.ctx)
	// The first run on a tab context binds the tab to it: no deadline here,
	// the wait is bounded below instead.
	opened := make(chan error, 1)
	go func() { opened <- chromedp.Do(t.ctx) }()
	timer := time.NewTimer(b.cfg.timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-opened:
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = fmt.Errorf("no answer after %s", b.cfg.timeout)
	}
	if err != nil {
		t.cancel()
		close(t.fetchDone)
		return fmt.Errorf("browser: opening a tab: %w", err)
	}
	// Subscribe before enabling, so no paused request is missed.
	paused := chromedp.Events(t.ctx, fetch.RequestPaused)
	go func() {
		defer close(t.fetchDone)
		for ev, err := range paused {
			if err != nil {
				return
			}
			b.decide(t, ev)
		}
	}()
	cctx, cancel := context.WithTimeout(t.ctx, b.cfg.timeout)
	defer cancel()
	if _, err := chromedp.Call(cctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: "*"}},
	}); err != nil {
		t.cancel()
		<-t.fetchDone
		return fmt.Errorf("browser: enabling request checks: %w", err)
	}
	return nil
}

func (b *Browser) closeTab(t *tab) {
	<-t.ready
	if t.cancel != nil {
		t.cancel()
	}
	select {
	case <-t.fetchDone:
	case <-time.After(5 * time.Second):
		b.cfg.logger.Warn("browser: request checker of a closed tab did not stop", "tab", t.key)
	}
}

// decide lets a paused request go on or fails it, by the policy.
func (b *Browser) decide(t *tab, ev fetch.EventRequestPaused) {
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	u := ""
	if ev.Request != nil {
		u = ev.Request.URL + ev.Request.URLFragment
	}
	if err := b.checkRequestURL(ctx, u); err != nil {
		t.noteBlocked(u, err.Error())
		b.cfg.logger.Info("browser: request refused", "url", u, "type", ev.ResourceType, "reason", err)
		_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{
			RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient,
		})
		return
	}
	_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
}

// checkRequestURL applies the policy to a URL the page asks for. URLs that
// never reach the network (data:, blob:, about:) are let through.
func (b *Browser) checkRequestURL(ctx context.Context, u string) error {
	scheme, _, _ := strings.Cut(u, ":")
	switch strings.ToLower(scheme) {
	case "data", "blob", "about":
		return nil
	}
	return b.static.CheckURL(ctx, u)
}

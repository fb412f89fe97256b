package browser

import (
	"log/slog"
	"time"

	"github.com/reagent-go/reagent/tools/netsafe"
)

// Defaults for the options.
const (
	DefaultExecPath        = "/usr/bin/chromium"
	DefaultTimeout         = 30 * time.Second
	DefaultSelectorTimeout = 5 * time.Second
	DefaultMaxText         = 8000
	DefaultIdleTab         = 5 * time.Minute
	DefaultMaxTabs         = 16
	DefaultStartTimeout    = 30 * time.Second
)

// Option configures New.
type Option func(*config)

type config struct {
	name            string
	execPath        string
	width, height   int
	userAgent       string
	proxy           string
	policy          netsafe.Policy
	allow, deny     []string
	maxText         int
	timeout         time.Duration
	selectorTimeout time.Duration
	shotDir         string
	idleTab         time.Duration
	maxTabs         int
	startTimeout    time.Duration
	logger          *slog.Logger
}

func defaultConfig() config {
	return config{
		name:            "browser",
		width:           1280,
		height:          800,
		maxText:         DefaultMaxText,
		timeout:         DefaultTimeout,
		selectorTimeout: DefaultSelectorTimeout,
		idleTab:         DefaultIdleTab,
		maxTabs:         DefaultMaxTabs,
		startTimeout:    DefaultStartTimeout,
		logger:          slog.Default(),
	}
}

// WithName sets the tool's name (default "browser").
func WithName(name string) Option {
	return func(c *config) {
		if name != "" {
			c.name = name
		}
	}
}

// WithExecPath sets the Chromium binary. By default New uses
// /usr/bin/chromium, else the first of chromium, chromium-browser,
// google-chrome on PATH.
func WithExecPath(path string) Option { return func(c *config) { c.execPath = path } }

// WithWindowSize sets the browser window (and screenshot) size in pixels.
func WithWindowSize(width, height int) Option {
	return func(c *config) {
		if width > 0 && height > 0 {
			c.width, c.height = width, height
		}
	}
}

// WithUserAgent sets the User-Agent header the browser sends.
func WithUserAgent(ua string) Option { return func(c *config) { c.userAgent = ua } }

// WithProxy sends the browser's traffic to an upstream proxy
// ("http://host:port", "socks5://host:port"). The per-request URL checks
// still apply; the connect-time address check is then the proxy's job,
// since the proxy, not reagent, resolves and dials.
func WithProxy(proxyURL string) Option { return func(c *config) { c.proxy = proxyURL } }

// WithPolicy sets the network policy (netsafe) every document and
// subresource URL must pass, and that the built-in egress proxy applies to
// every connection. Share one policy between the browser and httpapi tools.
// The default refuses loopback, private and metadata addresses.
func WithPolicy(p *netsafe.Policy) Option {
	return func(c *config) {
		if p != nil {
			c.policy = *p
		}
	}
}

// WithAllowedDomains restricts browsing to these domains (and their
// subdomains; "*.example.com" for subdomains only), on top of the policy.
func WithAllowedDomains(domains ...string) Option {
	return func(c *config) { c.allow = append(c.allow, domains...) }
}

// WithDeniedDomains refuses these domains (and their subdomains), on top of
// the policy. Denial wins over allowance.
func WithDeniedDomains(domains ...string) Option {
	return func(c *config) { c.deny = append(c.deny, domains...) }
}

// WithMaxTextSize caps the characters of page text a call returns (default
// 8000); longer text is cut with a note saying so.
func WithMaxTextSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxText = n
		}
	}
}

// WithTimeout bounds each call (default 30s).
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithSelectorTimeout bounds how long click and type wait for their element
// to appear (default 5s, never longer than the call's timeout).
func WithSelectorTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.selectorTimeout = d
		}
	}
}

// WithScreenshotDir enables the screenshot action, which writes PNG files
// into dir (created if needed). Without it, screenshots are refused.
func WithScreenshotDir(dir string) Option { return func(c *config) { c.shotDir = dir } }

// WithIdleTabTimeout closes a run's tab after it has been idle this long
// (default 5 minutes).
func WithIdleTabTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.idleTab = d
		}
	}
}

// WithMaxTabs bounds the number of open tabs, one per concurrent run
// (default 16). When full, the least recently used idle tab is closed.
func WithMaxTabs(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxTabs = n
		}
	}
}

// WithStartTimeout bounds how long New waits for Chromium to start
// (default 30s).
func WithStartTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.startTimeout = d
		}
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

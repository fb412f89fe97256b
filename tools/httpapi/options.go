package httpapi

import (
	"log/slog"
	"os"
	"time"

	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/tools/netsafe"
)

// Defaults for the options.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxResponseBytes = 1 << 20
	DefaultMaxObservation   = 4000
)

// Option configures New, FromSpecs and FromOpenAPI.
type Option func(*config)

type config struct {
	policy         *netsafe.Policy
	redactor       *redact.Redactor
	getenv         func(string) string
	timeout        time.Duration
	maxBytes       int64
	maxObservation int
	trim           Trim
	baseURL        string
	headers        map[string]string
	operations     map[string]bool
	skipUnsup      bool
	logger         *slog.Logger
}

func defaultConfig() config {
	return config{
		getenv:         os.Getenv,
		timeout:        DefaultTimeout,
		maxBytes:       DefaultMaxResponseBytes,
		maxObservation: DefaultMaxObservation,
		logger:         slog.Default(),
	}
}

// WithPolicy sets the network policy every request must pass (netsafe: the
// URL, every redirect, and the address connected to). Share one policy with
// the browser tool. The default policy refuses loopback, private and cloud
// metadata addresses.
func WithPolicy(p *netsafe.Policy) Option { return func(c *config) { c.policy = p } }

// WithRedactor registers the secret values the tools read from the
// environment (header and URL ${VARS}) with r, so the audit trail never
// stores them.
func WithRedactor(r *redact.Redactor) Option { return func(c *config) { c.redactor = r } }

// WithGetenv sets how ${VAR} references are looked up (default os.Getenv).
func WithGetenv(f func(string) string) Option {
	return func(c *config) {
		if f != nil {
			c.getenv = f
		}
	}
}

// WithTimeout bounds each call, redirects included (default 30s). A spec's
// own Timeout wins.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithMaxResponseBytes caps how much of a response body is read (default
// 1 MiB); a longer body is cut and the observation says so.
func WithMaxResponseBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBytes = n
		}
	}
}

// WithMaxObservation caps the characters of the observation returned to
// the model (default 4000).
func WithMaxObservation(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxObservation = n
		}
	}
}

// WithTrim sets how JSON responses are shortened for the model.
func WithTrim(t Trim) Option { return func(c *config) { c.trim = t } }

// WithBaseURL resolves an OpenAPI document's relative server URL (or gives
// one when the document has none).
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = u } }

// WithHeader adds a header to every request of every tool built with this
// option, e.g. WithHeader("Authorization", "Bearer ${API_TOKEN}") for an
// OpenAPI document. ${VARS} are read from the environment.
func WithHeader(name, value string) Option {
	return func(c *config) {
		if c.headers == nil {
			c.headers = map[string]string{}
		}
		c.headers[name] = value
	}
}

// WithOperations keeps only these OpenAPI operations (by operationId or
// generated tool name).
func WithOperations(names ...string) Option {
	return func(c *config) {
		if c.operations == nil {
			c.operations = map[string]bool{}
		}
		for _, n := range names {
			c.operations[n] = true
		}
	}
}

// WithSkipUnsupported makes FromOpenAPI skip (and log) operations it cannot
// turn into tools, such as multipart uploads, instead of failing.
func WithSkipUnsupported() Option { return func(c *config) { c.skipUnsup = true } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

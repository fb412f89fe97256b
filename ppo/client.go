package ppo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrUnavailable is wrapped by errors that mean the backend could not be
// reached (not started, crashed, wrong address).
var ErrUnavailable = errors.New("ppo: training backend unavailable")

// ErrBadResponse is wrapped by errors that mean the backend answered with
// something that is not what the API promises.
var ErrBadResponse = errors.New("ppo: bad response from training backend")

// APIError is a non-2xx answer of the backend, carrying its message.
type APIError struct {
	StatusCode int
	Type       string
	Message    string
}

func (e *APIError) Error() string {
	if e.StatusCode == http.StatusBadRequest {
		return fmt.Sprintf("ppo: backend refused the request (400): %s", e.Message)
	}
	return fmt.Sprintf("ppo: backend error %d (%s): %s", e.StatusCode, e.Type, e.Message)
}

// Client talks to a reagent_backend server. It is safe for concurrent use.
type Client struct {
	base         *url.URL
	http         *http.Client
	timeout      time.Duration
	trainTimeout time.Duration
	retries      int
	backoff      time.Duration
	maxBackoff   time.Duration
	log          *slog.Logger
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (default: a new http.Client).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithTimeout bounds each health, step and checkpoint call (default 30s).
func WithTimeout(d time.Duration) ClientOption { return func(c *Client) { c.timeout = d } }

// WithTrainTimeout bounds each Train call (default 1h); a step on a large
// model and batch can take minutes.
func WithTrainTimeout(d time.Duration) ClientOption { return func(c *Client) { c.trainTimeout = d } }

// WithRetries sets how many times a transient failure is retried (default
// 3) and the first backoff, doubled each try (default 200ms).
func WithRetries(n int, backoff time.Duration) ClientOption {
	return func(c *Client) { c.retries, c.backoff = n, backoff }
}

// WithMaxBackoff caps the wait between retries (default 5s).
func WithMaxBackoff(d time.Duration) ClientOption { return func(c *Client) { c.maxBackoff = d } }

// WithLogger sets the logger for retries (default slog.Default()).
func WithLogger(l *slog.Logger) ClientOption { return func(c *Client) { c.log = l } }

// NewClient returns a client for the backend at baseURL (for example
// "http://127.0.0.1:8000"; a trailing "/v1" is accepted and ignored).
func NewClient(baseURL string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("ppo: backend URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("ppo: backend URL %q: want http://host:port", baseURL)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1")
	c := &Client{base: u, http: &http.Client{}, timeout: 30 * time.Second, trainTimeout: time.Hour,
		retries: 3, backoff: 200 * time.Millisecond, maxBackoff: 5 * time.Second, log: slog.Default()}
	for _, o := range opts {
		o(c)
	}
	if c.retries < 0 {
		c.retries = 0
	}
	return c, nil
}

// BaseURL returns the backend's address; its OpenAI-compatible API lives
// under BaseURL()+"/v1".
func (c *Client) BaseURL() string { return c.base.String() }

// Health returns the backend's status.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.do(ctx, http.MethodGet, "/health", nil, &h, c.timeout, true)
	if err == nil && h.Status != "ok" {
		err = fmt.Errorf("%w: health status %q", ErrBadResponse, h.Status)
	}
	return h, err
}

// Step returns the training step count, algorithm and model.
func (c *Client) Step(ctx context.Context) (StepInfo, error) {
	var s StepInfo
	err := c.do(ctx, http.MethodGet, "/v1/step", nil, &s, c.timeout, true)
	return s, err
}

// Train applies one training step. The request is validated first; a
// request the backend refuses comes back as an *APIError with status 400 and
// nothing applied. Only failures that happen before the backend could have
// read the request are retried, so a step is never applied twice.
func (c *Client) Train(ctx context.Context, req TrainRequest) (Metrics, error) {
	var m Metrics
	if err := req.Validate(); err != nil {
		return m, fmt.Errorf("ppo: train request: %w", err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return m, fmt.Errorf("ppo: encode train request: %w", err)
	}
	err = c.do(ctx, http.MethodPost, "/v1/train", body, &m, c.trainTimeout, false)
	if err == nil && m.Step <= 0 {
		err = fmt.Errorf("%w: train answered step %d", ErrBadResponse, m.Step)
	}
	return m, err
}

// Checkpoint asks the backend to save weights, optimizer state and step to
// dir (on the backend's machine); an empty dir uses the folder the backend
// was started with (serve --checkpoint).
func (c *Client) Checkpoint(ctx context.Context, dir string) (CheckpointInfo, error) {
	var info CheckpointInfo
	body, err := json.Marshal(map[string]string{"dir": dir})
	if err != nil {
		return info, fmt.Errorf("ppo: encode checkpoint request: %w", err)
	}
	err = c.do(ctx, http.MethodPost, "/v1/checkpoint", body, &info, c.timeout, true)
	return info, err
}

// do sends one request with retries. idempotent calls are also retried on
// 502/503/504 and on failures after the request was sent.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any, timeout time.Duration, idempotent bool) error {
	backoff := c.backoff
	var last error
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, path, body, out, timeout)
		if err == nil {
			return nil
		}
		last = err
		if attempt >= c.retries || !retryable(err, idempotent) || ctx.Err() != nil {
			return last
		}
		c.log.Warn("ppo: retrying backend call", "method", method, "path", path, "attempt", attempt+1, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up: %w)", last, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, c.maxBackoff)
	}
}

func (c *Client) once(ctx context.Context, method, path string, body []byte, out any, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	u := c.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("ppo: build request %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if isDialError(err) {
			return &transportError{err: fmt.Errorf("%w at %s (is `python3 -m reagent_backend serve` running?): %w", ErrUnavailable, c.base, err), beforeSend: true}
		}
		return &transportError{err: fmt.Errorf("%w: %s %s: %w", ErrUnavailable, method, u, err)}
	}
	defer resp.Body.Close()
	return decodeResponse(resp, out)
}

// transportError marks a failure without an HTTP answer; beforeSend says
// the request surely never reached the backend.
type transportError struct {
	err        error
	beforeSend bool
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func retryable(err error, idempotent bool) bool {
	var te *transportError
	if errors.As(err, &te) {
		return te.beforeSend || idempotent
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.StatusCode {
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			return true // the backend (or a proxy) did not take the request
		case http.StatusBadGateway, http.StatusGatewayTimeout:
			return idempotent
		}
	}
	return false
}

func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// maxResponse bounds what is read from the backend.
const maxResponse = 16 << 20

// decodeResponse turns an HTTP answer into out or an error.
func decodeResponse(resp *http.Response, out any) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return &transportError{err: fmt.Errorf("%w: reading answer: %w", ErrUnavailable, err)}
	}
	if len(data) > maxResponse {
		return fmt.Errorf("%w: answer larger than %d bytes", ErrBadResponse, maxResponse)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
			} `json:"error"`
		}
		ae := &APIError{StatusCode: resp.StatusCode}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			ae.Message, ae.Type = e.Error.Message, e.Error.Type
		} else {
			ae.Message = snippet(data)
			ae.Type = "unknown"
		}
		return ae
	}
	ct := resp.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%w: content type %q, want application/json (%s)", ErrBadResponse, ct, snippet(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: %w (%s)", ErrBadResponse, err, snippet(data))
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after JSON (%s)", ErrBadResponse, snippet(data))
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "empty body"
	}
	return fmt.Sprintf("%q", s)
}

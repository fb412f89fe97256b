package rrm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/reagent-go/reagent/trajectory"
)

const defaultOpenAIBaseURL = "https://api.openai.com/v1"

// OpenAI judges trajectories with an Agent-RRM served behind an
// OpenAI-compatible chat API (OpenAI, vLLM, llama.cpp, Ollama, …). It is safe
// for concurrent use; concurrent requests are bounded, failed requests are
// retried with backoff, and successful judgments are cached.
type OpenAI struct {
	client      *openai.Client
	model       string
	baseURL     string
	timeout     time.Duration
	retries     int
	backoffBase time.Duration
	backoffMax  time.Duration
	maxRetryAft time.Duration
	sem         chan struct{}
	cache       Cache
	limits      Limits
	maxTokens   int
	log         *slog.Logger
	setupErr    string
	sleep       func(ctx context.Context, d time.Duration) error
	flight      flights
	joined      func() // test hook: a call joined a judgment in flight
}

// Option configures an OpenAI judge.
type Option func(*openaiConfig)

type openaiConfig struct {
	baseURL     string
	model       string
	keyEnv      string
	key         string
	keySet      bool
	timeout     time.Duration
	retries     int
	backoffBase time.Duration
	backoffMax  time.Duration
	maxRetryAft time.Duration
	concurrency int
	cache       Cache
	cacheSet    bool
	httpClient  *http.Client
	limits      Limits
	maxTokens   int
	log         *slog.Logger
	sleep       func(ctx context.Context, d time.Duration) error
}

// WithBaseURL sets the API base URL; it must include the version path, as
// in http://localhost:8000/v1 (the client appends /chat/completions).
// The default is https://api.openai.com/v1.
func WithBaseURL(u string) Option {
	return func(c *openaiConfig) { c.baseURL = strings.TrimRight(u, "/") }
}

// WithModel sets the judge model name (default "gpt-4o-mini").
func WithModel(m string) Option { return func(c *openaiConfig) { c.model = m } }

// WithAPIKeyEnv names the environment variable that holds the API key
// (default OPENAI_API_KEY). A server other than api.openai.com gets a
// placeholder token when the variable is empty, since the client needs one.
func WithAPIKeyEnv(name string) Option { return func(c *openaiConfig) { c.keyEnv = name } }

// WithAPIKey sets the API key directly, overriding WithAPIKeyEnv.
func WithAPIKey(key string) Option {
	return func(c *openaiConfig) { c.key, c.keySet = key, true }
}

// WithTimeout bounds each request attempt (default 60s); a timed-out
// attempt is retried.
func WithTimeout(d time.Duration) Option { return func(c *openaiConfig) { c.timeout = d } }

// WithRetries sets how many times a failed attempt is retried (default 3,
// so at most 4 requests per judgment).
func WithRetries(n int) Option { return func(c *openaiConfig) { c.retries = max(n, 0) } }

// WithBackoff sets the first retry delay and the cap of the exponential
// backoff (defaults 500ms and 20s). A Retry-After header overrides both,
// up to WithMaxRetryAfter.
func WithBackoff(base, maxDelay time.Duration) Option {
	return func(c *openaiConfig) { c.backoffBase, c.backoffMax = base, maxDelay }
}

// WithMaxRetryAfter caps how long a server's Retry-After (on 429 and 5xx
// answers) is honoured (default 60s): a longer value is waited only this
// long before the next try. No wait, whatever its source, runs past the
// caller's deadline: a judgment whose next try would start after it fails
// at once with an error assessment.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(c *openaiConfig) { c.maxRetryAft = max(d, 0) }
}

// WithConcurrency bounds the requests in flight across all Judge calls of
// this judge (default 4).
func WithConcurrency(n int) Option { return func(c *openaiConfig) { c.concurrency = max(n, 1) } }

// WithCache sets where successful judgments are cached; nil disables caching.
// The default is an in-memory LRU of 1024 entries. Keys hash the rendered
// trajectory, the model and the prompt version.
func WithCache(cache Cache) Option {
	return func(c *openaiConfig) { c.cache, c.cacheSet = cache, true }
}

// WithHTTPClient sets the HTTP client used for requests.
func WithHTTPClient(h *http.Client) Option { return func(c *openaiConfig) { c.httpClient = h } }

// WithLimits sets the per-field truncation limits of the rendered trajectory.
func WithLimits(l Limits) Option { return func(c *openaiConfig) { c.limits = l } }

// WithMaxTokens bounds the judge's reply (max_completion_tokens); 0 leaves
// it to the server.
func WithMaxTokens(n int) Option { return func(c *openaiConfig) { c.maxTokens = max(n, 0) } }

// WithLogger sets the logger for retries and failures (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *openaiConfig) { c.log = l } }

// NewOpenAI returns a judge that calls an OpenAI-compatible chat API at
// temperature 0. Configuration problems (such as no API key for
// api.openai.com) surface as error assessments from Judge.
func NewOpenAI(opts ...Option) *OpenAI {
	cfg := openaiConfig{
		baseURL:     defaultOpenAIBaseURL,
		model:       "gpt-4o-mini",
		keyEnv:      "OPENAI_API_KEY",
		timeout:     60 * time.Second,
		retries:     3,
		backoffBase: 500 * time.Millisecond,
		backoffMax:  20 * time.Second,
		maxRetryAft: 60 * time.Second,
		concurrency: 4,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.cacheSet {
		cfg.cache = NewLRU(1024)
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.sleep == nil {
		cfg.sleep = sleepCtx
	}
	j := &OpenAI{
		model:       cfg.model,
		baseURL:     cfg.baseURL,
		timeout:     cfg.timeout,
		retries:     cfg.retries,
		backoffBase: cfg.backoffBase,
		backoffMax:  cfg.backoffMax,
		maxRetryAft: cfg.maxRetryAft,
		sem:         make(chan struct{}, cfg.concurrency),
		cache:       cfg.cache,
		limits:      cfg.limits,
		maxTokens:   cfg.maxTokens,
		log:         cfg.log,
		sleep:       cfg.sleep,
	}
	key := cfg.key
	if !cfg.keySet && cfg.keyEnv != "" {
		key = os.Getenv(cfg.keyEnv)
	}
	if key == "" {
		if cfg.baseURL == defaultOpenAIBaseURL {
			j.setupErr = fmt.Sprintf("no API key for %s: set %s or use WithAPIKey", cfg.baseURL, cfg.keyEnv)
		}
		key = "unused" // local servers ignore it, but the client needs one
	}
	if u, err := url.Parse(cfg.baseURL); err != nil || u.Scheme == "" || u.Host == "" {
		j.setupErr = fmt.Sprintf("bad base URL %q: want something like http://localhost:8000/v1", cfg.baseURL)
	} else if !strings.Contains(u.Path+"/", "/v1") {
		cfg.log.Warn("rrm: judge base URL has no /v1 path; the client appends /chat/completions to it", "base_url", cfg.baseURL)
	}
	oc := openai.DefaultConfig(key)
	oc.BaseURL = cfg.baseURL
	if cfg.httpClient != nil {
		oc.HTTPClient = cfg.httpClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(cfg.concurrency, 2)
		oc.HTTPClient = &http.Client{Transport: tr}
	}
	j.client = openai.NewClientWithConfig(oc)
	return j
}

// Name returns "openai".
func (j *OpenAI) Name() string { return "openai" }

// Model returns the judge model name.
func (j *OpenAI) Model() string { return j.model }

// Judge asks the model to judge t. It never invents a score: when every
// attempt fails, the assessment has Status error and the last reason.
//
// With a cache (the default), identical judgments share one request:
// a call that finds the same rendered trajectory already being judged waits
// for that judgment instead of sending its own. A waiter whose own context
// ends stops waiting; when the judging caller's context ends first, a waiter
// that still has time judges on its own.
func (j *OpenAI) Judge(ctx context.Context, t *trajectory.Trajectory) trajectory.Assessment {
	start := time.Now()
	base := trajectory.Assessment{Judge: j.Name(), Model: j.model, CreatedAt: start.UTC()}
	if t == nil {
		return j.failed(base, start, "", "nil trajectory")
	}
	base.Steps, base.Partial = len(t.Steps), !t.Ended()
	if j.setupErr != "" {
		return j.failed(base, start, "", "%s", j.setupErr)
	}
	rendered := Render(t, j.limits)
	if j.cache == nil {
		return j.request(ctx, rendered, "", base, start)
	}
	key := j.cacheKey(rendered)
	for {
		if a, ok := j.cache.Get(key); ok {
			return j.forCaller(a, base, start)
		}
		c, leader := j.flight.join(key)
		if leader {
			return j.lead(ctx, c, rendered, key, base, start)
		}
		if j.joined != nil {
			j.joined()
		}
		select {
		case <-c.done:
			if c.abandoned && ctx.Err() == nil {
				continue // the judging caller gave up; judge (or wait) anew
			}
			return j.forCaller(c.a, base, start)
		case <-ctx.Done():
			return j.failed(base, start, "", "cancelled while waiting for the same judgment in flight: %v", ctx.Err())
		}
	}
}

// lead judges for a flight and hands the result to its waiters. If the
// request does not return (a panic), the waiters are released to judge on
// their own.
func (j *OpenAI) lead(ctx context.Context, c *flight, rendered, key string, base trajectory.Assessment, start time.Time) trajectory.Assessment {
	finished := false
	defer func() {
		if !finished {
			j.flight.finish(key, c, trajectory.Assessment{}, true)
		}
	}()
	a := j.request(ctx, rendered, key, base, start)
	finished = true
	j.flight.finish(key, c, a, ctx.Err() != nil)
	return a
}

// forCaller is a shared or cached assessment as this call's own.
func (j *OpenAI) forCaller(a, base trajectory.Assessment, start time.Time) trajectory.Assessment {
	a = cloneAssessment(a)
	a.Judge, a.Model, a.Steps, a.Partial, a.CreatedAt = base.Judge, base.Model, base.Steps, base.Partial, base.CreatedAt
	a.Latency = time.Since(start)
	return a
}

// failed is an error assessment with the reason.
func (j *OpenAI) failed(base trajectory.Assessment, start time.Time, raw, format string, args ...any) trajectory.Assessment {
	a := base
	a.Status = trajectory.AssessmentError
	a.Error = "rrm: openai judge: " + fmt.Sprintf(format, args...)
	a.Raw = raw
	a.Latency = time.Since(start)
	return a
}

// request judges rendered by asking the model, with retries; a success is
// cached under key (when key is not empty).
func (j *OpenAI) request(ctx context.Context, rendered, key string, base trajectory.Assessment, start time.Time) trajectory.Assessment {
	fail := func(raw, format string, args ...any) trajectory.Assessment {
		return j.failed(base, start, raw, format, args...)
	}

	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: systemPrompt},
		{Role: openai.ChatMessageRoleUser, Content: userPrompt(rendered)},
	}
	var (
		lastErr  error
		lastRaw  string
		failures int // transient failures so far, for the backoff
		delay    time.Duration
	)
	attempts := 0
	for attempts <= j.retries {
		if attempts > 0 && delay > 0 {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
				return fail(lastRaw, "not retried: the next try would start in %v, after the caller's deadline (in %v), after %d attempt(s) (last error: %v)",
					delay.Round(time.Millisecond), time.Until(dl).Round(time.Millisecond), attempts, lastErr)
			}
			if err := j.sleep(ctx, delay); err != nil {
				return fail(lastRaw, "cancelled while waiting to retry after %d attempt(s): %v (last error: %v)", attempts, err, lastErr)
			}
		}
		attempts++
		content, reasoning, retryAfter, err := j.complete(ctx, msgs)
		if err == nil {
			a, perr := Parse(content)
			if perr == nil {
				if a.Think == "" && reasoning != "" {
					// Servers with a reasoning parser move <think> out of
					// the content.
					a.Think = strings.TrimSpace(reasoning)
					a.Notes = append(a.Notes, "took <think> from the reply's reasoning_content")
				}
				a.Judge, a.Model, a.Steps, a.Partial, a.CreatedAt = base.Judge, base.Model, base.Steps, base.Partial, base.CreatedAt
				a.Latency = time.Since(start)
				if key != "" {
					j.cache.Put(key, a)
				}
				return a
			}
			// Ask again, showing the model its unreadable reply.
			lastErr, lastRaw, delay = fmt.Errorf("unreadable reply: %w", perr), content, 0
			msgs = append(msgs[:2],
				openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: clip(content, 4000)},
				openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: repairPrompt(perr.Error())})
			j.log.Debug("rrm: unreadable judge reply, asking again", "attempt", attempts, "err", perr)
			continue
		}
		lastErr = err
		if ctx.Err() != nil {
			return fail(lastRaw, "cancelled after %d attempt(s): %v", attempts, err)
		}
		if !retryable(err) {
			return fail(lastRaw, "request failed (not retried): %v", err)
		}
		if attempts > j.retries {
			break
		}
		failures++
		delay = j.backoff(failures)
		if retryAfter > 0 {
			delay = min(retryAfter, j.maxRetryAft)
		}
		j.log.Warn("rrm: judge request failed, retrying", "attempt", attempts, "delay", delay, "err", err)
	}
	return fail(lastRaw, "gave up after %d attempt(s): %v", attempts, lastErr)
}

// complete sends one request, holding a concurrency slot for its duration.
func (j *OpenAI) complete(ctx context.Context, msgs []openai.ChatCompletionMessage) (content, reasoning string, retryAfter time.Duration, err error) {
	select {
	case j.sem <- struct{}{}:
	case <-ctx.Done():
		return "", "", 0, ctx.Err()
	}
	defer func() { <-j.sem }()
	actx, cancel := context.WithTimeout(ctx, j.timeout)
	defer cancel()
	req := openai.ChatCompletionRequest{
		Model:               j.model,
		Messages:            msgs,
		MaxCompletionTokens: j.maxTokens,
	}
	if !fixedSampling(j.model) {
		// go-openai drops a zero temperature (omitempty); the smallest
		// positive float32 is sent instead and means greedy decoding.
		req.Temperature = math.SmallestNonzeroFloat32
	}
	resp, err := j.client.CreateChatCompletion(actx, req)
	if err != nil {
		if h := resp.Header(); h != nil {
			retryAfter = parseRetryAfter(h.Get("Retry-After"), time.Now())
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("attempt timed out after %v: %w", j.timeout, err)
		}
		return "", "", retryAfter, err
	}
	if len(resp.Choices) == 0 {
		return "", "", 0, fmt.Errorf("%w: reply has no choices", errEmptyReply)
	}
	m := resp.Choices[0].Message
	return m.Content, m.ReasoningContent, 0, nil
}

var errEmptyReply = errors.New("rrm: empty judge reply")

// retryable reports whether a failed request may succeed if sent again:
// rate limits (429), server errors (5xx), timeouts, network failures and
// empty replies, but never other 4xx answers.
func retryable(err error) bool {
	if code := statusCode(err); code != 0 {
		return code == http.StatusTooManyRequests || code >= 500
	}
	return true
}

func statusCode(err error) int {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatusCode
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		return reqErr.HTTPStatusCode
	}
	return 0
}

// backoff returns the delay before retry n (1-based): exponential from
// backoffBase, capped at backoffMax, with "equal jitter" (half fixed, half
// random) so that many clients do not retry in step.
func (j *OpenAI) backoff(n int) time.Duration {
	d := j.backoffBase
	for i := 1; i < n && d < j.backoffMax; i++ {
		d *= 2
	}
	d = min(d, j.backoffMax)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || math.IsNaN(s) || math.IsInf(s, 0) {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func (j *OpenAI) cacheKey(rendered string) string {
	h := sha256.New()
	for _, s := range []string{PromptVersion, j.model, systemPrompt, rendered} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fixedSampling reports models whose sampling parameters the API fixes
// (reasoning models reject a temperature).
func fixedSampling(model string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withSleep replaces the retry wait, so tests can record delays.
func withSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(c *openaiConfig) { c.sleep = f }
}

// Package metrics counts agent runs, steps, tool calls, guard blocks and
// escalations, and reasoning-reward-model judgments, and serves them in the
// Prometheus exposition format. A Registry holds all its state, so a
// process can keep several (one per server) and tests never share counters.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reagent-go/reagent/trajectory"
)

// defaultLatencyBuckets are the judge latency histogram's upper bounds in
// seconds: an RRM call takes from tens of milliseconds (cached, local) to
// about a minute (a large remote model that thinks at length).
var defaultLatencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120}

// scoreBuckets split RRM scores, which lie in [0,1], into tenths.
var scoreBuckets = []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}

// Label values that stand in for missing or excess values.
const (
	// LabelUnknown replaces an empty label value (a run without a status,
	// an unnamed guard or judge) and the name of a tool the model invented.
	LabelUnknown = "unknown"
	// LabelOther replaces label values beyond the per-label limit (see
	// WithMaxLabelValues).
	LabelOther = "other"
)

// legacyName is the classic Prometheus name syntax, which every scraper
// and query language version accepts.
var legacyName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// maxLabelLen bounds one label value, in bytes.
const maxLabelLen = 128

// Tool call outcomes, the values of the "outcome" label of
// reagent_tool_calls_total.
const (
	OutcomeOK          = "ok"
	OutcomeError       = "error"
	OutcomeBlocked     = "blocked"
	OutcomePanic       = "panic"
	OutcomeUnknownTool = "unknown_tool"
)

// Registry holds reagent's metrics and serves them. Its methods are safe for
// concurrent use.
type Registry struct {
	reg *prometheus.Registry
	log *slog.Logger

	runs         *prometheus.CounterVec
	steps        prometheus.Counter
	toolCalls    *prometheus.CounterVec
	blocks       *prometheus.CounterVec
	escalations  *prometheus.CounterVec
	judgeLatency *prometheus.HistogramVec
	judgeErrors  *prometheus.CounterVec
	judgeScore   *prometheus.HistogramVec

	limit *labelLimiter
}

// Option configures New.
type Option func(*config)

type config struct {
	namespace      string
	constLabels    prometheus.Labels
	latencyBuckets []float64
	maxLabelValues int
	runtime        bool
	logger         *slog.Logger
}

// WithNamespace sets the metric name prefix (default "reagent"; "" for
// none).
func WithNamespace(ns string) Option { return func(c *config) { c.namespace = ns } }

// WithConstLabels adds labels with fixed values to every metric, for
// example {"service": "serve-reward"}.
func WithConstLabels(l map[string]string) Option {
	return func(c *config) { c.constLabels = prometheus.Labels(l) }
}

// WithLatencyBuckets sets the judge latency histogram's upper bounds, in
// seconds, in increasing order (default 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
// 20, 30, 60, 120).
func WithLatencyBuckets(b []float64) Option {
	return func(c *config) { c.latencyBuckets = append([]float64(nil), b...) }
}

// WithMaxLabelValues bounds how many distinct values each label (tool,
// guard, judge, status) may take; later values are counted under "other"
// (default 100). Tool and guard names come from configuration, but a bound
// keeps a misbehaving agent from growing the scrape without limit.
func WithMaxLabelValues(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxLabelValues = n
		}
	}
}

// WithRuntimeMetrics adds the Go runtime (go_*) and process (process_*)
// collectors, as a long-running server wants.
func WithRuntimeMetrics() Option { return func(c *config) { c.runtime = true } }

// WithLogger sets the logger for errors while serving a scrape (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// New returns a Registry with every reagent metric registered. It returns an
// error only for invalid options (a bad namespace, label or bucket list).
func New(opts ...Option) (*Registry, error) {
	c := &config{namespace: "reagent", latencyBuckets: append([]float64(nil), defaultLatencyBuckets...), maxLabelValues: 100, logger: slog.Default()}
	for _, o := range opts {
		o(c)
	}
	if c.namespace != "" && !legacyName.MatchString(c.namespace) {
		return nil, fmt.Errorf("metrics: namespace %q: want letters, digits and underscores, not starting with a digit", c.namespace)
	}
	for k := range c.constLabels {
		if !legacyName.MatchString(k) || strings.HasPrefix(k, "__") {
			return nil, fmt.Errorf("metrics: constant label name %q: want letters, digits and underscores, not starting with a digit or __", k)
		}
	}
	for i := 1; i < len(c.latencyBuckets); i++ {
		if !(c.latencyBuckets[i] > c.latencyBuckets[i-1]) {
			return nil, fmt.Errorf("metrics: latency buckets must increase, got %v", c.latencyBuckets)
		}
	}
	r := &Registry{reg: prometheus.NewRegistry(), log: c.logger, limit: newLabelLimiter(c.maxLabelValues)}
	ns, cl := c.namespace, c.constLabels
	r.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, ConstLabels: cl,
		Name: "runs_total", Help: "Agent runs observed, by final status."}, []string{"status"})
	r.steps = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, ConstLabels: cl,
		Name: "steps_total", Help: "Agent loop iterations (steps) of the observed runs."})
	r.toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, ConstLabels: cl,
		Name: "tool_calls_total", Help: "Tool calls, by tool and outcome (ok, error, blocked, panic, unknown_tool)."},
		[]string{"tool", "outcome"})
	r.blocks = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, ConstLabels: cl,
		Name: "guard_blocks_total", Help: "Block decisions, by guard and event (tool_call, tool_result, final_answer)."},
		[]string{"guard", "event"})
	r.escalations = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, ConstLabels: cl,
		Name: "guard_escalations_total", Help: "Escalate decisions, by guard and resolution (approved, denied, timeout, pending)."},
		[]string{"guard", "resolution"})
	r.judgeLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, ConstLabels: cl,
		Name: "judge_latency_seconds", Help: "Time the reasoning reward model took per judgment, successful or not.",
		Buckets: c.latencyBuckets}, []string{"judge"})
	r.judgeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, ConstLabels: cl,
		Name: "judge_errors_total", Help: "Judgments that failed (network, timeout, unparsable output) and carry no score."},
		[]string{"judge"})
	r.judgeScore = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, ConstLabels: cl,
		Name: "judge_score", Help: "Scores in [0,1] of successful judgments.", Buckets: scoreBuckets}, []string{"judge"})
	cs := []prometheus.Collector{r.runs, r.steps, r.toolCalls, r.blocks, r.escalations, r.judgeLatency, r.judgeErrors, r.judgeScore}
	if c.runtime {
		cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for _, col := range cs {
		if err := r.reg.Register(col); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return r, nil
}

// Observe counts a finished run: the run by status, its steps, each tool
// call by outcome, each guard decision (ObserveDecision) and each
// assessment (ObserveAssessment). It counts everything in t, so decisions
// and assessments already passed to ObserveDecision or ObserveAssessment
// must not reach Observe as well. A nil t is ignored.
func (r *Registry) Observe(t *trajectory.Trajectory) {
	if t == nil {
		return
	}
	r.runs.WithLabelValues(r.label("status", string(t.Status))).Inc()
	r.steps.Add(float64(len(t.Steps)))
	for i := range t.Steps {
		for j := range t.Steps[i].Calls {
			r.observeCall(&t.Steps[i].Calls[j])
		}
	}
	for i := range t.Decisions {
		r.ObserveDecision(t.Decisions[i])
	}
	for i := range t.Assessments {
		r.ObserveAssessment(t.Assessments[i])
	}
}

func (r *Registry) observeCall(c *trajectory.ToolCall) {
	tool := c.Tool
	if c.UnknownTool {
		// The model chose this name; keep it out of the label space.
		tool = LabelUnknown
	}
	r.toolCalls.WithLabelValues(r.label("tool", tool), callOutcome(c)).Inc()
}

func callOutcome(c *trajectory.ToolCall) string {
	switch {
	case c.Blocked:
		return OutcomeBlocked
	case c.UnknownTool:
		return OutcomeUnknownTool
	case c.Panicked:
		return OutcomePanic
	case c.Error != "":
		return OutcomeError
	}
	return OutcomeOK
}

// ObserveDecision counts one guard decision: a Block under
// reagent_guard_blocks_total, an Escalate under
// reagent_guard_escalations_total; Allow decisions are not counted.
func (r *Registry) ObserveDecision(d trajectory.Decision) {
	switch d.Verdict {
	case trajectory.Block:
		r.blocks.WithLabelValues(r.label("guard", d.Guard), r.label("event", string(d.Event))).Inc()
	case trajectory.Escalate:
		r.escalations.WithLabelValues(r.label("guard", d.Guard), resolution(d.Resolution)).Inc()
	}
}

// resolution maps Decision.Resolution, free text that starts with the
// outcome ("approved by alice"), to a bounded label value.
func resolution(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, v := range []string{"approved", "denied", "timeout"} {
		if strings.HasPrefix(s, v) {
			return v
		}
	}
	if s == "" {
		return "pending"
	}
	return LabelOther
}

// ObserveAssessment counts one judgment: its latency, and either its score
// or an error.
func (r *Registry) ObserveAssessment(a trajectory.Assessment) {
	judge := r.label("judge", a.Judge)
	if a.Latency > 0 {
		r.judgeLatency.WithLabelValues(judge).Observe(a.Latency.Seconds())
	}
	if !a.OK() {
		r.judgeErrors.WithLabelValues(judge).Inc()
		return
	}
	r.judgeScore.WithLabelValues(judge).Observe(a.Score)
}

// ObserveJudgment counts a judgment made outside a trajectory (a reward
// server scoring a request): its latency and whether it failed.
func (r *Registry) ObserveJudgment(judge string, latency time.Duration, err error) {
	j := r.label("judge", judge)
	r.judgeLatency.WithLabelValues(j).Observe(latency.Seconds())
	if err != nil {
		r.judgeErrors.WithLabelValues(j).Inc()
	}
}

// Register adds a collector of the caller's own (for example a server's
// request counter) to the registry, so it is served by Handler too.
func (r *Registry) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register: %w", err)
	}
	return nil
}

// Gatherer returns the underlying Prometheus gatherer, for tests and for
// combining with other registries.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the metrics in the Prometheus text format (or OpenMetrics
// or protobuf, as the scraper asks). Mount it at /metrics.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorLog:      slogAdapter{r.log},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.l.Error("metrics: scrape", "error", fmt.Sprint(v...)) }

// label turns a value from a trajectory into a safe, bounded label value.
func (r *Registry) label(name, v string) string {
	if v == "" {
		return LabelUnknown
	}
	if !utf8.ValidString(v) {
		// Prometheus refuses (panics on) invalid UTF-8 label values.
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	if len(v) > maxLabelLen {
		cut := maxLabelLen
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	return r.limit.admit(name, v)
}

// labelLimiter remembers the values seen per label name and admits at most
// max of them.
type labelLimiter struct {
	mu   sync.Mutex
	max  int
	seen map[string]map[string]struct{}
}

func newLabelLimiter(max int) *labelLimiter {
	return &labelLimiter{max: max, seen: map[string]map[string]struct{}{}}
}

func (l *labelLimiter) admit(name, v string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	vals := l.seen[name]
	if vals == nil {
		vals = map[string]struct{}{}
		l.seen[name] = vals
	}
	if _, ok := vals[v]; ok {
		return v
	}
	if len(vals) >= l.max {
		return LabelOther
	}
	vals[v] = struct{}{}
	return v
}

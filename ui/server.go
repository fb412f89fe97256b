// Package ui is reagent's read-only web interface to an audit store: a
// filterable list of runs, each run's steps, tool calls, guard decisions and
// RRM assessments, the hash chain's verification state, charts drawn on the
// server as inline SVG, and Prometheus metrics derived from the store. It
// serves plain HTML with no script and no outside asset.
package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/metrics"
	"github.com/reagent-go/reagent/trajectory"
)

// ContentSecurityPolicy is sent with every response: nothing may load but
// the page's own styles and data: images, no script runs, and no other site
// may frame the page.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Server serves the UI for one audit store. It only reads the store.
type Server struct {
	store        audit.Store
	auth         *auth // nil: no token, loopback only
	allowedHosts map[string]bool
	trainPath    string
	pageSize     int
	chartLimit   int
	metricsTTL   time.Duration
	success      func(*trajectory.Trajectory) bool
	log          *slog.Logger
	now          func() time.Time
	pages        map[string]*template.Template
	handler      http.Handler

	approvals    *approval.Durable // nil: read-only, no approvals page
	approverName string
	csrfKey      []byte
	cop          *http.CrossOriginProtection

	metricsMu  sync.Mutex
	metricsReg *metrics.Registry
	metricsAt  time.Time
}

// Option configures New.
type Option func(*Server) error

// WithToken requires every request to carry token (at least MinTokenLength
// characters): an "Authorization: Bearer" header, or a ?token= query once,
// which sets a session cookie. The empty string leaves the UI open, which
// is only safe on a loopback address (see CheckAddr).
func WithToken(token string) Option {
	return func(s *Server) error {
		if token == "" {
			s.auth = nil
			return nil
		}
		if len(token) < MinTokenLength {
			return fmt.Errorf("ui: the access token has %d characters; use at least %d (for example from `openssl rand -hex 16`)", len(token), MinTokenLength)
		}
		s.auth = newAuth(token)
		return nil
	}
}

// WithAllowedHosts adds host names (without port) that requests may carry in
// their Host header when no token is set. Without a token only loopback
// names are accepted, so that a web page cannot read the UI through DNS
// rebinding; name here the host of a trusted reverse proxy.
func WithAllowedHosts(hosts ...string) Option {
	return func(s *Server) error {
		for _, h := range hosts {
			if h = strings.TrimSpace(h); h != "" {
				s.allowedHosts[strings.ToLower(h)] = true
			}
		}
		return nil
	}
}

// WithTrainMetrics names the training metrics file (JSON lines, see
// ReadTrainLog) drawn as curves on the charts page. It is read on each
// visit, so a running training shows up as it goes.
func WithTrainMetrics(path string) Option {
	return func(s *Server) error { s.trainPath = path; return nil }
}

// WithPageSize sets how many runs a list page shows by default (50).
func WithPageSize(n int) Option {
	return func(s *Server) error {
		if n < 1 || n > maxPageSize {
			return fmt.Errorf("ui: page size %d: want 1 to %d", n, maxPageSize)
		}
		s.pageSize = n
		return nil
	}
}

// WithChartLimit bounds how many of the newest matching runs the charts
// page reads (default 100000).
func WithChartLimit(n int) Option {
	return func(s *Server) error {
		if n < 1 {
			return fmt.Errorf("ui: chart limit %d: want at least 1", n)
		}
		s.chartLimit = n
		return nil
	}
}

// WithMetricsTTL sets how long the metrics derived from the store are
// reused before a scrape reads the store again (default 15s; 0 reads it on
// every scrape).
func WithMetricsTTL(d time.Duration) Option {
	return func(s *Server) error {
		if d < 0 {
			return fmt.Errorf("ui: metrics TTL %v is negative", d)
		}
		s.metricsTTL = d
		return nil
	}
}

// WithSuccess sets the rule that decides whether a run succeeded, for the
// success-rate charts (default Succeeded).
func WithSuccess(f func(*trajectory.Trajectory) bool) Option {
	return func(s *Server) error {
		if f == nil {
			return errors.New("ui: WithSuccess needs a function")
		}
		s.success = f
		return nil
	}
}

// WithLogger sets the logger for server-side errors (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) error {
		if l != nil {
			s.log = l
		}
		return nil
	}
}

// WithClock sets the clock used for the metrics cache (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Server) error {
		if now != nil {
			s.now = now
		}
		return nil
	}
}

// New returns a Server reading store; the caller keeps owning the store
// and closes it after the server stops.
func New(store audit.Store, opts ...Option) (*Server, error) {
	if store == nil {
		return nil, errors.New("ui: no audit store")
	}
	s := &Server{
		store: store, allowedHosts: map[string]bool{}, pageSize: defaultPageSize, chartLimit: 100_000,
		metricsTTL: 15 * time.Second, success: Succeeded, log: slog.Default(), now: time.Now,
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if err := s.setupApprovals(); err != nil {
		return nil, err
	}
	pages, err := parsePages(s.approvals != nil)
	if err != nil {
		return nil, err
	}
	s.pages = pages
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleList)
	mux.HandleFunc("GET /runs/{id...}", s.handleRun)
	mux.HandleFunc("GET /charts", s.handleCharts)
	mux.HandleFunc("GET /chain", s.handleChain)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	if s.approvals != nil {
		mux.HandleFunc("GET /approvals", s.handleApprovals)
		mux.HandleFunc("POST /approvals/{id}", s.handleDecide)
	}
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusNotFound, "Not found", fmt.Sprintf("There is no page at %s.", r.URL.Path))
	})
	s.handler = mux
	return s, nil
}

// ServeHTTP sets the security headers, refuses every method but GET and
// HEAD (and, with WithApprovals, a decision POSTed to /approvals/{id} by an
// authenticated session), checks the Host header (without a token) or the
// token, and serves the page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if s.decisionPost(r) {
		// Only the header or the session cookie: a ?token= query would
		// answer with a redirect and drop the decision.
		if !s.auth.authenticated(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="reagent ui"`)
			http.Error(w, "401 unauthorized: a decision needs the UI's session (open the UI with ?token=… first) or Authorization: Bearer", http.StatusUnauthorized)
			return
		}
		s.handler.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed: the reagent UI is read-only (GET and HEAD only"+s.postNote()+")", http.StatusMethodNotAllowed)
		return
	}
	if s.auth == nil {
		if !s.hostOK(r.Host) {
			http.Error(w, fmt.Sprintf("403 forbidden: host %q is not loopback; the UI without a token answers only to localhost (set a token, or allow the host)", clip(r.Host)), http.StatusForbidden)
			return
		}
	} else if !s.auth.check(w, r) {
		return
	}
	s.handler.ServeHTTP(w, r)
}

func (s *Server) postNote() string {
	if s.approvals == nil {
		return ""
	}
	return "; decisions are POSTed to /approvals/{id} from the approvals page"
}

func (s *Server) hostOK(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	return IsLoopback(host) || s.allowedHosts[host]
}

// render executes page into a buffer first, so a template failure becomes a
// clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	t := s.pages[page]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("ui: render", "page", page, "path", r.URL.Path, "error", err)
		http.Error(w, "500 internal error: the page could not be rendered (see the server log)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorView struct {
	pageBase
	Status  int
	Message string
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	s.render(w, r, status, "error", errorView{pageBase: pageBase{Title: title}, Status: status, Message: msg})
}

// serverError logs err and shows a short message.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client left
	}
	s.log.Error("ui: "+what, "path", r.URL.Path, "error", err)
	s.renderError(w, r, http.StatusInternalServerError, "Error", what+": "+err.Error())
}

// pageBase carries what the layout needs.
type pageBase struct {
	Title  string
	Active string
	// Referrer is the page's referrer policy (default no-referrer).
	Referrer string
}

// formView is the filter form shared by the list and charts pages.
type formView struct {
	Action   string
	Statuses []trajectory.Status
	F        Filter
	Reset    string
	KeepSize bool
}

func (s *Server) form(action string, f Filter) formView {
	return formView{Action: action, Statuses: statuses, F: f, Reset: action, KeepSize: f.Size != s.pageSize}
}

type listView struct {
	pageBase
	Form   formView
	Filter Filter
	Err    string
	Rows   []runRow
	Newer  string
	Older  string
	Charts string
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r.URL.Query(), s.pageSize)
	v := listView{pageBase: pageBase{Title: "Runs", Active: "runs"}, Form: s.form("/", f), Filter: f}
	v.Charts = "/charts" + encodeQuery(f.Values(0))
	if err != nil {
		v.Err = err.Error()
		s.render(w, r, http.StatusBadRequest, "list", v)
		return
	}
	runs, older, err := s.listPage(r.Context(), f)
	if err != nil {
		s.serverError(w, r, "list runs", err)
		return
	}
	for _, t := range runs {
		v.Rows = append(v.Rows, rowOf(t))
	}
	if f.Page > 1 {
		v.Newer = "/" + encodeQuery(f.Values(f.Page-1))
	}
	if older {
		v.Older = "/" + encodeQuery(f.Values(f.Page+1))
	}
	s.render(w, r, http.StatusOK, "list", v)
}

func encodeQuery(v interface{ Encode() string }) string {
	if q := v.Encode(); q != "" {
		return "?" + q
	}
	return ""
}

// listPage returns page f.Page of the matching runs, newest first, and
// whether older runs exist. The store lists oldest first and keeps the N
// newest with Query.Last, so page p is the runs among the newest p·size
// that are not among the newest (p−1)·size.
func (s *Server) listPage(ctx context.Context, f Filter) ([]*trajectory.Trajectory, bool, error) {
	q := f.Query()
	boundary := ""
	if f.Page > 1 {
		bq := q
		bq.Last, bq.Limit = (f.Page-1)*f.Size, 1
		b, err := s.store.List(ctx, bq)
		if err != nil {
			return nil, false, err
		}
		if len(b) == 0 {
			return nil, false, nil
		}
		boundary = b[0].ID
	}
	pq := q
	pq.Last, pq.Limit = f.Page*f.Size, f.Size
	got, err := s.store.List(ctx, pq)
	if err != nil {
		return nil, false, err
	}
	var runs []*trajectory.Trajectory
	for _, t := range got {
		if boundary != "" && t.ID == boundary {
			break
		}
		runs = append(runs, t)
	}
	older := false
	if len(runs) > 0 {
		oq := q
		oq.Limit = 1
		oldest, err := s.store.List(ctx, oq)
		if err != nil {
			return nil, false, err
		}
		older = len(oldest) > 0 && oldest[0].ID != runs[0].ID
	}
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	return runs, older, nil
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t, err := s.store.Get(r.Context(), id)
	if errors.Is(err, audit.ErrNotFound) {
		s.renderError(w, r, http.StatusNotFound, "Run not found", fmt.Sprintf("The audit store has no run %q.", id))
		return
	}
	if err != nil {
		s.serverError(w, r, "read run", err)
		return
	}
	s.render(w, r, http.StatusOK, "run", runViewOf(t))
}

type chainView struct {
	pageBase
	Report  audit.VerifyReport
	Summary string
	Took    time.Duration
}

func (s *Server) handleChain(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rep, err := s.store.Verify(r.Context())
	if err != nil {
		s.serverError(w, r, "verify the audit chain", err)
		return
	}
	s.render(w, r, http.StatusOK, "chain", chainView{pageBase: pageBase{Title: "Audit chain", Active: "chain"},
		Report: rep, Summary: rep.String(), Took: time.Since(start)})
}

type chartsView struct {
	pageBase
	Form       formView
	Filter     Filter
	Err        string
	Stats      *chartStats
	Limited    bool
	Limit      int
	StatusRows []statusCount
	Histogram  barChart
	BySuite    hbarChart
	ByStrategy hbarChart
	TrainPath  string
	Train      *TrainLog
	TrainErr   string
	Main       []lineChart
	More       []lineChart
	Runs       string
}

type statusCount struct {
	Status trajectory.Status
	N      int
}

func (s *Server) handleCharts(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r.URL.Query(), s.pageSize)
	v := chartsView{pageBase: pageBase{Title: "Charts", Active: "charts"}, Form: s.form("/charts", f), Filter: f,
		Runs: "/" + encodeQuery(f.Values(0)), TrainPath: s.trainPath, Limit: s.chartLimit}
	if err != nil {
		v.Err = err.Error()
		s.render(w, r, http.StatusBadRequest, "charts", v)
		return
	}
	st := newChartStats()
	q := f.Query()
	q.Last = s.chartLimit
	err = s.store.Walk(r.Context(), q, func(t *trajectory.Trajectory) error {
		st.add(t, s.success)
		return nil
	})
	if err != nil {
		s.serverError(w, r, "read runs for the charts", err)
		return
	}
	v.Stats = st
	v.Limited = st.Total >= s.chartLimit
	for _, k := range statuses {
		if n := st.ByStatus[k]; n > 0 {
			v.StatusRows = append(v.StatusRows, statusCount{k, n})
		}
	}
	v.Histogram = histogram(st.Scores, 10)
	v.BySuite = rateChart("suite", st.BySuite)
	v.ByStrategy = rateChart("strategy", st.ByStrategy)
	if s.trainPath != "" {
		tl, err := ReadTrainLogFile(s.trainPath)
		if err != nil {
			v.TrainErr = err.Error()
		} else {
			v.Train = tl
			for _, se := range tl.Series {
				if se.Main {
					v.Main = append(v.Main, curve(se))
				} else {
					v.More = append(v.More, curve(se))
				}
			}
		}
	}
	s.render(w, r, http.StatusOK, "charts", v)
}

// handleMetrics serves metrics derived from the store at scrape time: every
// stored run is passed to metrics.Registry.Observe, and the result is reused
// for the metrics TTL so that frequent scrapes do not reread the store.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	reg, err := s.storeMetrics(r.Context())
	if err != nil {
		s.log.Error("ui: metrics", "error", err)
		http.Error(w, "500 internal error: could not read the audit store for metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	reg.Handler().ServeHTTP(w, r)
}

func (s *Server) storeMetrics(ctx context.Context) (*metrics.Registry, error) {
	s.metricsMu.Lock()
	defer s.metricsMu.Unlock()
	if s.metricsReg != nil && s.metricsTTL > 0 && s.now().Sub(s.metricsAt) < s.metricsTTL {
		return s.metricsReg, nil
	}
	reg, err := metrics.New(metrics.WithLogger(s.log))
	if err != nil {
		return nil, err
	}
	if err := s.store.Walk(ctx, audit.Query{}, func(t *trajectory.Trajectory) error {
		reg.Observe(t)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("walk runs: %w", err)
	}
	s.metricsReg, s.metricsAt = reg, s.now()
	return reg, nil
}

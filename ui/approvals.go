package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/reagent-go/reagent/guardrails/approval"
)

// Limits of the approvals page.
const (
	// MaxDecisionReason is the longest reason (in bytes) a decision may
	// carry.
	MaxDecisionReason = 1000
	// maxDecisionBody bounds the body of a decision POST.
	maxDecisionBody = 16 << 10
	// maxRequestID bounds the request ID in a decision's path.
	maxRequestID = 200
	// recentDecisions is how many decisions the approvals page lists.
	recentDecisions = 50
	// maxPendingShown is how many pending requests the approvals page
	// lists (the oldest); it says how many more wait.
	maxPendingShown = 200
	// csrfCookie holds the approvals page's CSRF session.
	csrfCookie = "reagent_ui_csrf"
)

// WithApprovals adds the approvals page: GET /approvals lists d's pending
// requests (run, tool, input and the guards that escalated, as d returns
// them) and its recent decisions, and POST /approvals/{id} records an
// approve or deny with a reason through d.Decide, after which the host
// resumes the run. Decisions need an access token (WithToken): New refuses
// WithApprovals without one, since nothing else says who decided. Each
// decision must come from the page itself: same origin (Sec-Fetch-Site,
// Origin or Referer naming this host) and carrying the page's per-session
// HMAC token; anything else is refused with 403. Without this option the UI
// stays read-only: no approvals page, and every POST is refused with 405.
func WithApprovals(d *approval.Durable) Option {
	return func(s *Server) error {
		if d == nil {
			return errors.New("ui: WithApprovals needs a durable approver (approval.NewDurable over the UI's store)")
		}
		s.approvals = d
		return nil
	}
}

// WithApproverName names the person or team that holds the access token;
// decisions made in the UI are recorded as "NAME (reagent ui, token
// FINGERPRINT)", the fingerprint being the first 8 hex digits of the
// token's SHA-256. Without a name they read "reagent ui (token
// FINGERPRINT)".
func WithApproverName(name string) Option {
	return func(s *Server) error {
		name = strings.TrimSpace(name)
		if len(name) > 200 || strings.ContainsFunc(name, unicode.IsControl) {
			return fmt.Errorf("ui: approver name %q: want at most 200 characters and no control characters", clip(name))
		}
		s.approverName = name
		return nil
	}
}

// setupApprovals checks the options and makes the CSRF key.
func (s *Server) setupApprovals() error {
	if s.approvals == nil {
		return nil
	}
	if s.auth == nil {
		return errors.New("ui: approvals need an access token (WithToken, `reagent ui --token`): without one nothing authenticates who decides")
	}
	s.csrfKey = make([]byte, 32)
	_, _ = rand.Read(s.csrfKey) // crypto/rand never fails on supported platforms
	s.cop = http.NewCrossOriginProtection()
	return nil
}

// approver is the By of the UI's decisions.
func (s *Server) approver() string {
	if s.approverName == "" {
		return "reagent ui (token " + s.auth.fingerprint() + ")"
	}
	return s.approverName + " (reagent ui, token " + s.auth.fingerprint() + ")"
}

// decisionPost reports whether r is a POST the approvals page accepts.
func (s *Server) decisionPost(r *http.Request) bool {
	return s.approvals != nil && r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/approvals/")
}

// csrfToken is the form token of CSRF session sid.
func (s *Server) csrfToken(sid string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("reagent ui approvals v1\x00"))
	m.Write([]byte(sid))
	return hex.EncodeToString(m.Sum(nil))
}

func validSID(v string) bool {
	if len(v) != 32 {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

// csrfSession returns the browser's CSRF session, starting one (a cookie)
// when it has none.
func (s *Server) csrfSession(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && validSID(c.Value) {
		return c.Value
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	sid := hex.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: sid, Path: "/approvals",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	return sid
}

// sameOrigin checks that r comes from a page of this UI: the browser's
// Sec-Fetch-Site (http.CrossOriginProtection), then an Origin, or failing
// that a Referer, whose host is the request's Host. A request naming
// neither is refused: decisions are made on the approvals page.
func (s *Server) sameOrigin(r *http.Request) error {
	if err := s.cop.Check(r); err != nil {
		return err
	}
	src, what := r.Header.Get("Origin"), "Origin"
	if src == "" {
		src, what = r.Header.Get("Referer"), "Referer"
	}
	if src == "" {
		return errors.New("the request names no Origin or Referer; decide on the approvals page of this UI (or use `reagent approve`)")
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q is not a web origin", what, clip(src))
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return fmt.Errorf("%s %q is another site than this UI (%s)", what, clip(src), clip(r.Host))
	}
	return nil
}

// decisionForm is what the approvals page posts.
type decisionForm struct {
	Approved bool
	Reason   string
	CSRF     string
}

// parseDecisionForm parses the body of a decision POST
// (application/x-www-form-urlencoded): decision=approve or deny, an
// optional reason (at most MaxDecisionReason bytes of UTF-8 text, no
// control characters but tab and line breaks; trimmed) and the page's csrf
// token. Each field may appear once and no other field may. The returned
// form carries the csrf token (when the body parses and names it once) even
// when err reports another fault, so that the caller checks it first.
func parseDecisionForm(body string) (decisionForm, error) {
	v, err := url.ParseQuery(body)
	if err != nil {
		return decisionForm{}, fmt.Errorf("the form does not parse: %w", err)
	}
	var f decisionForm
	if cs := v["csrf"]; len(cs) == 1 {
		f.CSRF = cs[0]
	}
	for k, vs := range v {
		switch k {
		case "decision", "reason", "csrf":
		default:
			return f, fmt.Errorf("unknown field %q (want decision, reason and csrf)", clip(k))
		}
		if len(vs) > 1 {
			return f, fmt.Errorf("field %q appears %d times; give it once", k, len(vs))
		}
	}
	switch d := v.Get("decision"); d {
	case "approve":
		f.Approved = true
	case "deny":
	case "":
		return f, errors.New("no decision: send decision=approve or decision=deny")
	default:
		return f, fmt.Errorf("decision %q: want approve or deny", clip(d))
	}
	reason := strings.TrimSpace(v.Get("reason"))
	if len(reason) > MaxDecisionReason {
		return f, fmt.Errorf("the reason has %d bytes; keep it to %d", len(reason), MaxDecisionReason)
	}
	if !utf8.ValidString(reason) {
		return f, errors.New("the reason is not valid UTF-8")
	}
	if strings.ContainsFunc(reason, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }) {
		return f, errors.New("the reason holds control characters")
	}
	f.Reason = reason
	if f.CSRF == "" {
		return f, errors.New("no csrf token: decide on the approvals page")
	}
	return f, nil
}

// forbidden answers 403 with why.
func forbidden(w http.ResponseWriter, why string) {
	http.Error(w, "403 forbidden: "+why, http.StatusForbidden)
}

// handleDecide records a decision posted by the approvals page. The
// request is already authenticated (ServeHTTP); here come the CSRF checks,
// the form, and d.Decide: 303 to the page on success, 404 for an unknown
// request, 409 for one already decided.
func (s *Server) handleDecide(w http.ResponseWriter, r *http.Request) {
	if err := s.sameOrigin(r); err != nil {
		forbidden(w, "cross-site decision refused: "+err.Error())
		return
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || !validSID(c.Value) {
		forbidden(w, "no CSRF session: open the approvals page and decide there")
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		http.Error(w, "415 unsupported media type: post the approvals page's form (application/x-www-form-urlencoded)", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDecisionBody))
	if err != nil {
		http.Error(w, fmt.Sprintf("400 bad request: the form could not be read (at most %d bytes): %v", maxDecisionBody, err), http.StatusBadRequest)
		return
	}
	// The token is checked before anything else in the form: a form
	// without a valid one is refused as forged, whatever else is wrong.
	f, err := parseDecisionForm(string(body))
	if f.CSRF == "" {
		forbidden(w, "the form carries no CSRF token: open the approvals page and decide there")
		return
	}
	if !hmac.Equal([]byte(f.CSRF), []byte(s.csrfToken(c.Value))) {
		forbidden(w, "the CSRF token does not match this session (the page is stale or the server restarted): reload the approvals page and decide again")
		return
	}
	if err != nil {
		http.Error(w, "400 bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	if id == "" || len(id) > maxRequestID {
		s.renderError(w, r, http.StatusNotFound, "Approval request not found", fmt.Sprintf("There is no approval request %q.", clip(id)))
		return
	}
	dec, err := s.approvals.Decide(r.Context(), id, approval.Resolution{Approved: f.Approved, By: s.approver(), Reason: f.Reason})
	switch {
	case errors.Is(err, approval.ErrUnknownRequest):
		s.renderError(w, r, http.StatusNotFound, "Approval request not found", fmt.Sprintf("The audit store has no approval request %q.", id))
		return
	case errors.Is(err, approval.ErrDecided):
		s.renderError(w, r, http.StatusConflict, "Already decided", err.Error()+". The first decision stands.")
		return
	case approval.CannotResume(err):
		s.renderError(w, r, http.StatusUnprocessableEntity, "Cannot approve", err.Error())
		return
	case err != nil:
		s.serverError(w, r, "record the decision", err)
		return
	}
	s.log.Info("ui: approval decided", "request", id, "approved", dec.Approved, "by", dec.By)
	http.Redirect(w, r, "/approvals?decided="+url.QueryEscape(id), http.StatusSeeOther)
}

// approvalRow is one request on the approvals page.
type approvalRow struct {
	approval.Stored
	Age      string
	Decision *approval.Decision
}

type approvalsView struct {
	pageBase
	CSRF      string
	Approver  string
	Pending   []approvalRow
	More      int // pending requests not listed
	Decided   []approvalRow
	Flash     *approvalRow
	MaxReason int
}

func (s *Server) handleApprovals(w http.ResponseWriter, r *http.Request) {
	// Decisions are posted from this page: let the browser name its origin.
	w.Header().Set("Referrer-Policy", "same-origin")
	sid := s.csrfSession(w, r)
	l, err := s.approvals.List(r.Context(), recentDecisions)
	if err != nil {
		s.serverError(w, r, "read the approval requests", err)
		return
	}
	now := s.now()
	v := approvalsView{pageBase: pageBase{Title: "Approvals", Active: "approvals", Referrer: "same-origin"},
		CSRF: s.csrfToken(sid), Approver: s.approver(), MaxReason: MaxDecisionReason}
	for i, p := range l.Pending {
		if i == maxPendingShown {
			v.More = len(l.Pending) - i
			break
		}
		v.Pending = append(v.Pending, approvalRow{Stored: p, Age: fmtAge(now, p.Request.RequestedAt)})
	}
	for _, d := range l.Decided {
		v.Decided = append(v.Decided, approvalRow{Stored: d.Stored, Age: fmtAge(now, d.Request.RequestedAt), Decision: &d.Decision})
	}
	if id := r.URL.Query().Get("decided"); id != "" && len(id) <= maxRequestID {
		for i := range v.Decided {
			if v.Decided[i].Request.ID == id {
				v.Flash = &v.Decided[i]
				break
			}
		}
		if v.Flash == nil { // older than the recent ones
			if st, dec, err := s.approvals.Lookup(r.Context(), id); err == nil && dec != nil {
				v.Flash = &approvalRow{Stored: st, Decision: dec}
			}
		}
	}
	s.render(w, r, http.StatusOK, "approvals", v)
}

// fmtAge says how long ago t was, coarsely ("45s", "12m", "3h 5m", "2d 4h").
func fmtAge(now, t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

package approval

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/reagent-go/reagent/internal/trunc"
	"io"
	"net/http"
	"strings"
	"time"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" on webhook
// requests (and on answers from WebhookHandler).
const SignatureHeader = "X-Reagent-Signature"

// maxWebhookBody bounds what is read from a webhook answer or request.
const maxWebhookBody = 1 << 20

// Sign returns the SignatureHeader value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether header is the signature of body, in
// constant time.
func VerifySignature(secret, body []byte, header string) bool {
	if len(secret) == 0 {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, body)), []byte(strings.TrimSpace(header)))
}

// WebhookApprover posts each escalation as JSON to a configured (trusted)
// endpoint, signed with HMAC-SHA256 over the body in SignatureHeader, and
// waits for a JSON answer {"id", "approved", "by", "reason"}. A non-2xx
// status, a malformed answer, an answer for another request or a timeout
// blocks.
type WebhookApprover struct {
	url           string
	secret        []byte
	client        *http.Client
	timeout       time.Duration
	requireSigned bool
}

// WebhookOption configures a WebhookApprover.
type WebhookOption func(*WebhookApprover)

// WithWebhookClient sets the HTTP client (default: a plain client; the
// webhook URL is configuration, not agent input).
func WithWebhookClient(c *http.Client) WebhookOption {
	return func(w *WebhookApprover) {
		if c != nil {
			w.client = c
		}
	}
}

// WithWebhookTimeout bounds one approval round trip (default 30 s).
func WithWebhookTimeout(d time.Duration) WebhookOption {
	return func(w *WebhookApprover) {
		if d > 0 {
			w.timeout = d
		}
	}
}

// WithSignedAnswers requires the webhook's answer to carry a valid
// SignatureHeader (WebhookHandler signs its answers). Without it, a
// signature that is present must still be valid.
func WithSignedAnswers() WebhookOption { return func(w *WebhookApprover) { w.requireSigned = true } }

// NewWebhookApprover returns an approver that posts to url. The secret
// must not be empty.
func NewWebhookApprover(url string, secret []byte, opts ...WebhookOption) (*WebhookApprover, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("webhook approver: url %q must start with http:// or https://", url)
	}
	if len(secret) == 0 {
		return nil, errors.New("webhook approver: empty secret (requests must be signed)")
	}
	w := &WebhookApprover{url: url, secret: append([]byte(nil), secret...), client: &http.Client{}, timeout: 30 * time.Second}
	for _, o := range opts {
		o(w)
	}
	return w, nil
}

// Name identifies the approver in decisions.
func (w *WebhookApprover) Name() string { return "webhook" }

// URL returns the endpoint.
func (w *WebhookApprover) URL() string { return w.url }

// String describes the approver for policy summaries: "webhook URL".
func (w *WebhookApprover) String() string { return "webhook " + w.url }

// webhookAnswer is the JSON a webhook returns.
type webhookAnswer struct {
	ID       string `json:"id"`
	Approved *bool  `json:"approved"`
	By       string `json:"by"`
	Reason   string `json:"reason"`
}

// Approve posts req and waits for the answer.
func (w *WebhookApprover) Approve(ctx context.Context, req Request) (Resolution, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	resp, data, err := w.send(ctx, req)
	if err != nil {
		return Resolution{}, err
	}
	sig := resp.Header.Get(SignatureHeader)
	if (sig != "" || w.requireSigned) && !VerifySignature(w.secret, data, sig) {
		return Resolution{}, errors.New("webhook approval: answer has a missing or bad signature")
	}
	var ans webhookAnswer
	if err := json.Unmarshal(data, &ans); err != nil {
		return Resolution{}, fmt.Errorf("webhook approval: answer is not JSON {\"approved\": bool}: %w", err)
	}
	if ans.Approved == nil {
		return Resolution{}, errors.New(`webhook approval: answer has no "approved" field`)
	}
	if ans.ID != "" && ans.ID != req.ID {
		return Resolution{}, fmt.Errorf("webhook approval: answer is for request %q, not %q", ans.ID, req.ID)
	}
	by := ans.By
	if by == "" {
		by = "webhook"
	}
	return Resolution{Approved: *ans.Approved, By: by, Reason: ans.Reason}, nil
}

// send posts req, signed, and reads a 2xx answer of at most 1 MiB.
func (w *WebhookApprover) send(ctx context.Context, req Request) (*http.Response, []byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook approval: encode request: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("webhook approval: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(SignatureHeader, Sign(w.secret, body))
	hr.Header.Set("X-Reagent-Request-Id", req.ID)
	resp, err := w.client.Do(hr)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook approval: post to %s: %w", w.url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("webhook approval: read answer: %w", err)
	}
	if len(data) > maxWebhookBody {
		return nil, nil, errors.New("webhook approval: answer larger than 1 MiB")
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil, fmt.Errorf("webhook approval: %s answered %s: %s", w.url, resp.Status, trunc.Quote(string(data), 200))
	}
	return resp, data, nil
}

// post notifies the endpoint of a stored request: any 2xx answer will do.
func (w *WebhookApprover) post(ctx context.Context, req Request) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	_, _, err := w.send(ctx, req)
	return err
}

// WebhookHandler is the receiving side of a WebhookApprover, for services
// (and examples) that decide approvals in Go: it verifies the signature,
// decodes the request, calls decide and returns the signed answer.
func WebhookHandler(secret []byte, decide func(ctx context.Context, req Request) Resolution) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readSigned(w, r, secret)
		if !ok {
			return
		}
		var req Request
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad request JSON", http.StatusBadRequest)
			return
		}
		res := decide(r.Context(), req)
		approved := res.Approved
		out, _ := json.Marshal(webhookAnswer{ID: req.ID, Approved: &approved, By: res.By, Reason: res.Reason})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(SignatureHeader, Sign(secret, out))
		w.Write(out)
	})
}

// readSigned reads a POSTed body whose SignatureHeader must verify; it
// answers the error itself when it returns false.
func readSigned(w http.ResponseWriter, r *http.Request, secret []byte) ([]byte, bool) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
	if err != nil || len(body) > maxWebhookBody {
		http.Error(w, "bad body", http.StatusBadRequest)
		return nil, false
	}
	if !VerifySignature(secret, body, r.Header.Get(SignatureHeader)) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

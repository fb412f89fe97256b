package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// ErrUnknownRequest is wrapped by Lookup and Decide for a request ID the
// store does not hold.
var ErrUnknownRequest = errors.New("approval: no such approval request")

// ErrDecided is wrapped by Decide for a request that already has a decision.
var ErrDecided = errors.New("approval: request already decided")

// Stored is a stored approval request: the escalated tool call and what
// its host needs to resume the run from it. Lookup and Pending give its
// readable form (for people: `reagent approve`, the UI), Unseal its exact
// form (for hosts resuming the run).
type Stored struct {
	// Request is the escalated call. In the readable form its free text
	// (tool, input, escalations, …) is redacted.
	Request Request `json:"request"`
	// Host names the adapter that paused the run ("langchaingo", "eino").
	Host string `json:"host,omitempty"`
	// State is the host's resume state (run.Run's ResumeState). The
	// readable form has it only when it is exact: nil when redaction
	// changed the call or the state, and when the call is sealed.
	State json.RawMessage `json:"state"`
	// Redacted reports that the call or its state carried a secret:
	// the readable form differs from the exact one.
	Redacted bool `json:"redacted,omitempty"`
	// Sealed reports that the exact call is kept encrypted under a seal
	// key (WithSealKey): resuming needs that key.
	Sealed bool `json:"sealed,omitempty"`
}

// Decision is the payload of an approval-decision record.
type Decision struct {
	RequestID string    `json:"request_id"`
	Approved  bool      `json:"approved"`
	By        string    `json:"by"`
	Reason    string    `json:"reason,omitempty"`
	DecidedAt time.Time `json:"decided_at"`
}

// Resolution is the decision as an approver's answer.
func (d Decision) Resolution() Resolution {
	return Resolution{Approved: d.Approved, By: d.By, Reason: d.Reason}
}

// Durable is the approver that survives a restart. Instead of waiting, it
// stores the escalated tool call (the request, the escalations and the
// host's resume state) as an approval-request record in the audit chain,
// pauses the run (run.PauseError: the host ends it with StatusPaused and
// returns an error matching run.ErrPaused) and lets the process exit. A
// decision given later (Decide: `reagent approve`, DecisionHandler) is
// recorded in the same chain, and the host resumes the run from that call
// (middleware.Executor.Resume for langchaingo, einorun.Adapter.Resume for
// eino); in the resumed run Durable
// answers the re-asked call with the recorded decision.
//
// The record is redacted with the store's redactor (the one its
// trajectories go through; redact.Default for a store without one). With a
// seal key (WithSealKey, WithSealKeyFromEnv) the exact call and state are
// kept beside it, encrypted with AES-256-GCM and bound to the run and
// request IDs, and Unseal opens them to resume. Without one, only the
// redacted form is kept: a call that carried a secret cannot be resumed
// (ErrRedactedOnly) but can be denied.
//
// Only tool calls pause: an escalated tool result or final answer cannot be
// resumed and is blocked (denied). Give the policy a generous
// ApprovalTimeout: Durable does not wait, but the store must take the
// record within it.
type Durable struct {
	store  audit.Store
	log    audit.ApprovalLog
	host   string
	now    func() time.Time
	notify *WebhookApprover // posts stored requests; nil: none
	err    error            // from options

	redactor *redact.Redactor    // the store's; nil: redaction off
	sealWith *sealKey            // seals new requests; nil: no key
	openWith map[string]*sealKey // opens sealed requests, by key ID
}

// DurableOption configures a Durable approver.
type DurableOption func(*Durable)

// WithHost names the host adapter in stored requests (default "langchaingo").
func WithHost(name string) DurableOption { return func(d *Durable) { d.host = name } }

// WithClock sets the clock used for decision times (tests).
func WithClock(now func() time.Time) DurableOption { return func(d *Durable) { d.now = now } }

// WithNotify posts each stored request as JSON to url, signed with secret
// in SignatureHeader exactly as WebhookApprover signs its requests, so that
// an approval service learns of it; the service answers later by POSTing
// the decision to DecisionHandler. The post is bounded by timeout (default
// 10 s); a failed post is logged with the run's logger and the run still
// pauses (the request stays pending and `reagent approve --db …` lists it).
func WithNotify(url string, secret []byte, timeout time.Duration, opts ...WebhookOption) DurableOption {
	return func(d *Durable) {
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		w, err := NewWebhookApprover(url, secret, append([]WebhookOption{WithWebhookTimeout(timeout)}, opts...)...)
		if err != nil {
			d.err = errors.Join(d.err, fmt.Errorf("durable approval: notify: %w", err))
			return
		}
		d.notify = w
	}
}

// NewDurable returns a durable approver that keeps requests and decisions
// in store, which must keep approval records (SQLite or PostgreSQL: see
// audit.ApprovalLog).
func NewDurable(store audit.Store, opts ...DurableOption) (*Durable, error) {
	log, ok := store.(audit.ApprovalLog)
	if !ok || store == nil {
		return nil, fmt.Errorf("durable approval: store %T cannot keep approval records; open a SQLite or PostgreSQL store with audit.Open", store)
	}
	d := &Durable{store: store, log: log, host: "langchaingo", now: time.Now}
	d.redactor = log.Redactor() // nil when the store's redaction is off
	for _, o := range opts {
		o(d)
	}
	if d.err != nil {
		return nil, d.err
	}
	return d, nil
}

// Name identifies the approver in decisions.
func (d *Durable) Name() string { return "durable" }

// Store returns the audit store the approver keeps its records in.
func (d *Durable) Store() audit.Store { return d.store }

// String describes the approver for policy summaries.
func (d *Durable) String() string { return "durable (requests kept in the audit store)" }

// Approve answers a call that a resumed run re-asks with its recorded
// decision; otherwise it stores the request, pauses the run and returns an
// error (the chain then refuses the call and the run ends paused).
func (d *Durable) Approve(ctx context.Context, req Request) (Resolution, error) {
	if dec, ok := takeDecision(ctx, req); ok {
		return dec.Resolution(), nil
	}
	if req.Event != trajectory.EventToolCall {
		return Resolution{}, fmt.Errorf("durable approval: a %s cannot pause its run; only tool calls can", req.Event)
	}
	r := run.FromContext(ctx)
	if r == nil {
		return Resolution{}, errors.New("durable approval: the call has no run in its context (use a host adapter)")
	}
	if req.RunID == "" {
		req.RunID = r.ID()
	}
	req.Deadline = time.Time{} // nobody waits
	if hold, _ := ctx.Value(holdKey{}).(HoldFunc); hold != nil {
		if err := hold(d, Stored{Request: req, Host: d.host}); err != nil {
			return Resolution{}, fmt.Errorf("durable approval: %w", err)
		}
		r.Pause(&run.PauseError{RequestID: req.ID, Tool: req.Tool})
		return Resolution{By: d.Name()}, fmt.Errorf("paused: approval request %s held until its host stores its state", req.ID)
	}
	state, err := r.ResumeState()
	if err != nil {
		return Resolution{}, fmt.Errorf("durable approval: %w", err)
	}
	if err := d.StoreRequest(ctx, Stored{Request: req, Host: d.host, State: state}); err != nil {
		return Resolution{}, err
	}
	r.Pause(&run.PauseError{RequestID: req.ID, Tool: req.Tool})
	return Resolution{By: d.Name()}, fmt.Errorf("paused: approval request %s stored", req.ID)
}

// HoldFunc receives, from the Durable approver d that paused a run, the
// request it did not store yet (State empty): the host stores it with
// d.StoreRequest once it has the state. See ContextWithHold.
type HoldFunc func(d *Durable, st Stored) error

type holdKey struct{}

// ContextWithHold returns a context in which a Durable approver, instead of
// storing an escalated tool call's request at once with the run's
// ResumeState, hands it to hold and pauses the run. It is for hosts whose
// resume state exists only after the run has stopped (eino's checkpoint,
// saved by its Runner after the interrupt). The host must then store the
// request, State filled in, with StoreRequest before it ends the run
// paused; a request it never stores was never made. When hold returns an
// error the call is not paused and the chain refuses it.
func ContextWithHold(ctx context.Context, hold HoldFunc) context.Context {
	return context.WithValue(ctx, holdKey{}, hold)
}

// StoreRequest appends st as a pending approval request to the chain,
// makes it durable and, with WithNotify, posts it (a failed post is logged
// with the logger of the run in ctx, or slog's default, and the request
// stays pending). Approve calls it; a host that held a request
// (ContextWithHold) calls it once st.State is known.
func (d *Durable) StoreRequest(ctx context.Context, st Stored) error {
	if st.Request.ID == "" || st.Request.RunID == "" {
		return errors.New("durable approval: a request needs an ID and a run ID")
	}
	if st.Host == "" {
		st.Host = d.host
	}
	payload, shown, err := d.encodeRequest(st.Request, st.Host, st.State)
	if err != nil {
		return fmt.Errorf("durable approval: %w", err)
	}
	if err := d.log.AppendApproval(ctx, audit.KindApprovalRequest, st.Request.RunID, payload); err != nil {
		return fmt.Errorf("durable approval: store request: %w", err)
	}
	if err := d.store.Flush(ctx); err != nil {
		return fmt.Errorf("durable approval: store request: %w", err)
	}
	if d.notify != nil {
		if err := d.notify.post(ctx, shown); err != nil {
			logger := slog.Default()
			if r := run.FromContext(ctx); r != nil {
				logger = r.Recorder().Logger()
			}
			logger.Warn("durable approval: notification failed; the request stays pending", "request", st.Request.ID, "url", d.notify.URL(), "err", err)
		}
	}
	return nil
}

// Lookup returns a stored request in its readable form (redacted; see
// Stored) and its decision (nil while pending). Hosts resume with Unseal.
func (d *Durable) Lookup(ctx context.Context, requestID string) (Stored, *Decision, error) {
	rec, dec, err := d.find(ctx, requestID)
	if err != nil {
		return Stored{}, nil, err
	}
	return d.readable(rec), dec, nil
}

// Unseal returns a stored request exactly as it paused, the form a host
// resumes from, and its decision (nil while pending). A sealed request
// needs the key it was sealed with (WithSealKey, WithOldSealKeys): without
// it Unseal fails with ErrSealKey, and a record that does not
// authenticate (altered, or its sealed part moved from another request)
// fails with ErrSealBroken. A call that carried a secret and was stored
// without a seal key fails with ErrRedactedOnly. Requests stored before
// redaction (no format version) come back as stored.
func (d *Durable) Unseal(ctx context.Context, requestID string) (Stored, *Decision, error) {
	rec, dec, err := d.find(ctx, requestID)
	if err != nil {
		return Stored{}, nil, err
	}
	st, err := d.exact(rec)
	if err != nil {
		return Stored{}, nil, err
	}
	return st, dec, nil
}

// find returns the record of a request and its first decision.
func (d *Durable) find(ctx context.Context, requestID string) (requestRecord, *Decision, error) {
	var rec requestRecord
	var dec *Decision
	found := false
	err := d.scan(ctx, func(r requestRecord) {
		if r.Request.ID == requestID && !found {
			rec, found = r, true
		}
	}, func(dd Decision) {
		if dd.RequestID == requestID && dec == nil {
			dec = &dd
		}
	})
	if err != nil {
		return requestRecord{}, nil, err
	}
	if !found {
		return requestRecord{}, nil, fmt.Errorf("%w: %q (list pending ones with `reagent approve --db …`)", ErrUnknownRequest, requestID)
	}
	return rec, dec, nil
}

// Pending returns the stored requests that have no decision yet, oldest
// first, in their readable form (redacted; see Stored).
func (d *Durable) Pending(ctx context.Context) ([]Stored, error) {
	var reqs []Stored
	decided := map[string]bool{}
	err := d.scan(ctx, func(r requestRecord) { reqs = append(reqs, d.readable(r)) }, func(dd Decision) { decided[dd.RequestID] = true })
	if err != nil {
		return nil, err
	}
	out := reqs[:0]
	for _, s := range reqs {
		if !decided[s.Request.ID] {
			out = append(out, s)
		}
	}
	return out, nil
}

// scan decodes the approval records in chain order.
func (d *Durable) scan(ctx context.Context, onRequest func(requestRecord), onDecision func(Decision)) error {
	return d.log.ApprovalRecords(ctx, func(rec audit.Record) error {
		switch rec.Kind {
		case audit.KindApprovalRequest:
			r, err := decodeRequest(rec.Payload)
			if err != nil {
				return fmt.Errorf("approval: record %d: %w", rec.Seq, err)
			}
			onRequest(r)
		case audit.KindApprovalDecision:
			var dd Decision
			if err := json.Unmarshal(rec.Payload, &dd); err != nil {
				return fmt.Errorf("approval: record %d: %w", rec.Seq, err)
			}
			onDecision(dd)
		}
		return nil
	})
}

// Decide records the decision on a pending request in the chain and makes
// it durable. A request decides once: a second decision fails with
// ErrDecided. By names who decided and must not be empty.
//
// An approval is refused, and nothing recorded, when the run could not
// resume from it: a call that carried a secret and was stored without a
// seal key (ErrRedactedOnly), or a sealed call that this Durable's keys do
// not open (ErrSealKey, ErrSealBroken). A Durable with no key at all may
// approve a sealed call (an approval service need not hold the key; the
// program that resumes does). A denial is always recorded.
func (d *Durable) Decide(ctx context.Context, requestID string, res Resolution) (Decision, error) {
	if strings.TrimSpace(res.By) == "" {
		return Decision{}, errors.New("approval: a decision must name who made it (By)")
	}
	st, prev, err := d.Lookup(ctx, requestID)
	if err != nil {
		return Decision{}, err
	}
	if prev != nil {
		verb := "denied"
		if prev.Approved {
			verb = "approved"
		}
		return Decision{}, fmt.Errorf("%w: %s %s it at %s", ErrDecided, prev.By, verb, prev.DecidedAt.Format(time.RFC3339))
	}
	if res.Approved && (st.Redacted || st.Sealed) && (!st.Sealed || len(d.openWith) > 0) {
		if _, _, err := d.Unseal(ctx, requestID); err != nil {
			return Decision{}, fmt.Errorf("approval: not approved, because the run could not resume (deny it instead): %w", err)
		}
	}
	dec := Decision{RequestID: requestID, Approved: res.Approved, By: res.By, Reason: res.Reason, DecidedAt: d.now().UTC()}
	payload, err := json.Marshal(dec)
	if err != nil {
		return Decision{}, fmt.Errorf("approval: encode decision: %w", err)
	}
	if err := d.log.AppendApproval(ctx, audit.KindApprovalDecision, st.Request.RunID, payload); err != nil {
		return Decision{}, fmt.Errorf("approval: store decision: %w", err)
	}
	if err := d.store.Flush(ctx); err != nil {
		return Decision{}, fmt.Errorf("approval: store decision: %w", err)
	}
	return dec, nil
}

// resumeKey carries the decision of the call a resumed run re-asks.
type resumeKey struct{}

type resumeDecision struct {
	tool, input string
	dec         Decision
	used        atomic.Bool
}

// ContextWithDecision returns a context for resuming the run of st: when
// its guards escalate the same tool call (same tool and input) again,
// Durable answers with dec instead of pausing, once. Hosts' Resume methods
// use it with the exact request from Unseal (a redacted one from Lookup
// does not match a call that carried a secret).
func ContextWithDecision(ctx context.Context, st Stored, dec Decision) context.Context {
	return context.WithValue(ctx, resumeKey{}, &resumeDecision{tool: st.Request.Tool, input: st.Request.Input, dec: dec})
}

func takeDecision(ctx context.Context, req Request) (Decision, bool) {
	rd, _ := ctx.Value(resumeKey{}).(*resumeDecision)
	if rd == nil || req.Event != trajectory.EventToolCall || req.Tool != rd.tool || req.Input != rd.input || !rd.used.CompareAndSwap(false, true) {
		return Decision{}, false
	}
	return rd.dec, true
}

package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/reagent-go/reagent/audit/redact"
)

// Record kinds of durable approvals (package guardrails/approval, Durable).
// Both belong to a run (RunID) and are links of the same hash chain as its
// trajectories.
const (
	// KindApprovalRequest is a tool call that waits for a person's
	// decision, with what its host needs to resume the run: Durable
	// writes the call redacted, and the exact call and resume state
	// sealed (encrypted) when it has a seal key.
	KindApprovalRequest Kind = "approval-request"
	// KindApprovalDecision is the decision on a request.
	KindApprovalDecision Kind = "approval-decision"
)

// ApprovalLog is implemented by the stores that keep approval records
// (SQLite and PostgreSQL): they append them to the chain, and Records
// reads them back.
type ApprovalLog interface {
	// AppendApproval queues an approval record (KindApprovalRequest or
	// KindApprovalDecision) of run runID whose payload is the JSON object
	// payload. The payload is stored as given (in canonical form): the
	// store's redactor is not applied, because a sealed part must stay
	// byte for byte what was sealed. The caller redacts what people read
	// (guardrails/approval.Durable does, with the store's Redactor, and
	// seals the exact call). Flush makes it durable.
	AppendApproval(ctx context.Context, kind Kind, runID string, payload json.RawMessage) error
	// ApprovalRecords calls fn for each approval record in chain order.
	ApprovalRecords(ctx context.Context, fn func(Record) error) error
	// Redactor is the store's redactor, which the caller applies to the
	// readable parts of an approval record (nil when the store was opened
	// with redaction off).
	Redactor() *redact.Redactor
}

var _ ApprovalLog = (*sqlStore)(nil)

// AppendApproval implements ApprovalLog.
func (s *sqlStore) AppendApproval(ctx context.Context, kind Kind, runID string, payload json.RawMessage) error {
	if kind != KindApprovalRequest && kind != KindApprovalDecision {
		return fmt.Errorf("audit: %q is not an approval record kind", kind)
	}
	if err := checkRunID(runID); err != nil {
		return err
	}
	c, err := Canonicalize(payload)
	if err != nil {
		return fmt.Errorf("audit: %s of run %q: %w", kind, runID, err)
	}
	if len(c) == 0 || c[0] != '{' {
		return fmt.Errorf("audit: %s of run %q: payload must be a JSON object", kind, runID)
	}
	return s.w.enqueue(ctx, &item{kind: kind, runID: runID, payload: c, digest: payloadDigest(c)})
}

// ApprovalRecords implements ApprovalLog.
func (s *sqlStore) ApprovalRecords(ctx context.Context, fn func(Record) error) error {
	rows, err := s.rdb.QueryContext(ctx, s.d.q(`SELECT seq, kind, run_id, created_at, payload, payload_sha256, prev_hash, hash
		FROM audit_records WHERE kind IN (?, ?) ORDER BY seq`), string(KindApprovalRequest), string(KindApprovalDecision))
	if err != nil {
		return s.werr(fmt.Errorf("audit: read approval records: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var r Record
		var kind, payload string
		if err := rows.Scan(&r.Seq, &kind, &r.RunID, &r.CreatedAt, &payload, &r.PayloadSHA256, &r.PrevHash, &r.Hash); err != nil {
			return s.werr(fmt.Errorf("audit: read approval records: %w", err))
		}
		r.Kind, r.Payload = Kind(kind), json.RawMessage(payload)
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.werr(fmt.Errorf("audit: read approval records: %w", err))
	}
	return nil
}

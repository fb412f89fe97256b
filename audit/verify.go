package audit

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"time"
)

// errStop ends a Records walk once the verifier has found a break.
var errStop = errors.New("audit: stop")

type chainHead struct {
	seq  int64
	hash string
}

// verifier checks records fed to it in seq order. It is shared by every
// backend, so that all of them mean the same thing by "intact".
type verifier struct {
	head        *chainHead // as stored in audit_head; nil when the row is missing
	checkpoints func(ctx context.Context) ([]Record, error)

	rep       VerifyReport
	prev      string
	next      int64 // expected seq; 0 before the first record
	headMatch bool  // the record at head.seq carries head.hash
	sawJCS    bool  // a record in RFC 8785 form was seen
	h         hash.Hash
	scratch   []byte
}

func newVerifier(head *chainHead, checkpoints func(ctx context.Context) ([]Record, error)) *verifier {
	return &verifier{head: head, checkpoints: checkpoints, h: sha256.New(), rep: VerifyReport{OK: true}}
}

func (v *verifier) broken(r Record, reason Reason, format string, args ...any) error {
	v.rep.OK = false
	v.rep.Break = &Break{Seq: r.Seq, RunID: r.RunID, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	return errStop
}

func (v *verifier) add(ctx context.Context, r Record) error {
	if v.next == 0 {
		if err := v.start(ctx, r); err != nil {
			return err
		}
	}
	if r.Seq != v.next {
		return v.broken(r, ReasonSeqGap, "records %d..%d are missing before it (deleted?)", v.next, r.Seq-1)
	}
	if payloadDigest(r.Payload) != r.PayloadSHA256 {
		return v.broken(r, ReasonPayloadEdited, "the payload does not match its SHA-256 digest %s", short(r.PayloadSHA256))
	}
	if err := r.Canon.check(); err != nil {
		return v.broken(r, ReasonBadRecord, "%v", err)
	}
	if r.Canon == FormLegacy && v.sawJCS {
		return v.broken(r, ReasonBadRecord, "a record in the legacy canonical form follows records in RFC 8785 form, which no reagent writes")
	}
	if err := checkCanonical(r.Payload, r.Canon); err != nil {
		return v.broken(r, ReasonBadRecord, "%v", err)
	}
	if detail := checkFields(r); detail != "" {
		return v.broken(r, ReasonBadRecord, "%s", detail)
	}
	if r.PrevHash != v.prev {
		return v.broken(r, ReasonLinkBroken, "prev_hash %s is not the entry hash %s of seq %d", short(r.PrevHash), short(v.prev), r.Seq-1)
	}
	want := entryHash(v.h, v.scratch, v.prev, r.Canon, r.Seq, r.Kind, r.RunID, r.CreatedAt, r.Payload, "")
	if want != r.Hash {
		return v.broken(r, ReasonHashMismatch, "stored entry hash %s, recomputed %s: seq, kind, run id, created_at or payload changed",
			short(r.Hash), short(want))
	}
	switch r.Kind {
	case KindTrajectory:
		v.rep.Runs++
	case KindAssessment:
		v.rep.Assessments++
	case KindCheckpoint:
		v.rep.Checkpoints++
	}
	if v.head != nil && r.Seq == v.head.seq {
		v.headMatch = r.Hash == v.head.hash
		if !v.headMatch {
			return v.broken(r, ReasonHashMismatch, "the chain head records hash %s for this seq, the record has %s", short(v.head.hash), short(r.Hash))
		}
	}
	v.rep.Records++
	if r.Canon == FormLegacy {
		v.rep.Legacy++
	}
	v.rep.LastSeq, v.rep.Head = r.Seq, r.Hash
	v.prev = r.Hash
	v.next++
	v.sawJCS = v.sawJCS || r.Canon != FormLegacy
	return nil
}

// start sets what the first record must link to: 64 zeros at seq 1, or the
// hash named by the checkpoint that accounts for the pruned records.
func (v *verifier) start(ctx context.Context, r Record) error {
	v.rep.FirstSeq = r.Seq
	v.next = r.Seq
	if r.Seq == 1 {
		v.prev = ZeroHash
		return nil
	}
	cps, err := v.checkpoints(ctx)
	if err != nil {
		return err
	}
	for _, c := range cps {
		var cp Checkpoint
		if json.Unmarshal(c.Payload, &cp) == nil && cp.PrunedThroughSeq == r.Seq-1 {
			v.prev = cp.PrunedThroughHash
			v.rep.PrunedThrough = cp.PrunedThroughSeq
			return nil
		}
	}
	if r.Seq < 1 {
		return v.broken(r, ReasonBadRecord, "seq %d is not positive", r.Seq)
	}
	return v.broken(r, ReasonSeqGap, "records 1..%d are missing and no checkpoint accounts for them", r.Seq-1)
}

// checkFields checks what the hash cannot: that kind, run id, created_at
// and a checkpoint's payload make sense.
func checkFields(r Record) string {
	if _, err := time.Parse(TimeFormat, r.CreatedAt); err != nil {
		return fmt.Sprintf("created_at %q is not a %s time", r.CreatedAt, TimeFormat)
	}
	switch r.Kind {
	case KindTrajectory, KindAssessment, KindApprovalRequest, KindApprovalDecision:
		if r.RunID == "" {
			return fmt.Sprintf("%s record without a run id", r.Kind)
		}
	case KindCheckpoint:
		var cp Checkpoint
		if err := json.Unmarshal(r.Payload, &cp); err != nil {
			return fmt.Sprintf("checkpoint payload: %v", err)
		}
		if cp.PrunedThroughSeq < 1 || cp.PrunedThroughSeq >= r.Seq || len(cp.PrunedThroughHash) != 64 {
			return fmt.Sprintf("checkpoint names pruned seq %d and hash %q, which cannot precede seq %d",
				cp.PrunedThroughSeq, cp.PrunedThroughHash, r.Seq)
		}
	default:
		return fmt.Sprintf("unknown record kind %q", r.Kind)
	}
	return ""
}

func (v *verifier) finish() VerifyReport {
	if !v.rep.OK {
		return v.rep
	}
	switch {
	case v.head == nil && v.rep.Records > 0:
		v.rep.OK = false
		v.rep.Break = &Break{Seq: v.rep.LastSeq, Reason: ReasonTruncated, Detail: "the chain head row is missing from audit_head"}
	case v.head != nil && v.head.seq > v.rep.LastSeq && v.head.seq > 0:
		v.rep.OK = false
		from := v.rep.LastSeq + 1
		if v.rep.Records == 0 {
			from = 1
		}
		v.rep.Break = &Break{Seq: from, Reason: ReasonTruncated,
			Detail: fmt.Sprintf("records %d..%d are missing at the end of the chain (the head is at seq %d)", from, v.head.seq, v.head.seq)}
	}
	return v.rep
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

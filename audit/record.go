package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
)

// ZeroHash is the prev_hash of the first record of a chain: 64 zeros.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// CanonicalRecord returns the canonical JSON of r, the bytes hashed after
// prev_hash: {"canon":"rfc8785","created_at":…,"kind":…,"payload":…,
// "run_id":…,"seq":…} in RFC 8785 form for records written in it, and
// {"created_at":…,"kind":…,"payload":…,"run_id":…,"seq":…} for records in
// the legacy form (r.Canon empty). r.Payload must already be canonical in
// r's form.
func CanonicalRecord(r Record) ([]byte, error) {
	if err := checkCanonical(r.Payload, r.Canon); err != nil {
		return nil, err
	}
	var b []byte
	b = appendRecordHead(b, r.Canon, r.CreatedAt, r.Kind)
	b = append(b, r.Payload...)
	b = appendRecordTail(b, r.RunID, r.Seq)
	return b, nil
}

// HashRecord returns r's entry hash given the previous record's entry hash:
// hex(SHA-256(prevHash ‖ CanonicalRecord(r))).
func HashRecord(prevHash string, r Record) (string, error) {
	if err := checkCanonical(r.Payload, r.Canon); err != nil {
		return "", err
	}
	return entryHash(sha256.New(), nil, prevHash, r.Canon, r.Seq, r.Kind, r.RunID, r.CreatedAt, r.Payload, ""), nil
}

func checkCanonical(payload []byte, f Form) error {
	c, err := CanonicalizeForm(payload, f)
	if err != nil {
		return fmt.Errorf("audit: payload: %w", err)
	}
	if string(c) != string(payload) {
		return fmt.Errorf("audit: payload is valid JSON but not in %s canonical form", f)
	}
	return nil
}

func appendRecordHead(b []byte, f Form, createdAt string, kind Kind) []byte {
	if f != FormLegacy {
		b = append(b, `{"canon":`...)
		b = appendString(b, string(f))
		b = append(b, `,"created_at":`...)
	} else {
		b = append(b, `{"created_at":`...)
	}
	b = appendString(b, createdAt)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(kind))
	return append(b, `,"payload":`...)
}

func appendRecordTail(b []byte, runID string, seq int64) []byte {
	b = append(b, `,"run_id":`...)
	b = appendString(b, runID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, '}')
}

// entryHash streams prev ‖ canonical record into h without building the
// record; the payload is payload, or text when payload is nil. scratch is
// reused for the small head and tail and, in slices of its capacity, to
// pass text to h without copying it whole.
func entryHash(h hash.Hash, scratch []byte, prev string, f Form, seq int64, kind Kind, runID, createdAt string, payload []byte, text string) string {
	h.Reset()
	h.Write([]byte(prev))
	scratch = appendRecordHead(scratch[:0], f, createdAt, kind)
	h.Write(scratch)
	if payload != nil || text == "" {
		h.Write(payload)
	} else {
		n := max(cap(scratch), 512)
		for len(text) > 0 {
			k := min(n, len(text))
			scratch = append(scratch[:0], text[:k]...)
			h.Write(scratch)
			text = text[k:]
		}
	}
	scratch = appendRecordTail(scratch[:0], runID, seq)
	h.Write(scratch)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

func payloadDigest(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

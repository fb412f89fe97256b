// Package audit keeps agent trajectories in an append-only, hash-chained
// store: SQLite (embedded, pure Go) or PostgreSQL (many hosts), plus JSONL
// for export. Secrets are redacted before anything is written, writes happen
// off the agent's path through a bounded queue, and Verify detects any later
// edit, deletion or reordering of the stored records.
//
// Every stored item is a record {canon, seq, kind, run_id, created_at,
// payload}. entry_hash = hex(SHA-256(prev_hash ‖ canonical JSON of the
// record)), where prev_hash is the previous record's entry_hash (64 zeros
// for the first record) written as 64 lower-case hex characters, and the
// canonical JSON is the RFC 8785 (JCS) form of the object
// {"canon":"rfc8785","created_at","kind","payload","run_id","seq"}, so any
// JCS library can check a chain. Records written before RFC 8785 was
// adopted carry no canon and are hashed without it, in the legacy form
// (see FormLegacy); Verify checks each record in its own form.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

// Store is an append-only, hash-chained trajectory store.
type Store interface {
	// Append hands t to the store's writer and takes ownership of it: the
	// caller must not modify t afterwards (the store does not modify it
	// either; it redacts and serialises t off the caller's path). It blocks
	// only while the queue is full, and returns when ctx ends whatever the
	// database is doing: then t was not handed over, is not stored, and the
	// error (wrapping ctx.Err()) names its run. A nil error means queued,
	// not stored: Flush says when it is stored.
	Append(ctx context.Context, t *trajectory.Trajectory) error
	// AppendAssessment queues an assessment of an already appended run as a
	// record of its own; nothing stored earlier is rewritten. It honours
	// ctx as Append does.
	AppendAssessment(ctx context.Context, runID string, a trajectory.Assessment) error
	// Flush returns nil only when every record that any goroutine appended
	// before the call (its Append returned nil before Flush was called) is
	// committed to the database. Otherwise it returns a *NotStoredError
	// naming each such record that is not: one whose write failed, at any
	// time before (every Flush that covers it reports it, not only the
	// next; failed writes are tried again by each Flush and stop being
	// reported once stored), and, when ctx ends first, one still waiting
	// for the database (then errors.Is(err, ctx.Err()) holds). Flush
	// returns when ctx ends, whatever the database is doing.
	Flush(ctx context.Context) error
	// Get returns one run with all its assessments merged in, or an error
	// wrapping ErrNotFound.
	Get(ctx context.Context, runID string) (*trajectory.Trajectory, error)
	// List returns the runs that match q, oldest first.
	List(ctx context.Context, q Query) ([]*trajectory.Trajectory, error)
	// Walk calls fn for each run that matches q, oldest first, without
	// holding them all in memory. It stops at fn's first error and returns it.
	Walk(ctx context.Context, q Query, fn func(*trajectory.Trajectory) error) error
	// Records calls fn for every stored record in chain order.
	Records(ctx context.Context, fn func(Record) error) error
	// Verify walks the chain and reports the first broken record.
	Verify(ctx context.Context) (VerifyReport, error)
	// Prune removes runs stored before the given time, leaving a checkpoint
	// record so that the rest of the chain still verifies.
	Prune(ctx context.Context, before time.Time) (PruneReport, error)
	// Close stops accepting records, writes what is queued, tries failed
	// records once more, stops the writer and releases the database. It
	// returns a *NotStoredError naming every appended record that is not
	// stored. Each write is bounded by WithWriteTimeout, so Close returns
	// even when the database hangs.
	Close() error
}

// Errors returned by stores.
var (
	// ErrNotFound is returned (wrapped) by Get for an unknown run.
	ErrNotFound = errors.New("audit: run not found")
	// ErrClosed is returned by writes to a closed store.
	ErrClosed = errors.New("audit: store is closed")
)

// Query selects runs. Zero fields select everything.
type Query struct {
	// RunIDs selects these runs only.
	RunIDs []string
	// Status selects runs that ended with this status.
	Status trajectory.Status
	// Since and Until bound the run's StartedAt: Since <= StartedAt < Until.
	Since, Until time.Time
	// MinScore and MaxScore bound the score of the run's last OK assessment
	// (inclusive); runs without one do not match when either is set.
	MinScore, MaxScore *float64
	// Blocked selects runs with (true) or without (false) a blocked tool call
	// or a block decision.
	Blocked *bool
	// Metadata selects runs whose metadata has all these key/value pairs
	// (for example "suite" or "strategy").
	Metadata map[string]string
	// Last keeps only the N most recently appended matching runs.
	Last int
	// Limit keeps only the first N matching runs (after Last).
	Limit int
}

// Kind is the type of a record.
type Kind string

// Record kinds.
const (
	KindTrajectory Kind = "trajectory"
	KindAssessment Kind = "assessment"
	KindCheckpoint Kind = "checkpoint"
)

// Record is one link of the chain as stored.
type Record struct {
	// Canon is the canonical form the record was hashed in: FormRFC8785, or
	// FormLegacy (empty) for records written before it was adopted.
	Canon Form
	Seq   int64
	Kind  Kind
	RunID string
	// CreatedAt is when the record was written, as hashed (see TimeFormat).
	CreatedAt string
	// Payload is the canonical JSON of the trajectory, assessment or
	// checkpoint.
	Payload json.RawMessage
	// PayloadSHA256 is hex(SHA-256(Payload)); it is not part of the chain and
	// only tells an edited payload apart from other damage.
	PayloadSHA256 string
	PrevHash      string
	Hash          string
}

// TimeFormat is the layout of Record.CreatedAt: UTC, nine fractional
// digits, so that text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// Time parses CreatedAt.
func (r Record) Time() (time.Time, error) {
	t, err := time.Parse(TimeFormat, r.CreatedAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("audit: record %d: created_at %q: %w", r.Seq, r.CreatedAt, err)
	}
	return t, nil
}

// Checkpoint is the payload of a checkpoint record, written by Prune: the
// records with seq <= PrunedThroughSeq were removed, and the last of them
// had entry hash PrunedThroughHash, which the first remaining record links
// to.
type Checkpoint struct {
	Before            time.Time `json:"before"`
	PrunedThroughSeq  int64     `json:"pruned_through_seq"`
	PrunedThroughHash string    `json:"pruned_through_hash"`
	RemovedRecords    int64     `json:"removed_records"`
	RemovedRuns       int64     `json:"removed_runs"`
}

// VerifyReport is the result of Verify. A broken chain is a report with OK
// false and Break set, not an error; errors are for failures to read.
type VerifyReport struct {
	OK          bool
	Records     int64 // records checked
	Runs        int64 // trajectory records
	Assessments int64 // assessment records
	Checkpoints int64 // checkpoint records
	// Legacy counts records hashed in the legacy canonical form (written
	// before RFC 8785 was adopted); the others are in RFC 8785 form.
	Legacy   int64
	FirstSeq int64
	LastSeq  int64
	// Head is the entry hash of the last record; keep it elsewhere to detect
	// a later truncation or rewrite of the whole chain.
	Head string
	// PrunedThrough is the seq up to which records were pruned (0: none).
	PrunedThrough int64
	Break         *Break
}

// String is a one-line summary of the report.
func (r VerifyReport) String() string {
	if !r.OK && r.Break != nil {
		return r.Break.Error()
	}
	if r.Records == 0 {
		return "audit chain intact: empty"
	}
	s := fmt.Sprintf("audit chain intact: %d records (%d runs, %d assessments, %d checkpoints), seq %d..%d, head %s",
		r.Records, r.Runs, r.Assessments, r.Checkpoints, r.FirstSeq, r.LastSeq, r.Head)
	if r.PrunedThrough > 0 {
		s += fmt.Sprintf(", pruned through seq %d", r.PrunedThrough)
	}
	if r.Legacy > 0 {
		s += fmt.Sprintf(", %d written before RFC 8785 (legacy canonical form)", r.Legacy)
	}
	return s
}

// Reason says what is wrong with a broken record.
type Reason string

// Reasons for a broken chain.
const (
	// ReasonPayloadEdited: the payload no longer matches its digest.
	ReasonPayloadEdited Reason = "payload edited"
	// ReasonHashMismatch: the record's fields (seq, kind, run id, time,
	// payload) do not hash to its stored entry hash.
	ReasonHashMismatch Reason = "hash mismatch"
	// ReasonLinkBroken: prev_hash is not the previous record's entry hash.
	ReasonLinkBroken Reason = "link broken"
	// ReasonSeqGap: records before this one are missing.
	ReasonSeqGap Reason = "seq gap"
	// ReasonTruncated: records at the end of the chain are missing.
	ReasonTruncated Reason = "truncated"
	// ReasonBadRecord: the record cannot be read (bad kind, payload that is
	// not canonical JSON, invalid checkpoint).
	ReasonBadRecord Reason = "bad record"
)

// Break names the first broken record of a chain.
type Break struct {
	Seq    int64
	RunID  string
	Reason Reason
	Detail string
}

// Error describes the break in one line, naming the seq and run.
func (b *Break) Error() string {
	run := ""
	if b.RunID != "" {
		run = fmt.Sprintf(" (run %s)", b.RunID)
	}
	return fmt.Sprintf("audit chain broken at seq %d%s: %s: %s", b.Seq, run, b.Reason, b.Detail)
}

// PruneReport says what Prune removed.
type PruneReport struct {
	RemovedRuns    int64
	RemovedRecords int64
	// PrunedThrough is the last removed seq; 0 when nothing was removed.
	PrunedThrough int64
	// CheckpointSeq is the seq of the checkpoint record written (0: none).
	CheckpointSeq int64
	// KeptOlderRuns counts runs older than the cut-off that were kept because
	// records of newer runs come before their last record in the chain.
	KeptOlderRuns int64
}

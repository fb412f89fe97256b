package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/trajectory"
)

// dialect holds what differs between SQLite and PostgreSQL.
type dialect struct {
	// dollar: PostgreSQL's $1 placeholders instead of ?.
	dollar bool
	// headSQL reads the chain head inside a write transaction, locking it
	// against other writers where the transaction itself does not.
	headSQL string
}

// schemaVersion is the version of the tables this build writes: 2 added
// audit_records.canon, the canonical form of each record.
const schemaVersion = 2

// migrationV2 adds the canonical form column; records already stored keep
// ” (FormLegacy), which is what they were hashed in.
var migrationV2 = []string{`ALTER TABLE audit_records ADD COLUMN canon TEXT NOT NULL DEFAULT ''`}

// schemaV1 returns the statements that create the first version of the
// tables. Both stores keep the same tables; integer, boolean and float are
// the dialect's column types (in SQLite, seq must be INTEGER PRIMARY KEY to
// be the rowid).
func schemaV1(integer, boolean, float string) []string {
	return []string{
		`CREATE TABLE audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
		`CREATE TABLE audit_records (
		seq ` + integer + ` PRIMARY KEY,
		kind TEXT NOT NULL,
		run_id TEXT NOT NULL,
		created_at TEXT NOT NULL,
		payload TEXT NOT NULL,
		payload_sha256 TEXT NOT NULL,
		prev_hash TEXT NOT NULL,
		hash TEXT NOT NULL)`,
		`CREATE INDEX audit_records_run ON audit_records (run_id, seq)`,
		`CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq ` + integer + ` NOT NULL, hash TEXT NOT NULL)`,
		`INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '` + strings.Repeat("0", 64) + `')`,
		`CREATE TABLE audit_runs (
		run_id TEXT PRIMARY KEY,
		seq ` + integer + ` NOT NULL,
		status TEXT NOT NULL,
		started_at ` + integer + ` NOT NULL,
		blocked ` + boolean + ` NOT NULL,
		score ` + float + `)`,
		`CREATE INDEX audit_runs_seq ON audit_runs (seq)`,
		`CREATE TABLE audit_run_meta (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key))`,
		`CREATE INDEX audit_run_meta_kv ON audit_run_meta (key, value)`,
	}
}

// readSchemaVersion reads the schema version stored in audit_meta.
func (s *sqlStore) readSchemaVersion(ctx context.Context, tx *sql.Tx, where string) (int, error) {
	var v string
	if err := tx.QueryRowContext(ctx, `SELECT value FROM audit_meta WHERE key = 'schema_version'`).Scan(&v); err != nil {
		return 0, s.werr(fmt.Errorf("audit: %s: read schema version: %w", where, err))
	}
	version, err := strconv.Atoi(v)
	if err != nil || version < 1 {
		return 0, fmt.Errorf("audit: %s: invalid schema version %q", where, v)
	}
	return version, nil
}

// schemaSteps returns the statements that bring tables at version (0: no
// tables yet) to schemaVersion: v1 creates them and migrations[i] upgrades
// version i+1 to i+2. It returns none when they are up to date and refuses
// tables a newer build wrote.
func schemaSteps(where string, version int, v1 []string, migrations [][]string) ([]string, error) {
	if version > schemaVersion {
		return nil, fmt.Errorf("audit: %s was written by a newer reagent (schema version %d, this build knows %d); upgrade reagent", where, version, schemaVersion)
	}
	if version == schemaVersion {
		return nil, nil
	}
	var stmts []string
	if version == 0 {
		stmts = append(stmts, v1...)
		stmts = append(stmts, `INSERT INTO audit_meta (key, value) VALUES ('schema_version', '0')`)
		version = 1
	}
	for v := version; v < schemaVersion; v++ {
		stmts = append(stmts, migrations[v-1]...)
	}
	return append(stmts, fmt.Sprintf(`UPDATE audit_meta SET value = '%d' WHERE key = 'schema_version'`, schemaVersion)), nil
}

// execSchema runs the schema statements in tx.
func (s *sqlStore) execSchema(ctx context.Context, tx *sql.Tx, where string, stmts []string) error {
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st); err != nil {
			return s.werr(fmt.Errorf("audit: %s: create schema: %w", where, err))
		}
	}
	return nil
}

// q rewrites ? placeholders for the dialect. Queries here never contain a
// literal question mark.
func (d dialect) q(query string) string {
	if !d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// sqlStore is the part of the SQLite and PostgreSQL stores written against
// database/sql: the writer's batches, the queries, Verify and Prune.
type sqlStore struct {
	d   dialect
	rdb *sql.DB // reads
	wdb *sql.DB // writes; for SQLite one connection that begins IMMEDIATE
	cfg *config
	w   *writer
	// checkFile runs a backend integrity check before Verify walks the chain.
	checkFile func(ctx context.Context) error
	// wrapErr turns backend errors into ones that say what to do.
	wrapErr func(err error) error
	onClose func() error
	// committed, when set, is told how many payload bytes each write
	// transaction committed (SQLite: the background checkpointer).
	committed func(n int64)
	// stmts keeps the writer's prepared statements (SQLite); nil: none.
	stmts *stmtCache
	// txSetup runs first in each write transaction (PostgreSQL: SET LOCAL
	// statement_timeout and lock_timeout); empty for none.
	txSetup string

	closeOnce sync.Once
	closeErr  error
}

func (s *sqlStore) start() { s.w = newWriter(s.cfg, s.writeBatch) }

func (s *sqlStore) werr(err error) error {
	if err == nil || s.wrapErr == nil {
		return err
	}
	return s.wrapErr(err)
}

// Append implements Store.
func (s *sqlStore) Append(ctx context.Context, t *trajectory.Trajectory) error {
	if t == nil {
		return errors.New("audit: append nil trajectory")
	}
	if err := checkRunID(t.ID); err != nil {
		return err
	}
	// Redaction and serialisation run on the writer's goroutine, off the
	// agent's path; t belongs to the store from here on.
	red := s.cfg.redactor
	return s.w.enqueue(ctx, &item{kind: KindTrajectory, runID: t.ID, prepare: func() (*item, error) {
		return prepareTrajectory(red, t)
	}})
}

// AppendAssessment implements Store.
func (s *sqlStore) AppendAssessment(ctx context.Context, runID string, a trajectory.Assessment) error {
	// Assessments are small: they are encoded here, so that one that
	// cannot be is refused at once.
	it, err := prepareAssessment(s.cfg.redactor, runID, a)
	if err != nil {
		return err
	}
	return s.w.enqueue(ctx, it)
}

// Redactor returns the store's redactor (nil when redaction is off), so
// that tools can register the secret values they read with AddSecrets.
func (s *sqlStore) Redactor() *redact.Redactor { return s.cfg.redactor }

// Flush implements Store.
func (s *sqlStore) Flush(ctx context.Context) error { return s.w.flush(ctx) }

// Close implements Store.
func (s *sqlStore) Close() error {
	s.closeOnce.Do(func() {
		err := s.w.close()
		s.stmts.close()
		if s.onClose != nil {
			err = errors.Join(err, s.onClose())
		}
		s.closeErr = err
	})
	return s.closeErr
}

// recordRow is a record about to be inserted.
type recordRow struct {
	it              *item
	seq             int64
	createdAt, hash string
	prev            string
}

type runRow struct {
	runID     string
	seq       int64
	status    string
	startedAt int64
	blocked   bool
	score     *float64
	meta      map[string]string
}

// writeBatch appends recs to the chain in one transaction. The head is read
// inside the transaction (BEGIN IMMEDIATE on SQLite, SELECT … FOR UPDATE on
// PostgreSQL), so several processes sharing a database keep one chain.
func (s *sqlStore) writeBatch(ctx context.Context, recs []*item) (err error) {
	s.stmts.prepare(ctx, s.wdb)
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return s.werr(fmt.Errorf("begin: %w", err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if s.txSetup != "" {
		if _, err := tx.ExecContext(ctx, s.txSetup); err != nil {
			return s.werr(fmt.Errorf("set statement timeout: %w", err))
		}
	}
	seq, prev, err := s.lockHead(ctx, tx)
	if err != nil {
		return err
	}
	h := sha256.New()
	scratch := make([]byte, 0, 8192)
	rows := make([]recordRow, len(recs))
	for i, it := range recs {
		seq++
		created := s.cfg.now().UTC().Format(TimeFormat)
		hash := entryHash(h, scratch, prev, FormRFC8785, seq, it.kind, it.runID, created, it.payload, it.text)
		rows[i] = recordRow{it: it, seq: seq, createdAt: created, hash: hash, prev: prev}
		prev = hash
	}
	if err := s.insertRecords(ctx, tx, rows); err != nil {
		return err
	}
	if err := s.updateIndex(ctx, tx, rows); err != nil {
		return err
	}
	if _, err := s.stmts.exec(ctx, tx, s.d.q(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`), seq, prev); err != nil {
		return s.werr(fmt.Errorf("update chain head: %w", err))
	}
	if err := tx.Commit(); err != nil {
		return s.werr(fmt.Errorf("commit: %w", err))
	}
	if s.committed != nil {
		var n int64
		for _, it := range recs {
			n += int64(it.payloadLen())
		}
		s.committed(n)
	}
	return nil
}

func (s *sqlStore) lockHead(ctx context.Context, tx *sql.Tx) (int64, string, error) {
	var seq int64
	var hash string
	if err := tx.QueryRowContext(ctx, s.d.headSQL).Scan(&seq, &hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, "", errors.New("the chain head row is missing from audit_head: the database was damaged")
		}
		return 0, "", s.werr(fmt.Errorf("read chain head: %w", err))
	}
	return seq, hash, nil
}

// rowsPerInsert keeps multi-row statements well under every backend's limit
// on bound parameters.
const rowsPerInsert = 64

// insertMany runs prefix VALUES (…),(…) suffix for rows of cols columns.
func (s *sqlStore) insertMany(ctx context.Context, tx *sql.Tx, prefix, suffix string, cols int, args []any) error {
	one := "(" + placeholders(cols) + ")"
	for len(args) > 0 {
		n := min(len(args)/cols, rowsPerInsert)
		var b strings.Builder
		b.WriteString(prefix)
		b.WriteString(" VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(one)
		}
		b.WriteString(suffix)
		if _, err := s.stmts.exec(ctx, tx, s.d.q(b.String()), args[:n*cols]...); err != nil {
			return err
		}
		args = args[n*cols:]
	}
	return nil
}

func (s *sqlStore) insertRecords(ctx context.Context, tx *sql.Tx, rows []recordRow) error {
	args := make([]any, 0, len(rows)*8)
	for _, r := range rows {
		args = append(args, r.seq, string(r.it.kind), r.it.runID, r.createdAt, r.it.payloadText(), r.it.digest, r.prev, r.hash, string(FormRFC8785))
	}
	err := s.insertMany(ctx, tx,
		`INSERT INTO audit_records (seq, kind, run_id, created_at, payload, payload_sha256, prev_hash, hash, canon)`, "", 9, args)
	if err != nil {
		return s.werr(fmt.Errorf("insert records: %w", err))
	}
	return nil
}

// updateIndex keeps audit_runs and audit_run_meta, the derived tables that
// List filters on, in step with the records. They are not part of the chain.
func (s *sqlStore) updateIndex(ctx context.Context, tx *sql.Tx, rows []recordRow) error {
	runs := map[string]*runRow{}
	var order []string
	scores := map[string]float64{} // for runs appended in earlier batches
	for _, r := range rows {
		it := r.it
		switch it.kind {
		case KindTrajectory:
			if _, seen := runs[it.runID]; !seen {
				order = append(order, it.runID)
			}
			runs[it.runID] = &runRow{runID: it.runID, seq: r.seq, status: it.status, startedAt: it.startedAt,
				blocked: it.blocked, score: it.score, meta: it.meta}
			delete(scores, it.runID)
		case KindAssessment:
			if !it.assessOK {
				continue
			}
			if run, ok := runs[it.runID]; ok {
				v := it.assess
				run.score = &v
			} else {
				scores[it.runID] = it.assess
			}
		}
	}
	ids := make([]string, 0, len(scores))
	for id := range scores {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE audit_runs SET score = ? WHERE run_id = ?`), scores[id], id); err != nil {
			return s.werr(fmt.Errorf("update run score: %w", err))
		}
	}
	if len(order) == 0 {
		return nil
	}
	args := make([]any, 0, len(order)*6)
	idArgs := make([]any, 0, len(order))
	var metaArgs []any
	for _, id := range order {
		r := runs[id]
		var score any
		if r.score != nil {
			score = *r.score
		}
		args = append(args, r.runID, r.seq, r.status, r.startedAt, r.blocked, score)
		idArgs = append(idArgs, r.runID)
		keys := make([]string, 0, len(r.meta))
		for k := range r.meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			metaArgs = append(metaArgs, r.runID, k, r.meta[k])
		}
	}
	err := s.insertMany(ctx, tx, `INSERT INTO audit_runs (run_id, seq, status, started_at, blocked, score)`,
		` ON CONFLICT (run_id) DO UPDATE SET seq = excluded.seq, status = excluded.status,
		started_at = excluded.started_at, blocked = excluded.blocked, score = excluded.score`, 6, args)
	if err != nil {
		return s.werr(fmt.Errorf("index runs: %w", err))
	}
	for len(idArgs) > 0 {
		n := min(len(idArgs), rowsPerInsert)
		q := `DELETE FROM audit_run_meta WHERE run_id IN (` + placeholders(n) + `)`
		if _, err := s.stmts.exec(ctx, tx, s.d.q(q), idArgs[:n]...); err != nil {
			return s.werr(fmt.Errorf("index metadata: %w", err))
		}
		idArgs = idArgs[n:]
	}
	if err := s.insertMany(ctx, tx, `INSERT INTO audit_run_meta (run_id, key, value)`, "", 3, metaArgs); err != nil {
		return s.werr(fmt.Errorf("index metadata: %w", err))
	}
	return nil
}

// Get implements Store. It reads the records, not the derived index.
func (s *sqlStore) Get(ctx context.Context, runID string) (*trajectory.Trajectory, error) {
	runID = s.cfg.redactor.String(runID)
	var seq int64
	var payload string
	err := s.rdb.QueryRowContext(ctx, s.d.q(`SELECT seq, payload FROM audit_records
		WHERE run_id = ? AND kind = 'trajectory' ORDER BY seq DESC LIMIT 1`), runID).Scan(&seq, &payload)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, runID)
	}
	if err != nil {
		return nil, s.werr(fmt.Errorf("audit: get run %q: %w", runID, err))
	}
	t, err := trajectory.Unmarshal([]byte(payload))
	if err != nil {
		return nil, fmt.Errorf("audit: run %q (seq %d): %w", runID, seq, err)
	}
	rows, err := s.rdb.QueryContext(ctx, s.d.q(`SELECT seq, payload FROM audit_records
		WHERE run_id = ? AND kind = 'assessment' AND seq > ? ORDER BY seq`), runID, seq)
	if err != nil {
		return nil, s.werr(fmt.Errorf("audit: get assessments of run %q: %w", runID, err))
	}
	defer rows.Close()
	for rows.Next() {
		var aseq int64
		var p string
		if err := rows.Scan(&aseq, &p); err != nil {
			return nil, s.werr(fmt.Errorf("audit: get assessments of run %q: %w", runID, err))
		}
		var a trajectory.Assessment
		if err := json.Unmarshal([]byte(p), &a); err != nil {
			return nil, fmt.Errorf("audit: assessment seq %d of run %q: %w", aseq, runID, err)
		}
		t.Assessments = append(t.Assessments, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.werr(fmt.Errorf("audit: get assessments of run %q: %w", runID, err))
	}
	return t, nil
}

// List implements Store.
func (s *sqlStore) List(ctx context.Context, q Query) ([]*trajectory.Trajectory, error) {
	var out []*trajectory.Trajectory
	err := s.Walk(ctx, q, func(t *trajectory.Trajectory) error {
		out = append(out, t)
		return nil
	})
	return out, err
}

// where builds the filter on audit_runs r for q.
func (s *sqlStore) where(q Query) (string, []any) {
	var conds []string
	var args []any
	if len(q.RunIDs) > 0 {
		conds = append(conds, `r.run_id IN (`+placeholders(len(q.RunIDs))+`)`)
		for _, id := range q.RunIDs {
			args = append(args, s.cfg.redactor.String(id))
		}
	}
	if q.Status != "" {
		conds = append(conds, `r.status = ?`)
		args = append(args, string(q.Status))
	}
	if !q.Since.IsZero() {
		conds = append(conds, `r.started_at >= ?`)
		args = append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		conds = append(conds, `r.started_at < ?`)
		args = append(args, q.Until.UnixNano())
	}
	if q.MinScore != nil {
		conds = append(conds, `r.score IS NOT NULL AND r.score >= ?`)
		args = append(args, *q.MinScore)
	}
	if q.MaxScore != nil {
		conds = append(conds, `r.score IS NOT NULL AND r.score <= ?`)
		args = append(args, *q.MaxScore)
	}
	if q.Blocked != nil {
		conds = append(conds, `r.blocked = ?`)
		args = append(args, *q.Blocked)
	}
	keys := make([]string, 0, len(q.Metadata))
	for k := range q.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		conds = append(conds, `EXISTS (SELECT 1 FROM audit_run_meta m WHERE m.run_id = r.run_id AND m.key = ? AND m.value = ?)`)
		args = append(args, indexText(k), indexText(q.Metadata[k]))
	}
	if len(conds) == 0 {
		return "1 = 1", nil
	}
	return strings.Join(conds, " AND "), args
}

// walkPage is how many runs Walk reads per query.
const walkPage = 256

// Walk implements Store.
func (s *sqlStore) Walk(ctx context.Context, q Query, fn func(*trajectory.Trajectory) error) error {
	where, args := s.where(q)
	var from int64 // runs with seq > from
	if q.Last > 0 {
		// The N-th newest match bounds the walk from below.
		query := `SELECT r.seq FROM audit_runs r WHERE ` + where + ` ORDER BY r.seq DESC LIMIT 1 OFFSET ?`
		var seq int64
		err := s.rdb.QueryRowContext(ctx, s.d.q(query), append(append([]any{}, args...), q.Last-1)...).Scan(&seq)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return s.werr(fmt.Errorf("audit: list: %w", err))
		default:
			from = seq - 1
		}
	}
	left := q.Limit
	for {
		page := walkPage
		if q.Limit > 0 {
			if left <= 0 {
				return nil
			}
			page = min(page, left)
		}
		batch, last, err := s.page(ctx, where, args, from, page)
		if err != nil {
			return err
		}
		for _, t := range batch {
			if err := fn(t); err != nil {
				return err
			}
		}
		left -= len(batch)
		if len(batch) < page {
			return nil
		}
		from = last
	}
}

// page reads up to n runs with seq > from, with their later assessments.
func (s *sqlStore) page(ctx context.Context, where string, args []any, from int64, n int) ([]*trajectory.Trajectory, int64, error) {
	query := `SELECT r.run_id, r.seq, rec.payload FROM audit_runs r JOIN audit_records rec ON rec.seq = r.seq
		WHERE ` + where + ` AND r.seq > ? ORDER BY r.seq LIMIT ?`
	rows, err := s.rdb.QueryContext(ctx, s.d.q(query), append(append([]any{}, args...), from, n)...)
	if err != nil {
		return nil, 0, s.werr(fmt.Errorf("audit: list: %w", err))
	}
	defer rows.Close()
	var out []*trajectory.Trajectory
	bySeq := map[string]int64{}
	byID := map[string]*trajectory.Trajectory{}
	var last int64
	for rows.Next() {
		var id, payload string
		var seq int64
		if err := rows.Scan(&id, &seq, &payload); err != nil {
			return nil, 0, s.werr(fmt.Errorf("audit: list: %w", err))
		}
		t, err := trajectory.Unmarshal([]byte(payload))
		if err != nil {
			return nil, 0, fmt.Errorf("audit: run %q (seq %d): %w", id, seq, err)
		}
		out = append(out, t)
		bySeq[id], byID[id], last = seq, t, seq
	}
	if err := rows.Err(); err != nil {
		return nil, 0, s.werr(fmt.Errorf("audit: list: %w", err))
	}
	rows.Close()
	if len(out) == 0 {
		return nil, last, nil
	}
	ids := make([]any, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	arows, err := s.rdb.QueryContext(ctx, s.d.q(`SELECT run_id, seq, payload FROM audit_records
		WHERE kind = 'assessment' AND run_id IN (`+placeholders(len(ids))+`) ORDER BY seq`), ids...)
	if err != nil {
		return nil, 0, s.werr(fmt.Errorf("audit: list assessments: %w", err))
	}
	defer arows.Close()
	for arows.Next() {
		var id, payload string
		var seq int64
		if err := arows.Scan(&id, &seq, &payload); err != nil {
			return nil, 0, s.werr(fmt.Errorf("audit: list assessments: %w", err))
		}
		if seq <= bySeq[id] {
			continue // superseded by a later append of the run
		}
		var a trajectory.Assessment
		if err := json.Unmarshal([]byte(payload), &a); err != nil {
			return nil, 0, fmt.Errorf("audit: assessment seq %d of run %q: %w", seq, id, err)
		}
		byID[id].Assessments = append(byID[id].Assessments, a)
	}
	if err := arows.Err(); err != nil {
		return nil, 0, s.werr(fmt.Errorf("audit: list assessments: %w", err))
	}
	return out, last, nil
}

// recordsPage is how many records Records reads per query.
const recordsPage = 1000

// Records implements Store.
func (s *sqlStore) Records(ctx context.Context, fn func(Record) error) error {
	var after int64 = -1 << 62
	for {
		rows, err := s.rdb.QueryContext(ctx, s.d.q(`SELECT seq, kind, run_id, created_at, payload, payload_sha256, prev_hash, hash, canon
			FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?`), after, recordsPage)
		if err != nil {
			return s.werr(fmt.Errorf("audit: read records: %w", err))
		}
		n := 0
		for rows.Next() {
			var r Record
			var kind, payload, canon string
			if err := rows.Scan(&r.Seq, &kind, &r.RunID, &r.CreatedAt, &payload, &r.PayloadSHA256, &r.PrevHash, &r.Hash, &canon); err != nil {
				rows.Close()
				return s.werr(fmt.Errorf("audit: read records: %w", err))
			}
			r.Kind, r.Payload, r.Canon = Kind(kind), json.RawMessage(payload), Form(canon)
			n++
			after = r.Seq
			if err := fn(r); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return s.werr(fmt.Errorf("audit: read records: %w", err))
		}
		if n < recordsPage {
			return nil
		}
	}
}

// Verify implements Store.
func (s *sqlStore) Verify(ctx context.Context) (VerifyReport, error) {
	if s.checkFile != nil {
		if err := s.checkFile(ctx); err != nil {
			return VerifyReport{}, err
		}
	}
	// The head is read before the records: records appended in between only
	// extend the chain past it.
	head := &chainHead{}
	err := s.rdb.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.seq, &head.hash)
	if errors.Is(err, sql.ErrNoRows) {
		head = nil
	} else if err != nil {
		return VerifyReport{}, s.werr(fmt.Errorf("audit: verify: read chain head: %w", err))
	}
	v := newVerifier(head, func(ctx context.Context) ([]Record, error) {
		return s.checkpoints(ctx)
	})
	if err := s.Records(ctx, func(r Record) error { return v.add(ctx, r) }); err != nil && !errors.Is(err, errStop) {
		return VerifyReport{}, err
	}
	return v.finish(), nil
}

func (s *sqlStore) checkpoints(ctx context.Context) ([]Record, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT seq, payload FROM audit_records WHERE kind = 'checkpoint' ORDER BY seq`)
	if err != nil {
		return nil, s.werr(fmt.Errorf("audit: read checkpoints: %w", err))
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var p string
		if err := rows.Scan(&r.Seq, &p); err != nil {
			return nil, s.werr(fmt.Errorf("audit: read checkpoints: %w", err))
		}
		r.Kind, r.Payload = KindCheckpoint, json.RawMessage(p)
		out = append(out, r)
	}
	return out, s.werr(rows.Err())
}

// Prune implements Store. It removes the longest prefix of the chain made
// only of runs whose records were all stored before the cut-off, writes a
// checkpoint record naming the last removed record and its hash, and deletes
// the prefix, all in one transaction.
func (s *sqlStore) Prune(ctx context.Context, before time.Time) (rep PruneReport, err error) {
	if before.IsZero() {
		return rep, errors.New("audit: prune: no cut-off time given")
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return rep, s.werr(fmt.Errorf("audit: prune: begin: %w", err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	headSeq, headHash, err := s.lockHead(ctx, tx)
	if err != nil {
		return rep, fmt.Errorf("audit: prune: %w", err)
	}
	cut := before.UTC().Format(TimeFormat)
	scalar := func(query string, args ...any) (sql.NullInt64, error) {
		var v sql.NullInt64
		err := tx.QueryRowContext(ctx, s.d.q(query), args...).Scan(&v)
		if err != nil {
			err = s.werr(fmt.Errorf("audit: prune: %w", err))
		}
		return v, err
	}
	// keep is the first seq that must stay: the first record stored at or
	// after the cut-off, moved back to the first record of any run that has
	// records from there on, until nothing moves.
	keep := headSeq + 1
	v, err := scalar(`SELECT MIN(seq) FROM audit_records WHERE created_at >= ?`, cut)
	if err != nil {
		return rep, err
	}
	if v.Valid {
		keep = v.Int64
	}
	for {
		v, err := scalar(`SELECT MIN(f) FROM (SELECT MIN(seq) AS f FROM audit_records WHERE kind <> 'checkpoint'
			GROUP BY run_id HAVING MAX(seq) >= ? OR MAX(created_at) >= ?) AS firsts`, keep, cut)
		if err != nil {
			return rep, err
		}
		if !v.Valid || v.Int64 >= keep {
			break
		}
		keep = v.Int64
	}
	through := keep - 1
	first, err := scalar(`SELECT MIN(seq) FROM audit_records`)
	if err != nil {
		return rep, err
	}
	kept, err := scalar(`SELECT COUNT(*) FROM (SELECT run_id FROM audit_records WHERE kind <> 'checkpoint'
		GROUP BY run_id HAVING MIN(seq) > ? AND MAX(created_at) < ?) AS older`, through, cut)
	if err != nil {
		return rep, err
	}
	rep.KeptOlderRuns = kept.Int64
	if !first.Valid || through < first.Int64 {
		_ = tx.Rollback()
		return rep, nil
	}
	var lastHash string
	if err := tx.QueryRowContext(ctx, s.d.q(`SELECT hash FROM audit_records WHERE seq = ?`), through).Scan(&lastHash); err != nil {
		return rep, s.werr(fmt.Errorf("audit: prune: record %d: %w", through, err))
	}
	nrec, err := scalar(`SELECT COUNT(*) FROM audit_records WHERE seq <= ?`, through)
	if err != nil {
		return rep, err
	}
	nruns, err := scalar(`SELECT COUNT(DISTINCT run_id) FROM audit_records WHERE seq <= ? AND kind = 'trajectory'`, through)
	if err != nil {
		return rep, err
	}
	cp := Checkpoint{Before: before.UTC(), PrunedThroughSeq: through, PrunedThroughHash: lastHash,
		RemovedRecords: nrec.Int64, RemovedRuns: nruns.Int64}
	raw, err := json.Marshal(cp)
	if err != nil {
		return rep, fmt.Errorf("audit: prune: %w", err)
	}
	payload, err := Canonicalize(raw)
	if err != nil {
		return rep, fmt.Errorf("audit: prune: %w", err)
	}
	it := &item{kind: KindCheckpoint, payload: payload, digest: payloadDigest(payload)}
	seq := headSeq + 1
	created := s.cfg.now().UTC().Format(TimeFormat)
	hash := entryHash(sha256.New(), nil, headHash, FormRFC8785, seq, KindCheckpoint, "", created, payload, "")
	if err := s.insertRecords(ctx, tx, []recordRow{{it: it, seq: seq, createdAt: created, hash: hash, prev: headHash}}); err != nil {
		return rep, fmt.Errorf("audit: prune: %w", err)
	}
	for _, stmt := range []string{
		`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`,
		`DELETE FROM audit_run_meta WHERE run_id IN (SELECT run_id FROM audit_runs WHERE seq <= ?)`,
		`DELETE FROM audit_runs WHERE seq <= ?`,
		`DELETE FROM audit_records WHERE seq <= ?`,
	} {
		args := []any{through}
		if strings.HasPrefix(stmt, "UPDATE audit_head") {
			args = []any{seq, hash}
		}
		if _, err := tx.ExecContext(ctx, s.d.q(stmt), args...); err != nil {
			return rep, s.werr(fmt.Errorf("audit: prune: %w", err))
		}
	}
	if err := tx.Commit(); err != nil {
		return rep, s.werr(fmt.Errorf("audit: prune: commit: %w", err))
	}
	return PruneReport{RemovedRuns: nruns.Int64, RemovedRecords: nrec.Int64, PrunedThrough: through,
		CheckpointSeq: seq, KeptOlderRuns: kept.Int64}, nil
}

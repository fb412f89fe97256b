package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite is the embedded store: one database file in WAL mode, written by a
// single goroutine in batched transactions. Several processes may share the
// file; each write transaction takes the chain head under SQLite's write
// lock.
type SQLite struct {
	sqlStore
	path string
	ckpt *checkpointer // copies the WAL into the file in the background
}

var _ Store = (*SQLite)(nil)

// sqliteMagic starts every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// OpenSQLite opens (or creates, unless WithCreate(false)) the audit database
// at path. The directory must exist.
//
// Pragmas: journal_mode=WAL, so readers never block the writer and a killed
// process leaves every committed transaction intact; synchronous=NORMAL,
// which in WAL mode still never corrupts the file and loses nothing when
// only the process dies (the OS holds the written WAL); a power cut may
// drop the last transactions, never earlier ones. busy_timeout lets writers
// of several processes wait for each other. New files get 16 KiB pages,
// which store trajectories of tens of KiB with fewer overflow pages.
func OpenSQLite(path string, opts ...Option) (*SQLite, error) {
	cfg := newConfig(opts)
	if path == "" {
		return nil, errors.New("audit: no database path given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("audit: database path %q: %w", path, err)
	}
	if err := checkSQLitePath(abs, cfg.create); err != nil {
		return nil, err
	}
	// page_size only takes effect in a new file, before WAL is switched on;
	// the driver applies _pragma entries before _journal_mode.
	dsn := "file:" + escapeSQLitePath(abs) + "?_busy_timeout=" + strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10) +
		"&_pragma=page_size(16384)&_journal_mode=WAL&_synchronous=NORMAL"
	// The writer keeps its temporary files in memory: the statement journal
	// of each multi-row insert (a few pages) would otherwise go to disk.
	// Readers keep SQLite's default, so that a large sort spills to disk.
	wdb, err := sql.Open("sqlite", dsn+"&_pragma=temp_store(memory)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	// One writer connection: the writer goroutine and Prune queue for it.
	wdb.SetMaxOpenConns(1)
	rdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(4)
	ckpt := newCheckpointer(rdb, cfg.writeTimeout, cfg.logger)
	s := &SQLite{path: path, ckpt: ckpt}
	s.sqlStore = sqlStore{
		d:       dialect{headSQL: `SELECT seq, hash FROM audit_head WHERE id = 1`},
		rdb:     rdb,
		wdb:     wdb,
		cfg:     cfg,
		wrapErr: func(err error) error { return sqliteError(path, err) },
		onClose: func() error {
			if s.ckpt != nil {
				s.ckpt.close()
			}
			return errors.Join(wdb.Close(), rdb.Close())
		},
		committed: ckpt.committed,
		stmts:     &stmtCache{},
	}
	s.checkFile = s.quickCheck
	if err := s.migrateWaiting(context.Background()); err != nil {
		ckpt.close()
		_ = wdb.Close()
		_ = rdb.Close()
		return nil, err
	}
	s.start()
	return s, nil
}

// migrateWaiting runs the schema set-up, retrying while another process
// holds the file: switching a new file to WAL takes an exclusive lock that
// SQLite refuses at once (SQLITE_BUSY) instead of waiting for the busy
// timeout, so two processes creating one store would otherwise race.
func (s *SQLite) migrateWaiting(ctx context.Context) error {
	deadline := time.Now().Add(s.cfg.busyTimeout)
	wait := 10 * time.Millisecond
	for {
		err := s.migrate(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 200*time.Millisecond)
	}
}

func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// Path returns the database file's path as given to OpenSQLite.
func (s *SQLite) Path() string { return s.path }

func checkSQLitePath(abs string, create bool) error {
	dir := filepath.Dir(abs)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("audit: open %s: directory %s does not exist; create it first", abs, dir)
	case err != nil:
		return fmt.Errorf("audit: open %s: %w", abs, err)
	case !st.IsDir():
		return fmt.Errorf("audit: open %s: %s is not a directory", abs, dir)
	}
	st, err = os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !create {
			return fmt.Errorf("audit: database %s does not exist (check the path): %w", abs, fs.ErrNotExist)
		}
		return nil
	case err != nil:
		return fmt.Errorf("audit: open %s: %w", abs, err)
	case st.IsDir():
		return fmt.Errorf("audit: open %s: it is a directory, not a database file", abs)
	case st.Size() == 0:
		if !create {
			return fmt.Errorf("audit: %s is empty, not a reagent audit database", abs)
		}
		return nil
	}
	f, err := os.Open(abs)
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", abs, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, sqliteMagic) {
		return fmt.Errorf("audit: %s is not a SQLite database (wrong file header); check the path", abs)
	}
	return nil
}

// escapeSQLitePath makes a path safe inside a file: URI.
func escapeSQLitePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(p)
}

// sqliteError adds what to do to the SQLite errors a user can cause.
func sqliteError(path string, err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("audit: %s is not a SQLite database: %w", path, err)
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("audit: %s is corrupt (restore it from a backup; `reagent audit verify` shows what is still intact): %w", path, err)
	case sqlite3.SQLITE_BUSY:
		return fmt.Errorf("audit: %s is locked by another process for longer than the busy timeout: %w", path, err)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN:
		return fmt.Errorf("audit: %s cannot be written (check permissions): %w", path, err)
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("audit: %s: the disk is full: %w", path, err)
	}
	return err
}

var sqliteSchemaV1 = schemaV1("INTEGER", "INTEGER", "REAL")

// sqliteMigrations[i] upgrades schema version i+1 to i+2.
var sqliteMigrations = [][]string{migrationV2}

// migrate creates the tables in an empty database, upgrades older schemas,
// and refuses databases that are not reagent's or are newer than this build.
func (s *SQLite) migrate(ctx context.Context) (err error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return s.werr(fmt.Errorf("audit: open %s: %w", s.path, err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return s.werr(fmt.Errorf("audit: open %s: %w", s.path, err))
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return s.werr(fmt.Errorf("audit: open %s: %w", s.path, err))
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.werr(fmt.Errorf("audit: open %s: %w", s.path, err))
	}
	version := 0
	switch {
	case len(tables) == 0:
		if !s.cfg.create {
			return fmt.Errorf("audit: %s has no audit tables: not a reagent audit database", s.path)
		}
	case !slices.Contains(tables, "audit_meta"):
		return fmt.Errorf("audit: %s is a SQLite database but not a reagent audit database (tables: %s)", s.path, strings.Join(tables, ", "))
	default:
		if version, err = s.readSchemaVersion(ctx, tx, s.path); err != nil {
			return err
		}
	}
	stmts, err := schemaSteps(s.path, version, sqliteSchemaV1, sqliteMigrations)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return tx.Commit()
	}
	if err := s.execSchema(ctx, tx, s.path, stmts); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.werr(fmt.Errorf("audit: %s: create schema: %w", s.path, err))
	}
	return nil
}

// quickCheck runs SQLite's own structural check of the file before Verify
// walks the chain.
func (s *SQLite) quickCheck(ctx context.Context) error {
	rows, err := s.rdb.QueryContext(ctx, `PRAGMA quick_check`)
	if err != nil {
		return s.werr(fmt.Errorf("audit: verify: %w", err))
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return s.werr(fmt.Errorf("audit: verify: %w", err))
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return s.werr(fmt.Errorf("audit: verify: %w", err))
	}
	if len(problems) > 0 {
		return fmt.Errorf("audit: %s is damaged at the file level (restore it from a backup): %s", s.path, strings.Join(problems, "; "))
	}
	return nil
}

package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Postgres is the store for many hosts: the same records, chain and Verify
// as SQLite, in PostgreSQL tables (audit_*) of the DSN's database and
// search_path schema. Any number of processes may append at once: each
// batch locks the chain head row (SELECT … FOR UPDATE) before linking to it.
type Postgres struct {
	sqlStore
	pool *sql.DB
}

var _ Store = (*Postgres)(nil)

// migrateLockKey serialises schema creation between processes starting at
// the same time (CREATE TABLE IF NOT EXISTS alone races).
const migrateLockKey = 0x7265616765 // "reage"

// OpenPostgres connects with pgx to the database named by dsn (a postgres://
// URL or a key=value string) and creates the tables unless WithCreate(false).
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*Postgres, error) {
	cfg := newConfig(opts)
	pcfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("audit: postgres DSN: %w", err)
	}
	where := fmt.Sprintf("postgres %s@%s:%d/%s", pcfg.User, pcfg.Host, pcfg.Port, pcfg.Database)
	db := stdlib.OpenDB(*pcfg)
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("audit: connect to %s (is PostgreSQL running and the DSN right?): %w", where, err)
	}
	p := &Postgres{pool: db}
	p.sqlStore = sqlStore{
		d: dialect{dollar: true,
			headSQL: `SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`},
		rdb:     db,
		wdb:     db,
		cfg:     cfg,
		wrapErr: func(err error) error { return postgresError(where, err) },
		onClose: db.Close,
		txSetup: fmt.Sprintf(`SET LOCAL statement_timeout = %d; SET LOCAL lock_timeout = %d`,
			max(cfg.writeTimeout.Milliseconds(), 1), max(cfg.writeTimeout.Milliseconds(), 1)),
	}
	if err := p.migrate(ctx, where); err != nil {
		_ = db.Close()
		return nil, err
	}
	p.start()
	return p, nil
}

func postgresError(where string, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == "57014" || pe.Code == "55P03": // query_canceled (statement_timeout), lock_not_available (lock_timeout)
		return fmt.Errorf("%w: %s did not finish within the write timeout (a lock held elsewhere or a hung server; see WithWriteTimeout): %w", errWriteTimeout, where, err)
	case pe.Code == "42P01": // undefined_table
		return fmt.Errorf("audit: %s: the audit tables are missing (was the schema dropped?): %w", where, err)
	case pe.Code == "42501": // insufficient_privilege
		return fmt.Errorf("audit: %s: the role lacks a privilege on the audit tables: %w", where, err)
	case strings.HasPrefix(pe.Code, "53"): // insufficient resources
		return fmt.Errorf("audit: %s: the server is out of resources: %w", where, err)
	}
	return err
}

var postgresSchemaV1 = schemaV1("BIGINT", "BOOLEAN", "DOUBLE PRECISION")

// postgresMigrations[i] upgrades schema version i+1 to i+2.
var postgresMigrations = [][]string{migrationV2}

func (p *Postgres) migrate(ctx context.Context, where string) (err error) {
	tx, err := p.pool.BeginTx(ctx, nil)
	if err != nil {
		return p.werr(fmt.Errorf("audit: %s: %w", where, err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLockKey)); err != nil {
		return p.werr(fmt.Errorf("audit: %s: lock for schema setup: %w", where, err))
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT to_regclass('audit_meta') IS NOT NULL`).Scan(&exists); err != nil {
		return p.werr(fmt.Errorf("audit: %s: %w", where, err))
	}
	version := 0
	if exists {
		if version, err = p.readSchemaVersion(ctx, tx, where); err != nil {
			return err
		}
	} else if !p.cfg.create {
		return fmt.Errorf("audit: %s has no reagent audit tables in its search_path (nothing was ever stored here?)", where)
	}
	stmts, err := schemaSteps(where, version, postgresSchemaV1, postgresMigrations)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return tx.Commit()
	}
	if err := p.execSchema(ctx, tx, where, stmts); err != nil {
		return err
	}
	// lz4 compresses payloads several times faster than the default pglz;
	// servers built without it (or older than 14) keep pglz.
	if _, err := tx.ExecContext(ctx, `SAVEPOINT reagent_lz4`); err == nil {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE audit_records ALTER COLUMN payload SET COMPRESSION lz4`); err != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT reagent_lz4`); err != nil {
				return p.werr(fmt.Errorf("audit: %s: create schema: %w", where, err))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return p.werr(fmt.Errorf("audit: %s: create schema: %w", where, err))
	}
	return nil
}

package audit

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCheckpointerCopiesTheLog commits more than checkpointEvery through a
// store and checks that the background checkpoint copied the log into the
// database file: the log's pages are all checkpointed, with nothing left
// for the writer's automatic checkpoint.
func TestCheckpointerCopiesTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := OpenSQLite(path)
	require.NoError(t, err)
	ctx := context.Background()
	big := strings.Repeat("observation text ", 1000) // 17 KB per run
	n := checkpointEvery/len(big) + 10
	for i := range n {
		it := &item{kind: KindTrajectory, runID: "run", payload: []byte(`{"x":"` + big + `"}`)}
		it.runID = "run-" + strings.Repeat("x", i%3) + string(rune('a'+i%26))
		it.digest = payloadDigest(it.payload)
		require.NoError(t, s.w.enqueue(ctx, it))
	}
	require.NoError(t, s.Flush(ctx))
	// close waits for the kicked checkpoint to finish.
	ck := s.ckpt
	s.ckpt = nil
	ck.close()
	require.Equal(t, int64(1), ck.runs, "one checkpoint was due")
	require.NoError(t, ck.lastErr)
	require.Greater(t, ck.lastCopied, int64(0), "the checkpoint copied no page")
	require.NoError(t, s.Close())

	// The chain is intact and every record is there.
	s, err = OpenSQLite(path)
	require.NoError(t, err)
	defer s.Close()
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.String())
	require.Equal(t, int64(n), rep.Records)
}

// TestCheckpointerLogsFailure runs a checkpoint on a closed database: the
// failure is logged once, and nothing else happens.
func TestCheckpointerLogsFailure(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.db"))
	require.NoError(t, err)
	require.NoError(t, db.Close())
	var logs bytes.Buffer
	c := newCheckpointer(db, time.Minute, slog.New(slog.NewTextHandler(&logs, nil)))
	c.committed(checkpointEvery)
	c.close()
	require.Equal(t, int64(1), c.runs)
	require.Error(t, c.lastErr)
	require.Contains(t, logs.String(), "background checkpoint failed")
	require.Equal(t, 1, strings.Count(logs.String(), "background checkpoint failed"))
}

// TestStmtCache runs a query through the cache: from the third run it
// uses a prepared statement, with the same effect; a query that cannot be
// prepared still reports its error.
func TestStmtCache(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.db"))
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	_, err = db.Exec(`CREATE TABLE t (a INTEGER, b TEXT)`)
	require.NoError(t, err)
	c := &stmtCache{}
	defer c.close()
	const ins = `INSERT INTO t (a, b) VALUES (?, ?)`
	for i := range 5 {
		c.prepare(ctx, db) // outside the transaction, as the writer does
		tx, err := db.Begin()
		require.NoError(t, err)
		_, err = c.exec(ctx, tx, ins, i, "row")
		require.NoError(t, err)
		_, err = c.exec(ctx, tx, `INSERT INTO missing VALUES (?)`, i)
		require.ErrorContains(t, err, "no such table")
		require.NoError(t, tx.Rollback())
		tx, err = db.Begin()
		require.NoError(t, err)
		_, err = c.exec(ctx, tx, ins, i, "row")
		require.NoError(t, err)
		require.NoError(t, tx.Commit())
		c.mu.Lock()
		prepared := c.stmts[ins] != nil
		c.mu.Unlock()
		require.Equal(t, i >= 1, prepared, "round %d", i) // run twice in round 0
	}
	c.mu.Lock()
	require.Equal(t, -1, c.seen[`INSERT INTO missing VALUES (?)`])
	require.Len(t, c.stmts, 1)
	c.mu.Unlock()
	var count int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM t`).Scan(&count))
	require.Equal(t, 5, count)
}

package audit

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"
)

// checkpointEvery is how many payload bytes the writer commits between two
// background checkpoints: about 700 WAL pages of 16 KiB with the index
// pages, so that most of the log is copied when SQLite's automatic
// checkpoint (at 1,000 pages) runs, and pages written again and again (the
// chain head, index interior pages) are not copied more often than needed.
const checkpointEvery = 8 << 20

// checkpointer copies SQLite's write-ahead log into the database file on a
// goroutine and connection of its own (PRAGMA wal_checkpoint(PASSIVE)),
// kicked by the writer after each few MiB it commits. Without it, the
// automatic checkpoint runs inside the commit that crosses 1,000 WAL pages
// and copies them all while the next batch waits; with it, that automatic
// checkpoint (still on, the safety net when this one falls behind or the
// WAL must be reset) finds the pages copied and has little left to do.
// A passive checkpoint never waits for readers or writers and never blocks
// them; a failed one loses nothing (the log keeps the pages) and is logged.
type checkpointer struct {
	db      *sql.DB
	timeout time.Duration
	logger  *slog.Logger

	kick chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pending int64 // payload bytes committed since the last kick
	failed  bool  // the last checkpoint failed (logged once until one succeeds)

	// What the checkpoints did, for tests: how many ran, the last one's
	// error and pages copied.
	runs       int64
	lastErr    error
	lastCopied int64
}

func newCheckpointer(db *sql.DB, timeout time.Duration, logger *slog.Logger) *checkpointer {
	c := &checkpointer{db: db, timeout: timeout, logger: logger, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c
}

// committed tells the checkpointer that n payload bytes were committed.
func (c *checkpointer) committed(n int64) {
	c.mu.Lock()
	c.pending += n
	due := c.pending >= checkpointEvery
	if due {
		c.pending = 0
	}
	c.mu.Unlock()
	if due {
		select {
		case c.kick <- struct{}{}:
		default: // one is already due
		}
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for range c.kick {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		var busy, logPages, copied int64
		err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &copied)
		cancel()
		c.mu.Lock()
		report := (err != nil) != c.failed
		c.failed = err != nil
		c.runs, c.lastErr, c.lastCopied = c.runs+1, err, copied
		c.mu.Unlock()
		switch {
		case report && err != nil:
			c.logger.Warn("reagent: audit background checkpoint failed; SQLite's automatic checkpoint will copy the log instead", "err", err)
		case report:
			c.logger.Info("reagent: audit background checkpoint works again")
		}
	}
}

// close stops the checkpointer; call it before closing db.
func (c *checkpointer) close() {
	close(c.kick)
	<-c.done
}

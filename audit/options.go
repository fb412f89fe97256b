package audit

import (
	"log/slog"
	"time"

	"github.com/reagent-go/reagent/audit/redact"
)

// Option configures a store or a JSONL writer.
type Option func(*config)

type config struct {
	redactor     *redact.Redactor
	queueSize    int
	batchSize    int
	linger       time.Duration
	create       bool
	busyTimeout  time.Duration
	writeTimeout time.Duration
	logger       *slog.Logger
	now          func() time.Time
}

func newConfig(opts []Option) *config {
	c := &config{
		redactor:     redact.Default(),
		queueSize:    1024,
		batchSize:    256,
		linger:       2 * time.Millisecond,
		create:       true,
		busyTimeout:  10 * time.Second,
		writeTimeout: 30 * time.Second,
		logger:       slog.Default(),
		now:          time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// WithRedactor sets the redactor applied to every trajectory and assessment
// before it is serialised. The default is redact.Default(); nil turns
// redaction off.
func WithRedactor(r *redact.Redactor) Option { return func(c *config) { c.redactor = r } }

// WithQueueSize bounds the number of records waiting to be written
// (default 1024). When the queue is full, Append blocks.
func WithQueueSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.queueSize = n
		}
	}
}

// WithBatchSize bounds how many queued records the writer commits in one
// transaction (default 256).
func WithBatchSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.batchSize = n
		}
	}
}

// WithLinger sets how long the writer waits for more records before it
// commits a batch that is not full (default 2ms; 0 commits at once). Flush
// and Close never wait for it. Longer waits make larger transactions.
func WithLinger(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.linger = d
		}
	}
}

// WithCreate says whether a missing database (SQLite file, or PostgreSQL
// tables) is created (true, the default) or reported as an error, as the
// read-only commands want.
func WithCreate(create bool) Option { return func(c *config) { c.create = create } }

// WithBusyTimeout sets how long a SQLite write waits for another process
// holding the write lock (default 10s).
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.busyTimeout = d
		}
	}
}

// WithWriteTimeout bounds each write transaction of the writer goroutine
// (default 30s): its statements run under a context with this timeout, and
// on PostgreSQL also under statement_timeout and lock_timeout, so a hung
// server or a lock held elsewhere fails the write instead of stopping the
// writer. Failed records are kept and tried again by the next Flush. Keep
// it above WithBusyTimeout on SQLite.
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.writeTimeout = d
		}
	}
}

// WithLogger sets the logger for write failures (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithClock sets the clock that stamps records' created_at (default
// time.Now), for imports and retention tests.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

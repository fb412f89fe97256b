package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// item is one queued record, or a flush marker when flush is set.
type item struct {
	kind    Kind
	runID   string
	payload []byte // canonical JSON
	digest  string // hex SHA-256 of payload

	// Index data for trajectories.
	status    string
	startedAt int64
	blocked   bool
	score     *float64 // last OK assessment embedded in the trajectory
	meta      map[string]string

	// Assessment data.
	assessOK bool
	assess   float64

	flush chan error
	// prepare, when set, builds the record (redaction, canonical JSON) on
	// the writer's goroutine; the item is a placeholder until then.
	prepare func() (*item, error)
}

// writer owns the queue and the one goroutine that drains it into the
// database in batches, so the agent's path never waits on disk.
type writer struct {
	ch        chan *item
	mu        sync.RWMutex // held for reading while sending, for writing to close
	closed    bool
	done      chan struct{}
	write     func(ctx context.Context, batch []*item) error
	batchSize int
	linger    time.Duration
	logger    *slog.Logger

	errMu  sync.Mutex
	failed []error // write failures not yet reported by Flush or Close
}

func newWriter(cfg *config, write func(context.Context, []*item) error) *writer {
	w := &writer{
		ch:        make(chan *item, cfg.queueSize),
		done:      make(chan struct{}),
		write:     write,
		batchSize: cfg.batchSize,
		linger:    cfg.linger,
		logger:    cfg.logger,
	}
	go w.run()
	return w
}

// enqueue blocks until the queue has room, ctx is done or the store closes.
func (w *writer) enqueue(ctx context.Context, it *item) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	select {
	case w.ch <- it:
		return nil
	default:
	}
	select {
	case w.ch <- it:
		return nil
	case <-ctx.Done():
		if it.flush != nil {
			return fmt.Errorf("audit: flush: queue full: %w", ctx.Err())
		}
		return fmt.Errorf("audit: queue full, %s record of run %q not stored: %w", it.kind, it.runID, ctx.Err())
	}
}

// flush waits until every record queued before it is written.
func (w *writer) flush(ctx context.Context) error {
	it := &item{flush: make(chan error, 1)}
	if err := w.enqueue(ctx, it); err != nil {
		return err
	}
	select {
	case err := <-it.flush:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: flush: %w", ctx.Err())
	}
}

// close stops accepting records, writes what is queued and returns the
// failures nobody has seen yet.
func (w *writer) close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	close(w.ch)
	w.mu.Unlock()
	<-w.done
	return w.takeErrors()
}

func (w *writer) takeErrors() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	err := errors.Join(w.failed...)
	w.failed = nil
	return err
}

func (w *writer) run() {
	defer close(w.done)
	batch := make([]*item, 0, w.batchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for it := range w.ch {
		batch = append(batch[:0], it)
		w.collect(&batch, timer)
		w.process(batch)
	}
}

// collect adds queued records to batch until it is full, a flush marker
// arrives, the queue closes, or the queue has stayed empty for the linger
// time: waiting a little turns many small transactions into one, which is
// what makes SQLite's WAL (and PostgreSQL's commit) cheap per record.
func (w *writer) collect(batch *[]*item, timer *time.Timer) {
	lingering := false
	defer func() {
		if lingering && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}()
	for len(*batch) < w.batchSize && (*batch)[len(*batch)-1].flush == nil {
		select {
		case next, ok := <-w.ch:
			if !ok {
				return
			}
			*batch = append(*batch, next)
			continue
		default:
		}
		if w.linger <= 0 {
			return
		}
		if !lingering {
			lingering = true
			timer.Reset(w.linger)
		}
		select {
		case next, ok := <-w.ch:
			if !ok {
				return
			}
			*batch = append(*batch, next)
		case <-timer.C:
			lingering = false
			return
		}
	}
}

// process writes the records of batch, answering flush markers once the
// records before them are committed.
func (w *writer) process(batch []*item) {
	batch = w.prepareAll(batch)
	start := 0
	for i, it := range batch {
		if it.flush == nil {
			continue
		}
		w.commit(batch[start:i])
		start = i + 1
		it.flush <- w.takeErrors()
	}
	w.commit(batch[start:])
}

// commit writes records in one transaction. A failed batch is retried; if it
// still fails, each record is tried alone so that one bad record cannot sink
// the others. What still fails is logged and reported by the next Flush.
func (w *writer) commit(recs []*item) {
	if len(recs) == 0 {
		return
	}
	ctx := context.Background()
	err := w.write(ctx, recs)
	for _, wait := range []time.Duration{20 * time.Millisecond, 200 * time.Millisecond} {
		if err == nil {
			return
		}
		time.Sleep(wait)
		err = w.write(ctx, recs)
	}
	if err == nil {
		return
	}
	if len(recs) == 1 {
		w.fail(recs[0], err)
		return
	}
	// When records keep failing one by one the cause is not a record (the
	// database is locked, full or gone): stop trying, so that a busy timeout
	// is not waited out once per record.
	const giveUpAfter = 3
	streak := 0
	for _, r := range recs {
		if streak >= giveUpAfter {
			w.fail(r, err)
			continue
		}
		if err = w.write(ctx, []*item{r}); err != nil {
			w.fail(r, err)
			streak++
			continue
		}
		streak = 0
	}
}

func (w *writer) fail(r *item, err error) {
	err = fmt.Errorf("audit: %s record of run %q was not stored: %w", r.kind, r.runID, err)
	w.logger.Error("reagent: audit write failed", "kind", r.kind, "run", r.runID, "err", err)
	w.errMu.Lock()
	w.failed = append(w.failed, err)
	w.errMu.Unlock()
}

// prepareAll builds the records that were queued unprepared, in place; a
// record that cannot be built is reported like a failed write.
func (w *writer) prepareAll(batch []*item) []*item {
	out := batch[:0]
	for _, it := range batch {
		if it.prepare == nil {
			out = append(out, it)
			continue
		}
		ready, err := it.prepare()
		if err != nil {
			w.fail(it, err)
			continue
		}
		out = append(out, ready)
	}
	return out
}

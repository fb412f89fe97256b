package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// item is one record on its way to the database.
type item struct {
	// ticket is the record's place in append order (from 1): every record
	// appended before a Flush call has a ticket at most the Flush's mark.
	ticket uint64

	kind  Kind
	runID string
	// The canonical JSON, in one of two forms: payload, or text (set
	// instead by the preparer of a trajectory, the form the database takes,
	// so that the writer copies nothing).
	payload []byte
	text    string
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

	// prepare, when set, builds the record (redaction, canonical JSON) on a
	// preparer goroutine, off the caller's path; ready is closed once built
	// or buildErr is set.
	prepare  func() (*item, error)
	ready    chan struct{}
	built    *item
	buildErr error
}

// payloadText returns the canonical JSON as a string.
func (it *item) payloadText() string {
	if it.payload == nil {
		return it.text
	}
	return string(it.payload)
}

// payloadLen is the canonical JSON's length in bytes.
func (it *item) payloadLen() int { return len(it.payload) + len(it.text) }

// failure is a record that is not in the database.
type failure struct {
	it  *item // kept for another try; nil once given up on (see maxRetained)
	rec NotStored
}

// writer owns the queue, the preparer goroutines that redact and serialise
// records in parallel, and the one goroutine that writes them into the
// database in batches, so the agent's path never waits on disk.
//
// Acknowledgement contract: records get tickets in append order; Flush
// takes the last ticket handed out when it is called as its mark, and
// returns nil only once every record with a ticket up to the mark is
// committed. A record that failed stays in failed (and is tried again by
// every flushing round while it is kept in retry) until it is stored, so
// every Flush whose mark covers it reports it, not only the next one.
type writer struct {
	write        func(ctx context.Context, batch []*item) error
	batchSize    int
	linger       time.Duration
	writeTimeout time.Duration
	maxRetained  int
	logger       *slog.Logger

	slots chan struct{} // one per queued record: bounds the queue
	prep  chan *item    // records to build, in ticket order
	wake  chan struct{} // tells the writer goroutine to look at the queue
	done  chan struct{} // closed when the writer goroutine has stopped

	mu    sync.Mutex
	queue []*item // appended, not yet taken by the writer goroutine
	// undispatched counts the records at the end of queue not yet handed
	// to the preparers: the writer goroutine hands them over, so that an
	// Append wakes no goroutine of the store while the writer is awake.
	undispatched int
	// parked is set while the writer goroutine sleeps with nothing to do
	// and no timer: only then must an Append wake it.
	parked   bool
	inflight []*item // taken, being written
	last     uint64  // last ticket handed out
	closed   bool
	flushReq bool // a Flush waits: do not linger, and retry failures
	started  uint64
	finished uint64             // rounds of the writer goroutine
	handled  uint64             // every ticket up to it is committed or failed
	failed   map[uint64]failure // records not stored, by ticket
	retry    []*item            // failed records kept for another try, oldest first
	changed  chan struct{}      // closed and replaced when the above change
	workers  sync.WaitGroup
}

func newWriter(cfg *config, write func(context.Context, []*item) error) *writer {
	w := &writer{
		write:        write,
		batchSize:    cfg.batchSize,
		linger:       cfg.linger,
		writeTimeout: cfg.writeTimeout,
		maxRetained:  max(cfg.queueSize, 1024),
		logger:       cfg.logger,
		slots:        make(chan struct{}, cfg.queueSize),
		prep:         make(chan *item, cfg.queueSize+cfg.batchSize),
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		failed:       map[uint64]failure{},
		changed:      make(chan struct{}),
	}
	n := max(runtime.GOMAXPROCS(0), 1)
	w.workers.Add(n)
	for range n {
		go w.preparer()
	}
	go w.run()
	return w
}

// preparer builds records until the writer stops.
func (w *writer) preparer() {
	defer w.workers.Done()
	for it := range w.prep {
		it.built, it.buildErr = it.prepare()
		close(it.ready)
	}
}

func (w *writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// enqueue hands it to the writer. It blocks while the queue is full, until
// there is room, ctx is done or the store closes; a record not handed over
// is reported in the error, naming its run, and is not stored.
func (w *writer) enqueue(ctx context.Context, it *item) error {
	select {
	case w.slots <- struct{}{}:
	default:
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("audit: queue full, %s record of run %q not stored: %w", it.kind, it.runID, ctx.Err())
		}
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.slots
		return fmt.Errorf("audit: %s record of run %q not stored: %w", it.kind, it.runID, ErrClosed)
	}
	w.last++
	it.ticket = w.last
	w.queue = append(w.queue, it)
	w.undispatched++
	if it.prepare != nil {
		it.ready = make(chan struct{})
	}
	// The writer goroutine looks at the queue by itself while it is awake
	// (lingering, or polling for a while after its last round); wake it
	// only when it sleeps, when a batch is full, or every dispatchEvery
	// records so that the preparers start on a burst early.
	wake := w.parked || len(w.queue) >= w.batchSize || w.undispatched >= dispatchEvery
	w.mu.Unlock()
	if wake {
		w.signal()
	}
	return nil
}

// dispatchEvery is how many records an Append burst queues before it wakes
// the writer goroutine to hand them to the preparers.
const dispatchEvery = 8

// idlePolls is how many linger periods the writer goroutine keeps looking
// at an empty queue before it sleeps until woken: Appends that come in
// that time wake nothing.
const idlePolls = 16

// dispatch hands the records not yet handed over to the preparers. Call
// with mu held; it never blocks (prep's capacity exceeds what can be
// queued or in flight).
func (w *writer) dispatch() {
	for _, it := range w.queue[len(w.queue)-w.undispatched:] {
		if it.prepare != nil {
			w.prep <- it
		}
	}
	w.undispatched = 0
}

// broadcast wakes every Flush waiting for a change. Call with mu held.
func (w *writer) broadcast() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// flush waits until every record appended before the call is committed and
// reports, naming them, those that are not: records that failed (whenever
// they failed, until a later try stores them) and, if ctx ends first,
// records still waiting for the database.
func (w *writer) flush(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return fmt.Errorf("audit: flush: %w", ErrClosed)
	}
	mark := w.last
	// The first round to start from now on sees flushReq: it skips the
	// linger and tries failed records again.
	round := w.started + 1
	w.flushReq = true
	w.mu.Unlock()
	w.signal()
	for {
		w.mu.Lock()
		if w.handled >= mark && w.finished >= round {
			err := w.notStored(mark, nil)
			w.mu.Unlock()
			return err
		}
		if ctx.Err() != nil {
			err := w.notStored(mark, ctx.Err())
			w.mu.Unlock()
			return err
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
		}
	}
}

// notStored returns the error for the records with tickets up to mark that
// are not stored, or nil. cause is set when the caller stopped waiting.
// Call with mu held.
func (w *writer) notStored(mark uint64, cause error) error {
	var recs []NotStored
	add := func(it *item) {
		if it.ticket <= mark {
			if _, failed := w.failed[it.ticket]; !failed {
				recs = append(recs, NotStored{Kind: it.kind, RunID: it.runID, Pending: true, ticket: it.ticket})
			}
		}
	}
	if cause != nil {
		for _, it := range w.inflight {
			add(it)
		}
		for _, it := range w.queue {
			if it.ticket > mark {
				break
			}
			add(it)
		}
	}
	for t, f := range w.failed {
		if t <= mark {
			recs = append(recs, f.rec)
		}
	}
	if len(recs) == 0 {
		return nil // everything covered is stored
	}
	return newNotStoredError(recs, cause)
}

// close stops accepting records, writes what is queued, tries failed
// records once more and returns every record that is not stored.
func (w *writer) close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	w.flushReq = true
	w.mu.Unlock()
	w.signal()
	<-w.done
	close(w.prep)
	w.workers.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.notStored(w.last, nil)
}

// sleep waits for d or a wake, whichever comes first.
func (w *writer) sleep(timer *time.Timer, d time.Duration) {
	timer.Reset(d)
	select {
	case <-w.wake:
	case <-timer.C:
	}
	stopTimer(timer)
}

// stopTimer stops timer and drains a tick it may have left.
func stopTimer(timer *time.Timer) {
	if !timer.Stop() {
		select {
		case <-timer.C:
		default:
		}
	}
}

func (w *writer) run() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch, flushing, last := w.next(timer)
		w.process(batch, flushing)
		if last {
			return
		}
	}
}

// next takes the next batch from the queue: it waits for records, a Flush
// or Close, then lingers until the batch is full, a Flush or Close comes,
// or the linger time passes (waiting a little turns many small
// transactions into one, which is what makes SQLite's WAL and PostgreSQL's
// commit cheap per record). last is set once the store is closed and the
// queue is empty.
func (w *writer) next(timer *time.Timer) (batch []*item, flushing, last bool) {
	w.mu.Lock()
	for polls := 0; len(w.queue) == 0 && !w.flushReq && !w.closed; {
		if polls < idlePolls && w.linger > 0 {
			// Poll for a while: an Append now need not wake anyone.
			polls++
			w.mu.Unlock()
			w.sleep(timer, w.linger)
			w.mu.Lock()
			continue
		}
		w.parked = true
		w.mu.Unlock()
		<-w.wake
		w.mu.Lock()
		w.parked = false
	}
	w.dispatch()
	if len(w.queue) < w.batchSize && !w.flushReq && !w.closed && w.linger > 0 {
		w.mu.Unlock()
		timer.Reset(w.linger)
	linger:
		for {
			select {
			case <-w.wake:
				w.mu.Lock()
				w.dispatch()
				stop := len(w.queue) >= w.batchSize || w.flushReq || w.closed
				w.mu.Unlock()
				if stop {
					break linger
				}
			case <-timer.C:
				break linger
			}
		}
		stopTimer(timer)
		w.mu.Lock()
		w.dispatch()
	}
	n := min(len(w.queue), w.batchSize)
	batch = w.queue[:n:n]
	w.queue = w.queue[n:]
	w.inflight = batch
	w.started++
	flushing = w.flushReq || w.closed
	if len(w.queue) == 0 {
		w.flushReq = false
	}
	last = w.closed && len(w.queue) == 0
	w.mu.Unlock()
	for range n {
		<-w.slots
	}
	return batch, flushing, last
}

// process writes one batch, and before it, when a Flush or Close waits,
// the failed records kept for another try.
func (w *writer) process(batch []*item, flushing bool) {
	// Failed records go first, so the chain keeps close to append order.
	var failures []failure
	var retried, stored []*item
	if flushing {
		w.mu.Lock()
		retried = w.retry
		w.retry = nil
		w.mu.Unlock()
		if len(retried) > 0 {
			notStored := map[uint64]bool{}
			for start := 0; start < len(retried); start += w.batchSize {
				for _, f := range w.commit(retried[start:min(start+w.batchSize, len(retried))], false) {
					notStored[f.it.ticket] = true
					failures = append(failures, f)
				}
			}
			for _, it := range retried {
				if !notStored[it.ticket] {
					stored = append(stored, it)
				}
			}
		}
	}

	ready := make([]*item, 0, len(batch))
	for _, it := range batch {
		if it.prepare != nil {
			<-it.ready
			if it.buildErr != nil {
				failures = append(failures, w.fail(it, it.buildErr, false))
				continue
			}
			b := it.built
			b.ticket = it.ticket
			it = b
		}
		ready = append(ready, it)
	}

	for _, f := range w.commit(ready, true) {
		failures = append(failures, f)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, it := range stored {
		delete(w.failed, it.ticket)
		w.logger.Info("reagent: audit record stored on a later try", "kind", it.kind, "run", it.runID)
	}
	for _, f := range failures {
		if f.rec.Permanent {
			f.it = nil // keep the report, not the record
			w.failed[f.rec.ticket] = f
			continue
		}
		w.failed[f.rec.ticket] = f
		w.retry = append(w.retry, f.it)
	}
	if over := len(w.retry) - w.maxRetained; over > 0 {
		for _, it := range w.retry[:over] {
			f := w.failed[it.ticket]
			f.it = nil
			f.rec.Permanent = true
			f.rec.Err = fmt.Errorf("%w (given up: more than %d failed records were waiting for another try)", f.rec.Err, w.maxRetained)
			w.failed[it.ticket] = f
		}
		w.retry = append([]*item(nil), w.retry[over:]...)
	}
	if len(batch) > 0 {
		w.handled = batch[len(batch)-1].ticket
	}
	w.inflight = nil
	w.finished++
	w.broadcast()
}

// errWriteTimeout marks a write that ran out of its write timeout.
var errWriteTimeout = errors.New("audit: write timeout")

// tryWrite writes recs in one transaction, bounded by the write timeout.
func (w *writer) tryWrite(recs []*item) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.writeTimeout)
	defer cancel()
	err := w.write(ctx, recs)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: the database did not answer within %v (see WithWriteTimeout): %w", errWriteTimeout, w.writeTimeout, err)
	}
	return err
}

// failAll reports every record of recs as not stored because of err.
func (w *writer) failAll(recs []*item, err error) []failure {
	out := make([]failure, 0, len(recs))
	for _, r := range recs {
		out = append(out, w.fail(r, err, true))
	}
	return out
}

// commit writes records in one transaction and returns those it could not
// store. A failed batch is retried (after short pauses when patient); if it
// still fails, records are tried one by one so that one bad record cannot
// sink the others, until a few in a row fail: then the cause is not a
// record (the database is locked, full or gone) and the rest fail with it.
// A write that ran out of the write timeout is not tried again here (the
// database hangs; each try would wait as long), so that a hung database
// costs one write timeout per batch, and Close returns.
func (w *writer) commit(recs []*item, patient bool) []failure {
	if len(recs) == 0 {
		return nil
	}
	err := w.tryWrite(recs)
	if patient {
		for _, wait := range []time.Duration{20 * time.Millisecond, 200 * time.Millisecond} {
			if err == nil || errors.Is(err, errWriteTimeout) {
				break
			}
			time.Sleep(wait)
			err = w.tryWrite(recs)
		}
	}
	if err == nil {
		return nil
	}
	if len(recs) == 1 || errors.Is(err, errWriteTimeout) {
		return w.failAll(recs, err)
	}
	// Records not tried alone come first in the result, so that the next
	// try of the failed records starts with them: a few records the
	// database always refuses cannot keep the others from being tried.
	const giveUpAfter = 3
	var untried, refused []failure
	streak := 0
	for _, r := range recs {
		if streak >= giveUpAfter {
			untried = append(untried, w.fail(r, err, true))
			continue
		}
		if err = w.tryWrite([]*item{r}); err != nil {
			refused = append(refused, w.fail(r, err, true))
			streak++
			if errors.Is(err, errWriteTimeout) {
				streak = giveUpAfter
			}
			continue
		}
		streak = 0
	}
	return append(untried, refused...)
}

// fail logs a record that was not stored; retry says whether writing it
// again may succeed (a failed write) or not (a record that cannot be built).
func (w *writer) fail(r *item, err error, retry bool) failure {
	w.logger.Error("reagent: audit write failed", "kind", r.kind, "run", r.runID, "err", err)
	return failure{it: r, rec: NotStored{Kind: r.kind, RunID: r.runID, Err: err, Permanent: !retry, ticket: r.ticket}}
}

// NotStored is one record that is not in the database.
type NotStored struct {
	Kind  Kind
	RunID string
	// Err is why the write failed; nil for a record still waiting for the
	// database (Pending).
	Err error
	// Pending: the record is still queued or being written; the caller
	// stopped waiting for it. A later Flush reports whether it was stored.
	Pending bool
	// Permanent: the record cannot be stored (it could not be encoded, or
	// too many failed records were waiting); it is reported by every later
	// Flush and by Close. Other failed records are tried again by every
	// Flush, and stop being reported once stored.
	Permanent bool

	ticket uint64
}

func (n NotStored) String() string {
	if n.Pending {
		return fmt.Sprintf("%s record of run %q is not stored yet (still queued)", n.Kind, n.RunID)
	}
	return fmt.Sprintf("%s record of run %q was not stored: %v", n.Kind, n.RunID, n.Err)
}

// NotStoredError is what Flush and Close return when records appended
// before the call are not in the database. Its message names the runs;
// errors.As gives the full list.
type NotStoredError struct {
	// Records are the records not stored, in append order.
	Records []NotStored
	// Cause is the caller's context error when Flush stopped waiting
	// (errors.Is(err, context.DeadlineExceeded) holds then); nil otherwise.
	Cause error
}

func newNotStoredError(recs []NotStored, cause error) *NotStoredError {
	// Append order; map iteration left them unordered.
	slices.SortFunc(recs, func(a, b NotStored) int { return cmp.Compare(a.ticket, b.ticket) })
	return &NotStoredError{Records: recs, Cause: cause}
}

// maxNamed bounds how many records an error message lists.
const maxNamed = 20

// Error names the records (the first 20) and why each is not stored.
func (e *NotStoredError) Error() string {
	var b strings.Builder
	b.WriteString("audit: ")
	if e.Cause != nil {
		fmt.Fprintf(&b, "flush stopped waiting (%v): ", e.Cause)
	}
	fmt.Fprintf(&b, "%d record(s) appended before this call are not stored: ", len(e.Records))
	for i, r := range e.Records {
		if i == maxNamed {
			fmt.Fprintf(&b, "; and %d more", len(e.Records)-maxNamed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.String())
	}
	return b.String()
}

// Unwrap returns the cause and every record's error.
func (e *NotStoredError) Unwrap() []error {
	var errs []error
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	for _, r := range e.Records {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errs
}

// RunIDs returns the runs with a record not stored, each once, in append
// order.
func (e *NotStoredError) RunIDs() []string {
	seen := map[string]bool{}
	var ids []string
	for _, r := range e.Records {
		if !seen[r.RunID] {
			seen[r.RunID] = true
			ids = append(ids, r.RunID)
		}
	}
	return ids
}

package audit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
)

// poison makes the database itself refuse every record of runs whose ID
// starts with "poison-": a trigger raising an error inside the INSERT, a
// real failure of the engine that the store cannot tell from a full disk.
func poison(t testing.TB, e *env) {
	t.Helper()
	if e.kind == "postgres" {
		e.exec(t, `CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.run_id LIKE 'poison-%' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`)
		e.exec(t, `CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION refuse_poison()`)
		return
	}
	e.exec(t, `CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_records WHEN NEW.run_id LIKE 'poison-%'
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
}

func cure(t testing.TB, e *env) {
	t.Helper()
	if e.kind == "postgres" {
		e.exec(t, `DROP TRIGGER refuse_poison ON audit_records`)
		return
	}
	e.exec(t, `DROP TRIGGER refuse_poison`)
}

// TestFlushContract: appenders and flushers on many goroutines, with writes
// of some runs failing in the database. A Flush that returns nil covers
// only stored runs; a failed run is named by every Flush that covers it,
// whichever goroutine appended it; once the failure is cured, the next
// Flush stores it.
func TestFlushContract(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		s := e.open(t, audit.WithBatchSize(4), audit.WithLinger(0), audit.WithRedactor(nil))
		require.NoError(t, s.Flush(ctx)) // the tables exist
		poison(t, e)

		const goroutines, perG = 6, 30
		shared := make(chan struct{}) // closed once poison-shared is appended
		var mu sync.Mutex
		acked := map[string]bool{}
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine, myPoison []string
				for i := range perG {
					id := fmt.Sprintf("g%d-%03d", g, i)
					if i%9 == 4 {
						id = "poison-" + id
					}
					if g == 0 && i == 0 {
						id = "poison-shared"
					}
					r := sampleRun(i, 1)
					r.ID = id
					if err := s.Append(ctx, r); err != nil {
						t.Errorf("append %s: %v", id, err)
						return
					}
					mine = append(mine, id)
					if strings.HasPrefix(id, "poison-") {
						myPoison = append(myPoison, id)
					}
					if g == 0 && i == 0 {
						close(shared)
					}
					if i == perG/2 {
						<-shared
					}
					if i%3 != 2 && i != perG/2 {
						continue
					}
					err := s.Flush(ctx)
					if err == nil {
						if len(myPoison) > 0 {
							t.Errorf("goroutine %d: Flush returned nil although %v were refused", g, myPoison)
						}
						mu.Lock()
						for _, id := range mine {
							acked[id] = true
						}
						mu.Unlock()
						continue
					}
					for _, p := range myPoison {
						if !strings.Contains(err.Error(), fmt.Sprintf("run %q was not stored", p)) {
							t.Errorf("goroutine %d: Flush error does not name %s: %v", g, p, err)
						}
					}
					if i >= perG/2 && !strings.Contains(err.Error(), `run "poison-shared" was not stored`) {
						t.Errorf("goroutine %d: a Flush after poison-shared was appended does not name it: %v", g, err)
					}
				}
			}()
		}
		wg.Wait()

		err := s.Flush(ctx)
		var ns *audit.NotStoredError
		require.ErrorAs(t, err, &ns)
		for _, id := range ns.RunIDs() {
			assert.True(t, strings.HasPrefix(id, "poison-"), "only refused runs are reported: %s", id)
		}
		assert.Len(t, ns.RunIDs(), 1+goroutines*((perG+4)/9), "every refused run is named")
		assert.ErrorContains(t, err, "injected failure")

		for id := range acked {
			_, err := s.Get(ctx, id)
			require.NoError(t, err, "acknowledged run %s is stored", id)
		}
		t.Logf("%d runs acknowledged by a nil Flush, %d refused", len(acked), len(ns.RunIDs()))

		cure(t, e)
		require.NoError(t, s.Flush(ctx), "the refused runs are stored on the next try")
		for _, id := range ns.RunIDs() {
			_, err := s.Get(ctx, id)
			require.NoError(t, err, "run %s stored after the cure", id)
		}
		rep, err := s.Verify(ctx)
		require.NoError(t, err)
		require.True(t, rep.OK, rep.String())
		assert.Equal(t, int64(goroutines*perG), rep.Runs)
	})
}

// holdWriteLock takes what the store's writer needs and keeps it until the
// returned function is called: SQLite's write lock, or the chain head row.
func holdWriteLock(t *testing.T, e *env) (release func()) {
	t.Helper()
	conn, err := e.raw.Conn(ctx)
	require.NoError(t, err)
	if e.kind == "postgres" {
		_, err = conn.ExecContext(ctx, `BEGIN`)
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, `SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE`)
	} else {
		_, err = conn.ExecContext(ctx, `BEGIN IMMEDIATE`)
	}
	require.NoError(t, err)
	return func() {
		_, err := conn.ExecContext(ctx, `ROLLBACK`)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	}
}

// TestDeadlinesHold: with the database blocked by another session, Append
// and Flush return when their context ends, with the context's error, and
// say which runs are not stored; nothing accepted is lost once the block
// goes.
func TestDeadlinesHold(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		s := e.open(t, audit.WithQueueSize(2), audit.WithBatchSize(1), audit.WithBusyTimeout(time.Hour), audit.WithWriteTimeout(time.Hour))
		require.NoError(t, s.Flush(ctx)) // the tables exist
		release := holdWriteLock(t, e)

		var accepted []string
		var refused error
		for i := range 10 {
			c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			err := s.Append(c, sampleRun(i, 1))
			cancel()
			if err != nil {
				refused = err
				break
			}
			accepted = append(accepted, sampleRun(i, 1).ID)
		}
		require.Error(t, refused, "the queue never filled")
		assert.ErrorIs(t, refused, context.DeadlineExceeded)
		assert.Contains(t, refused.Error(), fmt.Sprintf("run %q not stored", fmt.Sprintf("run-%05d", len(accepted))))

		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err := s.Flush(c)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var ns *audit.NotStoredError
		require.ErrorAs(t, err, &ns)
		assert.Equal(t, accepted, ns.RunIDs(), "Flush names every accepted run still waiting")
		for _, r := range ns.Records {
			assert.True(t, r.Pending)
		}

		release()
		require.NoError(t, s.Flush(ctx))
		all, err := s.List(ctx, audit.Query{})
		require.NoError(t, err)
		assert.Equal(t, accepted, ids(all), "every accepted run was stored, the refused one was not")
	})
}

// TestWriteTimeout: a write blocked longer than the write timeout fails
// (PostgreSQL's statement and lock timeouts, SQLite's busy timeout) instead
// of stopping the writer; the run is reported, and stored on the next try
// once the block is gone.
func TestWriteTimeout(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		s := e.open(t, audit.WithBusyTimeout(20*time.Millisecond), audit.WithWriteTimeout(100*time.Millisecond))
		require.NoError(t, s.Flush(ctx))
		release := holdWriteLock(t, e)
		require.NoError(t, s.Append(ctx, sampleRun(1, 1)))
		err := s.Flush(ctx)
		var ns *audit.NotStoredError
		require.ErrorAs(t, err, &ns)
		assert.Equal(t, []string{"run-00001"}, ns.RunIDs())
		assert.False(t, ns.Records[0].Pending, "the write failed, it is not waiting")
		t.Log(err)
		release()
		// Every Flush tries the failed record again. Under load a try can
		// still run out of the short write timeout (PostgreSQL: opening a
		// connection), so keep flushing until one stores it; a failure is
		// always the record reported, never anything else.
		for try := 1; ; try++ {
			err = s.Flush(ctx)
			if err == nil {
				break
			}
			require.ErrorAs(t, err, &ns)
			require.Equal(t, []string{"run-00001"}, ns.RunIDs())
			require.Less(t, try, 50, "the record was never stored after the lock was released: %v", err)
		}
		_, err = s.Get(ctx, "run-00001")
		require.NoError(t, err)
	})
}

// TestClosedStoreRefuses: after Close, Append and Flush say the store is
// closed and name the run.
func TestClosedStoreRefuses(t *testing.T) {
	s := newSQLiteEnv(t).open(t)
	require.NoError(t, s.Close())
	err := s.Append(ctx, sampleRun(1, 1))
	require.ErrorIs(t, err, audit.ErrClosed)
	assert.Contains(t, err.Error(), `run "run-00001" not stored`)
	require.ErrorIs(t, s.Flush(ctx), audit.ErrClosed)
}

// TestCloseReturnsWhileBlocked: Close returns while another session keeps
// the database blocked, naming every run it could not store.
func TestCloseReturnsWhileBlocked(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		s, err := audit.Open(ctx, e.dsn, audit.WithBusyTimeout(20*time.Millisecond), audit.WithWriteTimeout(100*time.Millisecond), audit.WithBatchSize(2))
		require.NoError(t, err)
		release := holdWriteLock(t, e)
		defer release()
		var want []string
		for i := range 5 {
			require.NoError(t, s.Append(ctx, sampleRun(i, 1)))
			want = append(want, sampleRun(i, 1).ID)
		}
		err = s.Close()
		var ns *audit.NotStoredError
		require.ErrorAs(t, err, &ns)
		assert.Equal(t, want, ns.RunIDs())
	})
}

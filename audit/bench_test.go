package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

const benchSteps = 10

func benchRuns() []*trajectory.Trajectory {
	runs := make([]*trajectory.Trajectory, 64)
	for i := range runs {
		runs[i] = sampleRun(i, benchSteps)
	}
	return runs
}

// nextRun clones a template under a fresh ID, as a recorder hands over a
// new trajectory for every run.
func nextRun(templates []*trajectory.Trajectory, i int) *trajectory.Trajectory {
	t := templates[i%len(templates)].Clone()
	t.ID = fmt.Sprintf("bench-%09d", i)
	return t
}

// BenchmarkAuditAppend measures sustained appends of 10-step trajectories
// into SQLite with redaction, canonical JSON and the hash chain, against a
// baseline of plain batched inserts of the same trajectories' JSON into a
// bare table with the same pragmas. ns/op is the store's time per run.
func BenchmarkAuditAppend(b *testing.B) {
	templates := benchRuns()
	payload, err := trajectory.Marshal(templates[0])
	require.NoError(b, err)
	dir := b.TempDir()
	s, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	require.NoError(b, err)
	defer s.Close()
	base, err := sql.Open("sqlite", filepath.Join(dir, "plain.db")+"?_pragma=page_size(16384)&_journal_mode=WAL&_synchronous=NORMAL")
	require.NoError(b, err)
	defer base.Close()
	base.SetMaxOpenConns(1)
	_, err = base.Exec(`CREATE TABLE plain (seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, payload TEXT NOT NULL)`)
	require.NoError(b, err)
	ctx := context.Background()

	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := s.Append(ctx, nextRun(templates, i)); err != nil {
			b.Fatal(err)
		}
	}
	require.NoError(b, s.Flush(ctx))
	chained := time.Since(start)
	b.StopTimer()

	start = time.Now()
	tx, err := base.Begin()
	require.NoError(b, err)
	for i := 0; i < b.N; i++ {
		t := nextRun(templates, i)
		p, err := trajectory.Marshal(t)
		require.NoError(b, err)
		_, err = tx.Exec(`INSERT INTO plain (seq, run_id, payload) VALUES (?, ?, ?)`, i+1, t.ID, string(p))
		require.NoError(b, err)
		if (i+1)%256 == 0 {
			require.NoError(b, tx.Commit())
			tx, err = base.Begin()
			require.NoError(b, err)
		}
	}
	require.NoError(b, tx.Commit())
	plain := time.Since(start)

	steps := float64(b.N * benchSteps)
	b.ReportMetric(steps/chained.Seconds(), "steps/s")
	b.ReportMetric(steps/plain.Seconds(), "baseline-steps/s")
	b.ReportMetric(plain.Seconds()/chained.Seconds(), "x-baseline")
	b.ReportMetric(float64(len(payload)), "json-bytes/run")
}

// BenchmarkPostgresAppend measures appends of 10-step trajectories into
// PostgreSQL with 1 and 4 writers, each a store of its own as separate
// processes would be, against plain batched inserts of the same JSON with
// the same number of writers.
func BenchmarkPostgresAppend(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			templates := benchRuns()
			e := newPostgresEnv(b)
			ctx := context.Background()
			stores := make([]audit.Store, writers)
			for w := range stores {
				stores[w] = e.open(b)
			}
			_, err := e.raw.Exec(`CREATE TABLE plain (seq BIGINT PRIMARY KEY, run_id TEXT NOT NULL, payload TEXT NOT NULL)`)
			require.NoError(b, err)

			run := func(work func(w, i int) error, done func(w int) error) time.Duration {
				start := time.Now()
				var wg sync.WaitGroup
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := w; i < b.N; i += writers {
							if err := work(w, i); err != nil {
								b.Error(err)
								return
							}
						}
						if err := done(w); err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
				return time.Since(start)
			}

			b.ResetTimer()
			chained := run(func(w, i int) error {
				return stores[w].Append(ctx, nextRun(templates, i))
			}, func(w int) error { return stores[w].Flush(ctx) })
			b.StopTimer()

			txs := make([]*sql.Tx, writers)
			counts := make([]int, writers)
			for w := range txs {
				txs[w], err = e.raw.Begin()
				require.NoError(b, err)
			}
			plain := run(func(w, i int) error {
				t := nextRun(templates, i)
				p, err := trajectory.Marshal(t)
				if err != nil {
					return err
				}
				if _, err := txs[w].Exec(`INSERT INTO plain (seq, run_id, payload) VALUES ($1, $2, $3)`, i+1, t.ID, string(p)); err != nil {
					return err
				}
				if counts[w]++; counts[w]%256 == 0 {
					if err := txs[w].Commit(); err != nil {
						return err
					}
					txs[w], err = e.raw.Begin()
					return err
				}
				return nil
			}, func(w int) error { return txs[w].Commit() })

			b.ReportMetric(float64(b.N)/chained.Seconds(), "appends/s")
			b.ReportMetric(float64(b.N*benchSteps)/chained.Seconds(), "steps/s")
			b.ReportMetric(float64(b.N)/plain.Seconds(), "baseline-appends/s")
			b.ReportMetric(plain.Seconds()/chained.Seconds(), "x-baseline")
			rep, err := stores[0].Verify(ctx)
			require.NoError(b, err)
			require.True(b, rep.OK, rep.String())
		})
	}
}

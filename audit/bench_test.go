package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
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
// baseline of plain batched inserts (256 per transaction) of the same
// trajectories' JSON into a bare table with the same pragmas. The two
// alternate in rounds of 1,024 runs (the store's round ends with a Flush),
// so that both see the same machine load; ns/op is the store's time per
// run.
func BenchmarkAuditAppend(b *testing.B) {
	templates := benchRuns()
	payload, err := trajectory.Marshal(templates[0])
	require.NoError(b, err)
	dir := b.TempDir()
	s, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	require.NoError(b, err)
	defer s.Close()
	base, err := sql.Open("sqlite", filepath.Join(dir, "plain.db")+"?_pragma=page_size(16384)&_pragma=temp_store(memory)&_journal_mode=WAL&_synchronous=NORMAL")
	require.NoError(b, err)
	defer base.Close()
	base.SetMaxOpenConns(1)
	_, err = base.Exec(`CREATE TABLE plain (seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, payload TEXT NOT NULL)`)
	require.NoError(b, err)
	// A prepared statement, as the store's writer uses: the baseline does
	// not parse its INSERT again for every row.
	ins, err := base.Prepare(`INSERT INTO plain (seq, run_id, payload) VALUES (?, ?, ?)`)
	require.NoError(b, err)
	defer ins.Close()
	ctx := context.Background()

	const round = 1024
	var chained, plain, chainedCPU, plainCPU time.Duration
	b.ResetTimer()
	for from := 0; from < b.N; from += round {
		to := min(from+round, b.N)
		cpu := processCPU()
		start := time.Now()
		for i := from; i < to; i++ {
			if err := s.Append(ctx, nextRun(templates, i)); err != nil {
				b.Fatal(err)
			}
		}
		require.NoError(b, s.Flush(ctx))
		chained += time.Since(start)
		chainedCPU += processCPU() - cpu

		cpu = processCPU()
		start = time.Now()
		tx, err := base.Begin()
		require.NoError(b, err)
		for i := from; i < to; i++ {
			t := nextRun(templates, i)
			p, err := trajectory.Marshal(t)
			require.NoError(b, err)
			_, err = tx.Stmt(ins).Exec(i+1, t.ID, string(p))
			require.NoError(b, err)
			if (i+1)%256 == 0 && i+1 < to {
				require.NoError(b, tx.Commit())
				tx, err = base.Begin()
				require.NoError(b, err)
			}
		}
		require.NoError(b, tx.Commit())
		plain += time.Since(start)
		plainCPU += processCPU() - cpu
	}
	b.StopTimer()
	b.ReportMetric(float64(chained.Nanoseconds())/float64(b.N), "ns/op")

	steps := float64(b.N * benchSteps)
	b.ReportMetric(steps/chained.Seconds(), "steps/s")
	b.ReportMetric(steps/plain.Seconds(), "baseline-steps/s")
	b.ReportMetric(plain.Seconds()/chained.Seconds(), "x-baseline")
	// The same ratio in CPU time of the whole process (all its threads):
	// what the store costs, whatever other processes do to the wall clock.
	b.ReportMetric(plainCPU.Seconds()/chainedCPU.Seconds(), "x-baseline-cpu")
	b.ReportMetric(float64(len(payload)), "json-bytes/run")
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// BenchmarkCanonicalize canonicalises a 10-step trajectory's JSON, against
// a baseline of encoding/json.Compact of the same bytes (a validating copy
// without reordering).
func BenchmarkCanonicalize(b *testing.B) {
	raw, err := trajectory.Marshal(sampleRun(1, benchSteps))
	require.NoError(b, err)
	b.SetBytes(int64(len(raw)))
	var canon, compact time.Duration
	var buf bytes.Buffer
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := audit.Canonicalize(raw); err != nil {
			b.Fatal(err)
		}
		canon += time.Since(start)
		start = time.Now()
		buf.Reset()
		if err := json.Compact(&buf, raw); err != nil {
			b.Fatal(err)
		}
		compact += time.Since(start)
	}
	b.ReportMetric(compact.Seconds()/canon.Seconds(), "x-baseline")
}

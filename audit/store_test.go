package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

var ctx = context.Background()

func ids(ts []*trajectory.Trajectory) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func TestAppendGetList(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		s := newEnv(t).open(t)
		runs := []*trajectory.Trajectory{sampleRun(1, 10), sampleRun(2, 3), sampleRun(3, 1)}
		runs[1].Assessments = []trajectory.Assessment{assessment("sync", 0.4)}
		want := make([]string, len(runs))
		for i, r := range runs {
			b, err := trajectory.Marshal(r)
			require.NoError(t, err)
			want[i] = string(b)
			require.NoError(t, s.Append(ctx, r))
		}
		require.NoError(t, s.AppendAssessment(ctx, "run-00002", assessment("later", 0.9)))
		require.NoError(t, s.AppendAssessment(ctx, "run-00003", trajectory.Assessment{Judge: "rrm", Status: trajectory.AssessmentError, Error: "timeout"}))
		require.NoError(t, s.Flush(ctx))

		got, err := s.Get(ctx, "run-00001")
		require.NoError(t, err)
		b, err := trajectory.Marshal(got)
		require.NoError(t, err)
		assert.JSONEq(t, want[0], string(b), "a run reads back exactly as appended")

		got, err = s.Get(ctx, "run-00002")
		require.NoError(t, err)
		require.Len(t, got.Assessments, 2, "the embedded and the later assessment are merged")
		assert.Equal(t, "sync", got.Assessments[0].Judge)
		assert.Equal(t, "later", got.Assessments[1].Judge)
		assert.Equal(t, 0.9, got.Assessments[1].Score)

		_, err = s.Get(ctx, "nope")
		require.ErrorIs(t, err, audit.ErrNotFound)

		all, err := s.List(ctx, audit.Query{})
		require.NoError(t, err)
		assert.Equal(t, []string{"run-00001", "run-00002", "run-00003"}, ids(all))
		assert.Len(t, all[2].Assessments, 1)

		rep, err := s.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, rep.OK, rep.String())
		assert.Equal(t, int64(5), rep.Records)
		assert.Equal(t, int64(3), rep.Runs)
		assert.Equal(t, int64(2), rep.Assessments)
		assert.Equal(t, int64(1), rep.FirstSeq)
		assert.Equal(t, int64(5), rep.LastSeq)
		assert.Len(t, rep.Head, 64)
	})
}

// TestChainIsTheDocumentedHash recomputes every entry hash from the stored
// fields with nothing but SHA-256 and the documented record layout.
func TestChainIsTheDocumentedHash(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		s := newEnv(t).open(t)
		for i := range 3 {
			require.NoError(t, s.Append(ctx, sampleRun(i, 2)))
		}
		require.NoError(t, s.AppendAssessment(ctx, "run-00001", assessment("j", 0.5)))
		require.NoError(t, s.Flush(ctx))
		prev := strings.Repeat("0", 64)
		n := 0
		require.NoError(t, s.Records(ctx, func(r audit.Record) error {
			n++
			assert.Equal(t, int64(n), r.Seq)
			assert.Equal(t, prev, r.PrevHash)
			assert.Equal(t, audit.FormRFC8785, r.Canon)
			rec := fmt.Sprintf(`{"canon":"rfc8785","created_at":%q,"kind":%q,"payload":%s,"run_id":%q,"seq":%d}`, r.CreatedAt, r.Kind, r.Payload, r.RunID, r.Seq)
			canon, err := audit.CanonicalRecord(r)
			require.NoError(t, err)
			assert.Equal(t, rec, string(canon))
			sum := sha256.Sum256([]byte(prev + rec))
			assert.Equal(t, hex.EncodeToString(sum[:]), r.Hash)
			h, err := audit.HashRecord(prev, r)
			require.NoError(t, err)
			assert.Equal(t, r.Hash, h)
			prev = r.Hash
			return nil
		}))
		assert.Equal(t, 4, n)
	})
}

func TestQuery(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		s := newEnv(t).open(t)
		var runs []*trajectory.Trajectory
		for i := range 12 {
			r := sampleRun(i, 2)
			if i%4 == 1 {
				r.Status = trajectory.StatusMaxIterations
			}
			if i%5 == 2 {
				r.Steps[0].Calls[0].Blocked = true
				r.Steps[0].Calls[0].BlockedBy = "egress"
			}
			if i == 7 {
				r.Decisions = []trajectory.Decision{{Guard: "final", Event: trajectory.EventFinalAnswer, Verdict: trajectory.Block}}
			}
			runs = append(runs, r)
			require.NoError(t, s.Append(ctx, r.Clone()))
		}
		scores := map[string]float64{}
		for i, r := range runs {
			if i%3 == 0 {
				continue // no assessment
			}
			sc := float64(i) / 12
			require.NoError(t, s.AppendAssessment(ctx, r.ID, assessment("rrm", sc)))
			scores[r.ID] = sc
			if i == 4 {
				// A later failed judgment does not replace the last OK score.
				require.NoError(t, s.AppendAssessment(ctx, r.ID, trajectory.Assessment{Judge: "rrm", Status: trajectory.AssessmentError, Error: "parse"}))
			}
		}
		require.NoError(t, s.Flush(ctx))

		expect := func(pred func(i int, r *trajectory.Trajectory) bool) []string {
			out := []string{}
			for i, r := range runs {
				if pred(i, r) {
					out = append(out, r.ID)
				}
			}
			return out
		}
		blocked := func(r *trajectory.Trajectory) bool {
			for _, c := range r.ToolCalls() {
				if c.Blocked {
					return true
				}
			}
			return len(r.Decisions) > 0 && r.Decisions[0].Verdict == trajectory.Block
		}
		yes, no := true, false
		cases := []struct {
			name string
			q    audit.Query
			want []string
		}{
			{"status", audit.Query{Status: trajectory.StatusMaxIterations}, expect(func(_ int, r *trajectory.Trajectory) bool { return r.Status == trajectory.StatusMaxIterations })},
			{"since-until", audit.Query{Since: baseTime.Add(3 * time.Second), Until: baseTime.Add(8 * time.Second)}, expect(func(_ int, r *trajectory.Trajectory) bool {
				return !r.StartedAt.Before(baseTime.Add(3*time.Second)) && r.StartedAt.Before(baseTime.Add(8*time.Second))
			})},
			{"min-score", audit.Query{MinScore: score(0.5)}, expect(func(_ int, r *trajectory.Trajectory) bool { sc, ok := scores[r.ID]; return ok && sc >= 0.5 })},
			{"max-score", audit.Query{MaxScore: score(0.3)}, expect(func(_ int, r *trajectory.Trajectory) bool { sc, ok := scores[r.ID]; return ok && sc <= 0.3 })},
			{"blocked", audit.Query{Blocked: &yes}, expect(func(_ int, r *trajectory.Trajectory) bool { return blocked(r) })},
			{"not-blocked", audit.Query{Blocked: &no}, expect(func(_ int, r *trajectory.Trajectory) bool { return !blocked(r) })},
			{"metadata", audit.Query{Metadata: map[string]string{"strategy": "reagent-r", "suite": "gaia"}}, expect(func(_ int, r *trajectory.Trajectory) bool { return r.Metadata["strategy"] == "reagent-r" })},
			{"metadata-miss", audit.Query{Metadata: map[string]string{"suite": "webwalker"}}, []string{}},
			{"run-ids", audit.Query{RunIDs: []string{"run-00003", "run-00009", "missing"}}, []string{"run-00003", "run-00009"}},
			{"last", audit.Query{Last: 3}, expect(func(i int, _ *trajectory.Trajectory) bool { return i >= 9 })},
			{"limit", audit.Query{Limit: 2}, expect(func(i int, _ *trajectory.Trajectory) bool { return i < 2 })},
			{"last-filtered", audit.Query{Last: 2, Status: trajectory.StatusFinished}, func() []string {
				all := expect(func(_ int, r *trajectory.Trajectory) bool { return r.Status == trajectory.StatusFinished })
				return all[len(all)-2:]
			}()},
			{"last-more-than-all", audit.Query{Last: 100}, expect(func(int, *trajectory.Trajectory) bool { return true })},
		}
		for _, c := range cases {
			got, err := s.List(ctx, c.q)
			require.NoError(t, err, c.name)
			assert.Equal(t, c.want, ids(got), c.name)
		}
		got, err := s.List(ctx, audit.Query{RunIDs: []string{"run-00004"}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Len(t, got[0].Assessments, 2)

		// Walk stops at the callback's error.
		n := 0
		stop := fmt.Errorf("enough")
		err = s.Walk(ctx, audit.Query{}, func(*trajectory.Trajectory) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		assert.Equal(t, 3, n)
	})
}

func TestReappendSupersedes(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		s := newEnv(t).open(t)
		first := sampleRun(1, 2)
		require.NoError(t, s.Append(ctx, first))
		require.NoError(t, s.AppendAssessment(ctx, first.ID, assessment("old", 0.1)))
		second := sampleRun(1, 4)
		second.FinalAnswer = "revised"
		second.Assessments = []trajectory.Assessment{assessment("carried", 0.2)}
		require.NoError(t, s.Append(ctx, second))
		require.NoError(t, s.AppendAssessment(ctx, first.ID, assessment("new", 0.8)))
		require.NoError(t, s.Flush(ctx))
		got, err := s.Get(ctx, first.ID)
		require.NoError(t, err)
		assert.Equal(t, "revised", got.FinalAnswer)
		var judges []string
		for _, a := range got.Assessments {
			judges = append(judges, a.Judge)
		}
		assert.Equal(t, []string{"carried", "new"}, judges)
		list, err := s.List(ctx, audit.Query{MinScore: score(0.7)})
		require.NoError(t, err)
		assert.Equal(t, []string{first.ID}, ids(list))
		rep, err := s.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, rep.OK)
		assert.Equal(t, int64(2), rep.Runs, "both versions stay in the chain")
	})
}

func TestAppendRejectsBadInput(t *testing.T) {
	s := newSQLiteEnv(t).open(t)
	require.Error(t, s.Append(ctx, nil))
	err := s.Append(ctx, &trajectory.Trajectory{})
	require.ErrorContains(t, err, "run ID is empty")
	err = s.Append(ctx, &trajectory.Trajectory{ID: "a\x00b"})
	require.ErrorContains(t, err, "control characters")
	err = s.AppendAssessment(ctx, "r", trajectory.Assessment{Score: math.Inf(1)})
	require.ErrorContains(t, err, "assessment of run")
	// A run is serialised off the caller's path: what cannot be encoded is
	// reported by every Flush that covers it, and nothing of it is written.
	nan := math.NaN()
	require.NoError(t, s.Append(ctx, &trajectory.Trajectory{ID: "nan", Decisions: []trajectory.Decision{{Score: &nan}}}))
	for range 2 {
		err := s.Flush(ctx)
		require.ErrorContains(t, err, `run "nan"`)
		var ns *audit.NotStoredError
		require.ErrorAs(t, err, &ns)
		require.Len(t, ns.Records, 1)
		assert.True(t, ns.Records[0].Permanent, "an encoding failure is not tried again")
	}
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Records, "nothing half-written")
}

func TestAppendDoesNotModifyCaller(t *testing.T) {
	s := newSQLiteEnv(t).open(t)
	r := sampleRun(1, 2)
	r.Steps[0].Calls[0].Input = "curl -H 'Authorization: Bearer sk-abcdefghijklmnopqrstuvwxyz012345'"
	before, _ := trajectory.Marshal(r)
	require.NoError(t, s.Append(ctx, r))
	after, _ := trajectory.Marshal(r)
	assert.Equal(t, string(before), string(after))
	require.NoError(t, s.Flush(ctx))
	got, err := s.Get(ctx, r.ID)
	require.NoError(t, err)
	assert.NotContains(t, got.Steps[0].Calls[0].Input, "sk-abcdefghij")
	assert.Contains(t, got.Steps[0].Calls[0].Input, "Bearer [REDACTED:")
}

func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		s := newEnv(t).open(t, audit.WithQueueSize(16), audit.WithBatchSize(8))
		const workers, each = 8, 25
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					r := sampleRun(w*1000+i, 3)
					assert.NoError(t, s.Append(ctx, r))
					assert.NoError(t, s.AppendAssessment(ctx, r.ID, assessment("rrm", 0.5)))
					if i%10 == 0 {
						assert.NoError(t, s.Flush(ctx))
					}
				}
			}()
		}
		wg.Wait()
		require.NoError(t, s.Flush(ctx))
		rep, err := s.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, rep.OK, rep.String())
		assert.Equal(t, int64(workers*each), rep.Runs)
		assert.Equal(t, int64(2*workers*each), rep.Records)
		all, err := s.List(ctx, audit.Query{})
		require.NoError(t, err)
		assert.Len(t, all, workers*each)
		for _, r := range all {
			assert.Len(t, r.Assessments, 1, r.ID)
		}
	})
}

// TestSeveralStoresShareOneChain opens the same database several times, as
// several processes would, and appends through all of them at once.
func TestSeveralStoresShareOneChain(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		const stores, each = 3, 40
		var wg sync.WaitGroup
		for w := range stores {
			s := e.open(t, audit.WithBatchSize(4))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					assert.NoError(t, s.Append(ctx, sampleRun(w*1000+i, 2)))
				}
				assert.NoError(t, s.Close())
			}()
		}
		wg.Wait()
		s := e.open(t)
		rep, err := s.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, rep.OK, rep.String())
		assert.Equal(t, int64(stores*each), rep.Records)
	})
}

func TestCloseFlushes(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		s, err := audit.Open(ctx, e.dsn)
		require.NoError(t, err)
		for i := range 150 {
			require.NoError(t, s.Append(ctx, sampleRun(i, 2)))
		}
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "Close twice is harmless")
		require.ErrorIs(t, s.Append(ctx, sampleRun(999, 1)), audit.ErrClosed)
		require.ErrorIs(t, s.AppendAssessment(ctx, "run-00001", assessment("x", 1)), audit.ErrClosed)
		require.ErrorIs(t, s.Flush(ctx), audit.ErrClosed)

		s2 := e.open(t)
		all, err := s2.List(ctx, audit.Query{})
		require.NoError(t, err)
		assert.Len(t, all, 150)
	})
}

type tamper struct {
	name   string
	do     func(t *testing.T, e *env, recs []audit.Record)
	seq    int64
	reason audit.Reason
}

// tampers are the edits a person with SQL access might make. The chain has
// 8 records: runs 0..3 each followed by an assessment.
var tampers = []tamper{
	{"edit payload", func(t *testing.T, e *env, _ []audit.Record) {
		e.exec(t, `UPDATE audit_records SET payload = replace(payload, 'census', 'survey') WHERE seq = 3`)
	}, 3, audit.ReasonPayloadEdited},
	{"edit payload and its digest", func(t *testing.T, e *env, recs []audit.Record) {
		p := strings.ReplaceAll(string(recs[4].Payload), "census", "survey")
		sum := sha256.Sum256([]byte(p))
		e.exec(t, `UPDATE audit_records SET payload = ?, payload_sha256 = ? WHERE seq = 5`, p, hex.EncodeToString(sum[:]))
	}, 5, audit.ReasonHashMismatch},
	{"edit created_at", func(t *testing.T, e *env, _ []audit.Record) {
		e.exec(t, `UPDATE audit_records SET created_at = '2020-01-01T00:00:00.000000000Z' WHERE seq = 6`)
	}, 6, audit.ReasonHashMismatch},
	{"edit run id", func(t *testing.T, e *env, _ []audit.Record) {
		e.exec(t, `UPDATE audit_records SET run_id = 'someone-else' WHERE seq = 2`)
	}, 2, audit.ReasonHashMismatch},
	{"delete a record", func(t *testing.T, e *env, _ []audit.Record) {
		e.exec(t, `DELETE FROM audit_records WHERE seq = 4`)
	}, 5, audit.ReasonSeqGap},
	{"delete the first record", func(t *testing.T, e *env, _ []audit.Record) {
		e.exec(t, `DELETE FROM audit_records WHERE seq = 1`)
	}, 2, audit.ReasonSeqGap},
	{"delete the last record", func(t *testing.T, e *env, _ []audit.Record) {
		e.exec(t, `DELETE FROM audit_records WHERE seq = 8`)
	}, 8, audit.ReasonTruncated},
	{"swap two records", func(t *testing.T, e *env, _ []audit.Record) {
		e.exec(t, `UPDATE audit_records SET seq = -3 WHERE seq = 3`)
		e.exec(t, `UPDATE audit_records SET seq = 3 WHERE seq = 4`)
		e.exec(t, `UPDATE audit_records SET seq = 4 WHERE seq = -3`)
	}, 3, audit.ReasonLinkBroken},
	{"relink", func(t *testing.T, e *env, recs []audit.Record) {
		e.exec(t, `UPDATE audit_records SET prev_hash = ? WHERE seq = 7`, recs[4].Hash)
	}, 7, audit.ReasonLinkBroken},
	{"rewrite hash", func(t *testing.T, e *env, _ []audit.Record) {
		e.exec(t, `UPDATE audit_records SET hash = ? WHERE seq = 2`, strings.Repeat("ab", 32))
	}, 2, audit.ReasonHashMismatch},
	{"unknown kind", func(t *testing.T, e *env, _ []audit.Record) {
		e.exec(t, `UPDATE audit_records SET kind = 'note' WHERE seq = 2`)
	}, 2, audit.ReasonBadRecord},
}

func TestVerifyCatchesTampering(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		for _, tc := range tampers {
			t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
				e := newEnv(t)
				s := e.open(t)
				for i := range 4 {
					r := sampleRun(i, 2)
					require.NoError(t, s.Append(ctx, r))
					require.NoError(t, s.AppendAssessment(ctx, r.ID, assessment("rrm", 0.5)))
				}
				require.NoError(t, s.Flush(ctx))
				var recs []audit.Record
				require.NoError(t, s.Records(ctx, func(r audit.Record) error { recs = append(recs, r); return nil }))
				require.Len(t, recs, 8)
				rep, err := s.Verify(ctx)
				require.NoError(t, err)
				require.True(t, rep.OK)

				tc.do(t, e, recs)
				rep, err = s.Verify(ctx)
				require.NoError(t, err)
				assert.False(t, rep.OK)
				require.NotNil(t, rep.Break)
				assert.Equal(t, tc.reason, rep.Break.Reason, rep.Break.Error())
				assert.Equal(t, tc.seq, rep.Break.Seq, rep.Break.Error())
				assert.Contains(t, rep.String(), fmt.Sprintf("seq %d", tc.seq))
			})
		}
	})
}

func TestPrune(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		var now atomic.Int64
		day := func(d int) time.Time { return baseTime.AddDate(0, 0, d) }
		setDay := func(d int) { now.Store(day(d).UnixNano()) }
		s := newEnv(t).open(t, audit.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
		for i := range 10 {
			setDay(i + 1)
			require.NoError(t, s.Append(ctx, sampleRun(i, 2)))
			require.NoError(t, s.Flush(ctx))
		}
		setDay(11)
		require.NoError(t, s.AppendAssessment(ctx, "run-00002", assessment("late", 0.7)))
		require.NoError(t, s.Flush(ctx))

		// Nothing is older than day 1.
		rep, err := s.Prune(ctx, day(1))
		require.NoError(t, err)
		assert.Zero(t, rep.RemovedRecords)
		assert.Zero(t, rep.CheckpointSeq)

		// Runs 0..4 were stored before day 6, but run 2 was judged on day 11:
		// it and everything after its first record stay.
		setDay(12)
		rep, err = s.Prune(ctx, day(6))
		require.NoError(t, err)
		assert.Equal(t, audit.PruneReport{RemovedRuns: 2, RemovedRecords: 2, PrunedThrough: 2, CheckpointSeq: 12, KeptOlderRuns: 2}, rep)
		v, err := s.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, v.OK, v.String())
		assert.Equal(t, int64(2), v.PrunedThrough)
		assert.Equal(t, int64(3), v.FirstSeq)
		assert.Equal(t, int64(1), v.Checkpoints)
		_, err = s.Get(ctx, "run-00000")
		require.ErrorIs(t, err, audit.ErrNotFound)
		got, err := s.Get(ctx, "run-00002")
		require.NoError(t, err)
		assert.Len(t, got.Assessments, 1)
		all, err := s.List(ctx, audit.Query{})
		require.NoError(t, err)
		assert.Len(t, all, 8)
		meta, err := s.List(ctx, audit.Query{Metadata: map[string]string{"suite": "gaia"}})
		require.NoError(t, err)
		assert.Len(t, meta, 8)

		// Appends go on after a prune, and a second prune removes the first
		// checkpoint too.
		setDay(13)
		require.NoError(t, s.Append(ctx, sampleRun(10, 1)))
		require.NoError(t, s.Flush(ctx))
		setDay(20)
		rep, err = s.Prune(ctx, day(14))
		require.NoError(t, err)
		assert.Equal(t, int64(13), rep.PrunedThrough)
		assert.Equal(t, int64(9), rep.RemovedRuns)
		v, err = s.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, v.OK, v.String())
		assert.Equal(t, int64(1), v.Records, "only the new checkpoint is left")
		all, err = s.List(ctx, audit.Query{})
		require.NoError(t, err)
		assert.Empty(t, all)
		require.NoError(t, s.Append(ctx, sampleRun(11, 1)))
		require.NoError(t, s.Flush(ctx))
		v, err = s.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, v.OK, v.String())
		assert.Equal(t, int64(2), v.Records)

		_, err = s.Prune(ctx, time.Time{})
		require.Error(t, err)
	})
}

// TestPruneCheckpointIsChecked edits the checkpoint that vouches for pruned
// records: Verify must not accept the pruned prefix any more.
func TestPruneCheckpointIsChecked(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		var now atomic.Int64
		e := newEnv(t)
		s := e.open(t, audit.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
		for i := range 4 {
			now.Store(baseTime.AddDate(0, 0, i).UnixNano())
			require.NoError(t, s.Append(ctx, sampleRun(i, 1)))
			require.NoError(t, s.Flush(ctx))
		}
		rep, err := s.Prune(ctx, baseTime.AddDate(0, 0, 2))
		require.NoError(t, err)
		require.Equal(t, int64(5), rep.CheckpointSeq)
		var cp audit.Checkpoint
		require.NoError(t, s.Records(ctx, func(r audit.Record) error {
			if r.Kind == audit.KindCheckpoint {
				return json.Unmarshal(r.Payload, &cp)
			}
			return nil
		}))
		assert.Equal(t, int64(2), cp.PrunedThroughSeq)
		e.exec(t, `UPDATE audit_records SET payload = replace(payload, '"pruned_through_seq":2', '"pruned_through_seq":1') WHERE seq = 5`)
		v, err := s.Verify(ctx)
		require.NoError(t, err)
		require.False(t, v.OK)
		assert.Equal(t, audit.ReasonSeqGap, v.Break.Reason, v.String())
		assert.Equal(t, int64(3), v.Break.Seq)
	})
}

func TestRecordsAreOrdered(t *testing.T) {
	s := newSQLiteEnv(t).open(t)
	for i := range 5 {
		require.NoError(t, s.Append(ctx, sampleRun(i, 1)))
	}
	require.NoError(t, s.Flush(ctx))
	var seqs []int64
	require.NoError(t, s.Records(ctx, func(r audit.Record) error {
		seqs = append(seqs, r.Seq)
		_, err := r.Time()
		return err
	}))
	assert.True(t, slices.IsSorted(seqs))
	assert.Len(t, seqs, 5)
}

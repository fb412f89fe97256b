//go:build faults

package faults

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// TestJudgeOutages judges runs against an OpenAI-compatible judge that
// answers, in turn, 429 with a day-long Retry-After, 500, garbage, a reply
// that never comes, and a good judgment. Each judgment runs under a
// deadline; each run and its assessment are stored. A failed judgment is an
// error assessment, never a score; every acknowledged run has its
// assessment.
func TestJudgeOutages(t *testing.T) {
	var n atomic.Int64
	srv := llmtest.NewFunc(t, func(llmtest.Request) llmtest.Reply {
		switch n.Add(1) % 5 {
		case 0:
			return llmtest.Reply{Status: 429, RetryAfter: "86400"}
		case 1:
			return llmtest.Reply{Status: 500}
		case 2:
			return llmtest.Reply{Content: "I think it is fine, maybe 7/10?"}
		case 3:
			return llmtest.Reply{Delay: time.Hour, Content: "never sent"}
		default:
			return llmtest.Reply{Content: "<think>ok</think><critique>Fine.</critique><score>0.75</score>"}
		}
	})
	judge := rrm.NewOpenAI(rrm.WithBaseURL(srv.URL), rrm.WithAPIKey("k"), rrm.WithModel("judge"),
		rrm.WithRetries(2), rrm.WithBackoff(10*time.Millisecond, 50*time.Millisecond), rrm.WithCache(nil),
		rrm.WithTimeout(300*time.Millisecond), rrm.WithLogger(slog.New(slog.DiscardHandler)))
	path := filepath.Join(t.TempDir(), "judged.db")
	s, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	tl := newTally()
	statuses := map[trajectory.AssessmentStatus]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	const workers, each = 8, 25
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pending []string
			for i := range each {
				r := run(fmt.Sprintf("judged-w%d-%03d", w, i), 2)
				ctx, cancel := context.WithTimeout(bg, time.Second)
				a := judge.Judge(ctx, r)
				cancel()
				if !a.OK() && a.Error == "" {
					t.Errorf("run %s: a failed judgment without a reason", r.ID)
				}
				mu.Lock()
				statuses[a.Status]++
				mu.Unlock()
				r.Assessments = append(r.Assessments, a)
				if err := s.Append(bg, r); err != nil {
					t.Error(err)
					continue
				}
				pending = append(pending, r.ID)
				if err := s.Flush(bg); err == nil {
					tl.ack(pending)
					pending = nil
				}
			}
			tl.add(each, 0)
		}()
	}
	wg.Wait()
	require.NoError(t, s.Close())
	s2, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	for id := range tl.acked {
		got, err := s2.Get(bg, id)
		require.NoError(t, err)
		require.Len(t, got.Assessments, 1, id)
		a := got.Assessments[0]
		require.True(t, a.OK() || (a.Status == trajectory.AssessmentError && a.Score == 0 && a.Error != ""), "%s: %+v", id, a)
	}
	require.NoError(t, s2.Close())
	require.Positive(t, statuses[trajectory.AssessmentError])
	tl.note("judgments: %d ok, %d error assessments (429 day-long Retry-After, 500, garbage, hang; each under a 1 s deadline)",
		statuses[trajectory.AssessmentOK], statuses[trajectory.AssessmentError])
	tl.check(t, "judge-outages", path)
}

// TestLoad appends 16,000 runs from 8 goroutines, flushing every 100, and
// reports the rate (not asserted).
func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "load.db")
	s, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	tl := newTally()
	const workers, each = 8, 2000
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writer(s, tl, fmt.Sprintf("load-w%d", w), each, 100, time.Minute, nil, nil)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	require.NoError(t, s.Close())
	tl.note("%.0f runs/s (3 steps each, redaction on, one store, 8 goroutines)", float64(tl.attempted)/elapsed.Seconds())
	tl.check(t, "load", path)
	require.Len(t, tl.acked, workers*each)
}

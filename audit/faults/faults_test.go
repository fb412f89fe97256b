//go:build faults

// Package faults is the audit trail's fault suite: writers killed with
// SIGKILL, several processes on one SQLite file, several PostgreSQL writers
// through a server restart, an outage and a hang, a full disk, judge
// outages and load. Every scenario prints the runs attempted, acknowledged
// (covered by a Flush that returned nil) and found afterwards, and the
// chain's verdict, and fails if an acknowledged run is missing or the chain
// does not verify. Run it with scripts/audit-faults.sh (or go test -tags
// faults -v ./audit/faults/); it needs root (or the postgres user's
// binaries) for its private PostgreSQL server and its tmpfs.
package faults

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

var bg = context.Background()

// run builds a small but realistic run: a task, steps with a thought, a
// tool call and an observation, metadata, and a secret to be redacted.
func run(id string, steps int) *trajectory.Trajectory {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	t := &trajectory.Trajectory{ID: id, Task: "Compare the census figures of " + id, Agent: "react", Model: "m",
		Status: trajectory.StatusFinished, StartedAt: t0, EndedAt: t0.Add(time.Second),
		Metadata: map[string]string{"suite": "faults", "\U0001F600": "non-BMP key"}}
	for s := range steps {
		t.Steps = append(t.Steps, trajectory.Step{Index: s, Thought: strings.Repeat("I should check the table. ", 4),
			Calls: []trajectory.ToolCall{{ID: fmt.Sprint(s), Tool: "search", Input: "census " + id,
				Observation: strings.Repeat("The census counted 100000 residents. ", 6) + "token sk-abcdefghijklmnopqrstuvwxyz012345"}}})
	}
	t.FinalAnswer = "done"
	return t
}

// tally is what a scenario reports.
type tally struct {
	mu        sync.Mutex
	attempted int
	refused   int // Append returned an error: not handed over, not stored
	acked     map[string]bool
	notes     []string
}

func newTally() *tally { return &tally{acked: map[string]bool{}} }

func (t *tally) ack(ids []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		t.acked[id] = true
	}
}

func (t *tally) add(attempted, refused int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.attempted += attempted
	t.refused += refused
}

func (t *tally) note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// check opens dsn, finds every acknowledged run, verifies the chain and
// prints the scenario's line.
func (t *tally) check(tb testing.TB, name, dsn string) {
	tb.Helper()
	s, err := audit.Open(bg, dsn, audit.WithCreate(false))
	require.NoError(tb, err)
	defer s.Close()
	stored := map[string]bool{}
	require.NoError(tb, s.Records(bg, func(r audit.Record) error {
		if r.Kind == audit.KindTrajectory {
			stored[r.RunID] = true
		}
		return nil
	}))
	found := 0
	var lost []string
	for id := range t.acked {
		if stored[id] {
			found++
		} else {
			lost = append(lost, id)
		}
	}
	rep, err := s.Verify(bg)
	require.NoError(tb, err)
	verdict := "intact"
	if !rep.OK {
		verdict = rep.String()
	}
	line := fmt.Sprintf("fault %-22s attempted %6d  acknowledged %6d  found %6d/%d  in database %6d  chain %s (%d records)",
		name, t.attempted, len(t.acked), found, len(t.acked), len(stored), verdict, rep.Records)
	if t.refused > 0 {
		line += fmt.Sprintf("  refused at the deadline %d", t.refused)
	}
	for _, n := range t.notes {
		line += "; " + n
	}
	fmt.Println(line)
	require.Empty(tb, lost, "acknowledged runs lost")
	require.True(tb, rep.OK, rep.String())
}

// writer appends runs named prefix-00000… to s, n of them or, when stop is
// not nil, until it is closed; each Append and Flush runs under its own
// deadline, and it flushes every flushEvery runs; a Flush that returns nil
// acknowledges every run it covers. onFail is called after a failed Flush.
// A last Flush is retried until it succeeds or tries run out.
func writer(s audit.Store, t *tally, prefix string, n, flushEvery int, deadline time.Duration, stop <-chan struct{}, onFail func(err error)) {
	var pending []string
	attempted, refused := 0, 0
	flush := func() error {
		c, cancel := context.WithTimeout(bg, deadline)
		err := s.Flush(c)
		cancel()
		if err == nil {
			t.ack(pending)
			pending = nil
		} else if onFail != nil {
			onFail(err)
		}
		return err
	}
	for i := 0; ; i++ {
		if stop == nil && i >= n {
			break
		}
		if stop != nil {
			select {
			case <-stop:
				n = -1
			default:
			}
			if n < 0 {
				break
			}
		}
		id := fmt.Sprintf("%s-%05d", prefix, i)
		attempted++
		c, cancel := context.WithTimeout(bg, deadline)
		err := s.Append(c, run(id, 3))
		cancel()
		if err != nil {
			refused++
			continue
		}
		pending = append(pending, id)
		if (i+1)%flushEvery == 0 {
			_ = flush()
		}
	}
	for try := 0; try < 20 && len(pending) > 0; try++ {
		if flush() == nil {
			break
		}
	}
	t.add(attempted, refused)
}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

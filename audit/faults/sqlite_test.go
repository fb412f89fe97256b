//go:build faults

package faults

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
)

const helperEnv = "REAGENT_FAULTS_HELPER"

// helperMain is the child writer process: it appends runs to the SQLite
// file REAGENT_FAULTS_DB, flushes every REAGENT_FAULTS_EVERY runs, and
// prints "try ID" (unbuffered) before each Append and "ack ID" for every run
// a nil Flush covered.
func helperMain() int {
	path := os.Getenv("REAGENT_FAULTS_DB")
	prefix := os.Getenv("REAGENT_FAULTS_PREFIX")
	count, _ := strconv.Atoi(os.Getenv("REAGENT_FAULTS_COUNT"))
	every, _ := strconv.Atoi(os.Getenv("REAGENT_FAULTS_EVERY"))
	s, err := audit.OpenSQLite(path, audit.WithBatchSize(16))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 3
	}
	out := bufio.NewWriter(os.Stdout)
	var pending []string
	for i := range count {
		id := fmt.Sprintf("%s-%06d", prefix, i)
		fmt.Fprintln(os.Stdout, "try", id)
		if err := s.Append(context.Background(), run(id, 3)); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			return 4
		}
		pending = append(pending, id)
		if (i+1)%every != 0 && i != count-1 {
			continue
		}
		if err := s.Flush(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "flush:", err)
			continue
		}
		for _, id := range pending {
			fmt.Fprintln(out, "ack", id)
		}
		pending = nil
		out.Flush()
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		return 6
	}
	return 0
}

// child starts a writer process and returns a channel of the IDs it
// acknowledges, closed when its output ends; the runs it tries count as
// attempted in tl.
func child(t *testing.T, tl *tally, path, prefix string, count, every int) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "REAGENT_FAULTS_DB="+path, "REAGENT_FAULTS_PREFIX="+prefix,
		"REAGENT_FAULTS_COUNT="+strconv.Itoa(count), "REAGENT_FAULTS_EVERY="+strconv.Itoa(every))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	acks := make(chan string, 1024)
	go func() {
		defer close(acks)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				acks <- id
			} else if strings.HasPrefix(sc.Text(), "try ") {
				tl.add(1, 0)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	return cmd, acks
}

// TestSigkillWriter kills a writing process with SIGKILL three times over
// on one database, each time once it has acknowledged 150 more runs.
func TestSigkillWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sigkill.db")
	tl := newTally()
	for round := range 3 {
		cmd, acks := child(t, tl, path, fmt.Sprintf("kill%d", round), 1_000_000, 5)
		n := 0
		for id := range acks {
			tl.ack([]string{id})
			if n++; n == 150 {
				break
			}
		}
		require.Equal(t, 150, n, "the writer stopped early")
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		for id := range acks { // acknowledgements already printed before the kill
			tl.ack([]string{id})
		}
		err := cmd.Wait()
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr)
		require.Equal(t, syscall.SIGKILL, exitErr.Sys().(syscall.WaitStatus).Signal())
	}
	tl.note("3 writers killed with SIGKILL mid-append")
	tl.check(t, "sigkill-writer", path)
}

// TestMultiProcessSQLite runs three writer processes on one file at once.
func TestMultiProcessSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	tl := newTally()
	const procs, each = 3, 600
	var wg sync.WaitGroup
	var cmds []*exec.Cmd
	for p := range procs {
		cmd, acks := child(t, tl, path, fmt.Sprintf("proc%d", p), each, 10)
		cmds = append(cmds, cmd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range acks {
				tl.ack([]string{id})
			}
		}()
	}
	wg.Wait()
	for _, c := range cmds {
		require.NoError(t, c.Wait())
	}
	tl.check(t, "multi-process-sqlite", path)
	require.Len(t, tl.acked, procs*each, "every run of a process that exited cleanly is acknowledged")
}

// TestFullDisk puts the database on a 2 MiB tmpfs that a filler file then
// fills: writes fail with SQLITE_FULL, Flush reports the runs, nothing
// acknowledged is lost, and once space is freed the next Flush stores the
// runs that had failed.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a 2 MiB tmpfs (needs root; this scenario uses a real full file system): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	path := filepath.Join(dir, "full.db")
	s, err := audit.OpenSQLite(path, audit.WithBatchSize(8), audit.WithLinger(0))
	require.NoError(t, err)
	tl := newTally()
	// Fill most of the disk, leaving room for some runs.
	filler := filepath.Join(dir, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, 1200<<10), 0o600))

	var failures int
	var firstErr error
	var pending []string
	attempted := 0
	for i := 0; failures < 10 && i < 10_000; i++ {
		id := fmt.Sprintf("full-%05d", i)
		attempted++
		require.NoError(t, s.Append(bg, run(id, 2)))
		pending = append(pending, id)
		if (i+1)%4 != 0 {
			continue
		}
		err := s.Flush(bg)
		if err == nil {
			if failures > 0 {
				t.Fatalf("Flush returned nil on a full disk after failures")
			}
			tl.ack(pending)
			pending = nil
			continue
		}
		failures++
		if firstErr == nil {
			firstErr = err
		}
		var ns *audit.NotStoredError
		require.ErrorAs(t, err, &ns)
		named := ns.RunIDs()
		require.NotEmpty(t, named)
		require.Subset(t, pending, named, "only runs not acknowledged before are named")
		// Every run not yet stored is named: one that is not was committed
		// before the disk filled (how the writer batched the runs decides
		// which), so it must be in the database.
		var still []string
		for _, id := range pending {
			if slices.Contains(named, id) {
				still = append(still, id)
				continue
			}
			_, err := s.Get(bg, id)
			require.NoError(t, err, "run %s is not named by the failed Flush, so it must be stored", id)
			tl.ack([]string{id})
		}
		pending = still
	}
	require.Equal(t, 10, failures, "the disk never filled")
	require.Contains(t, firstErr.Error(), "disk is full")
	tl.add(attempted, 0)
	tl.note("%d runs not stored while the disk was full (%d failed Flushes naming them; first: %.80s…)", len(pending), failures, firstErr.Error())

	require.NoError(t, os.Remove(filler))
	require.NoError(t, s.Flush(bg), "after space is freed the failed runs are stored")
	tl.ack(pending)
	require.NoError(t, s.Close())
	tl.note("all stored after space was freed")
	tl.check(t, "full-disk", path)
}

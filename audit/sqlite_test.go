package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/trajectory"
)

const helperEnv = "REAGENT_AUDIT_HELPER"

// TestHelperWriter is not a test: it is the child process of the crash and
// multi-process tests, which re-execute the test binary with helperEnv set.
func TestHelperWriter(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process for TestCrashLosesOnlyTheTail and TestTwoProcessesOneChain; runs only as their child")
	}
	path := os.Getenv("REAGENT_AUDIT_DB")
	first, _ := strconv.Atoi(os.Getenv("REAGENT_AUDIT_FIRST"))
	count, _ := strconv.Atoi(os.Getenv("REAGENT_AUDIT_COUNT"))
	s, err := audit.OpenSQLite(path, audit.WithBatchSize(8))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := first; i < first+count; i++ {
		if err := s.Append(context.Background(), sampleRun(i, 10)); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(4)
		}
		if mode == "crash" && (i-first)%5 == 4 {
			if err := s.Flush(context.Background()); err != nil {
				fmt.Fprintln(os.Stderr, "flush:", err)
				os.Exit(5)
			}
			fmt.Fprintf(out, "flushed %d\n", i)
			out.Flush()
		}
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		os.Exit(6)
	}
	os.Exit(0)
}

func helper(t *testing.T, mode, path string, first, count int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "REAGENT_AUDIT_DB="+path,
		"REAGENT_AUDIT_FIRST="+strconv.Itoa(first), "REAGENT_AUDIT_COUNT="+strconv.Itoa(count))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t.Cleanup(func() {
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("helper stderr: %s", stderr.String())
		}
	})
	return cmd
}

// TestCrashLosesOnlyTheTail kills a writing process with SIGKILL in the
// middle of its appends, three times over on one database: what it had
// flushed is there, what is there is complete, and the chain verifies.
func TestCrashLosesOnlyTheTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer raw.Close()
	onDisk := func() int {
		var n int
		if err := raw.QueryRow(`SELECT COUNT(*) FROM audit_records`).Scan(&n); err != nil {
			return -1 // not created yet
		}
		return n
	}
	first := 0
	for round := range 3 {
		cmd := helper(t, "crash", path, first, 1_000_000)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		flushed := -1
		sc := bufio.NewScanner(stdout)
		for flushed < first+30 && sc.Scan() {
			_, err := fmt.Sscanf(sc.Text(), "flushed %d", &flushed)
			require.NoError(t, err, "helper said %q", sc.Text())
		}
		require.GreaterOrEqual(t, flushed, first+30, "the helper stopped early")
		// Wait until the writer has committed past the last flush, so the
		// kill lands while batches are being written.
		for i := 0; i < 10_000 && onDisk() <= flushed+1; i++ {
			time.Sleep(100 * time.Microsecond)
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err = cmd.Wait()
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr)
		require.Equal(t, syscall.SIGKILL, exitErr.Sys().(syscall.WaitStatus).Signal())

		s, err := audit.OpenSQLite(path)
		require.NoError(t, err)
		rep, err := s.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, rep.OK, rep.String())
		all, err := s.List(ctx, audit.Query{})
		require.NoError(t, err)
		require.Greater(t, len(all), flushed, "every flushed run survives")
		t.Logf("round %d: flushed through run %d, %d runs on disk after SIGKILL", round, flushed, len(all))
		for i, got := range all {
			// One appender and an ordered queue: what survives is a prefix,
			// and each run is whole.
			want, err := trajectory.Marshal(sampleRun(i, 10))
			require.NoError(t, err)
			have, err := trajectory.Marshal(got)
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(have), "run %d", i)
		}
		require.NoError(t, s.Close())
		first = len(all)
	}
}

// TestTwoProcessesOneChain runs two writer processes on one file at once.
func TestTwoProcessesOneChain(t *testing.T) {
	// Neither child finds the file: they also race to create it.
	path := filepath.Join(t.TempDir(), "shared.db")
	const each = 150
	a := helper(t, "write", path, 0, each)
	b := helper(t, "write", path, 10_000, each)
	require.NoError(t, a.Start())
	require.NoError(t, b.Start())
	require.NoError(t, a.Wait())
	require.NoError(t, b.Wait())

	s, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	defer s.Close()
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
	assert.Equal(t, int64(2*each), rep.Runs)
	// Batches of the two processes interleave in one chain.
	var owners []bool
	require.NoError(t, s.Records(ctx, func(r audit.Record) error {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.RunID, "run-"))
		owners = append(owners, n >= 10_000)
		return nil
	}))
	switches := 0
	for i := 1; i < len(owners); i++ {
		if owners[i] != owners[i-1] {
			switches++
		}
	}
	t.Logf("the two writers took turns %d times", switches)
}

// TestSQLiteFileSettings checks what a new file is made with: WAL and
// 16 KiB pages.
func TestSQLiteFileSettings(t *testing.T) {
	e := newSQLiteEnv(t)
	e.open(t)
	var mode string
	var page int
	require.NoError(t, e.raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	require.NoError(t, e.raw.QueryRow(`PRAGMA page_size`).Scan(&page))
	assert.Equal(t, "wal", mode)
	assert.Equal(t, 16384, page)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()

	_, err := audit.OpenSQLite(filepath.Join(dir, "no", "such", "dir", "a.db"))
	require.ErrorContains(t, err, "does not exist; create it first")

	_, err = audit.OpenSQLite("")
	require.Error(t, err)

	_, err = audit.OpenSQLite(dir)
	require.ErrorContains(t, err, "is a directory")

	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte("these are my notes, not a database\n"), 0o644))
	_, err = audit.OpenSQLite(text)
	require.ErrorContains(t, err, "is not a SQLite database")

	missing := filepath.Join(dir, "missing.db")
	_, err = audit.OpenSQLite(missing, audit.WithCreate(false))
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, statErr := os.Stat(missing)
	require.ErrorIs(t, statErr, fs.ErrNotExist, "a missing database is not created")

	empty := filepath.Join(dir, "empty.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	_, err = audit.OpenSQLite(empty, audit.WithCreate(false))
	require.ErrorContains(t, err, "not a reagent audit database")

	other := newSQLiteEnv(t)
	other.exec(t, `CREATE TABLE invoices (id INTEGER PRIMARY KEY)`)
	_, err = audit.OpenSQLite(other.dsn)
	require.ErrorContains(t, err, "not a reagent audit database (tables: invoices)")

	newer := newSQLiteEnv(t)
	s := newer.open(t)
	require.NoError(t, s.Close())
	newer.exec(t, `UPDATE audit_meta SET value = '99' WHERE key = 'schema_version'`)
	_, err = audit.OpenSQLite(newer.dsn)
	require.ErrorContains(t, err, "newer reagent (schema version 99")

	_, err = audit.Open(ctx, "")
	require.Error(t, err)
}

// TestCorruptDatabase damages a real database file two ways: its schema
// page, which Open reports, and its data pages, which Verify reports.
func TestCorruptDatabase(t *testing.T) {
	build := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "audit.db")
		s, err := audit.OpenSQLite(path)
		require.NoError(t, err)
		for i := range 60 {
			require.NoError(t, s.Append(ctx, sampleRun(i, 10)))
		}
		require.NoError(t, s.Close())
		return path
	}
	garble := func(t *testing.T, path string, off int64, n int) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		require.NoError(t, err)
		defer f.Close()
		junk := bytes.Repeat([]byte{0xA5, 0x5A, 0xFF, 0x00}, n/4)
		_, err = f.WriteAt(junk, off)
		require.NoError(t, err)
	}

	t.Run("schema page", func(t *testing.T) {
		path := build(t)
		garble(t, path, 100, 3900) // page 1 after the file header
		_, err := audit.OpenSQLite(path)
		require.Error(t, err)
		assert.Regexp(t, "corrupt|not a SQLite database|malformed", err.Error())
	})
	t.Run("data pages", func(t *testing.T) {
		path := build(t)
		st, err := os.Stat(path)
		require.NoError(t, err)
		garble(t, path, st.Size()/2, 8192)
		s, err := audit.OpenSQLite(path)
		if err != nil {
			assert.Regexp(t, "corrupt|malformed", err.Error())
			return
		}
		defer s.Close()
		_, err = s.Verify(ctx)
		require.Error(t, err)
		assert.Regexp(t, "damaged|corrupt|malformed", err.Error())
	})
}

// secretRun plants secrets in many fields of a run.
func secretRun(id string, secrets map[string]string) *trajectory.Trajectory {
	r := sampleRun(1, 3)
	r.ID = id
	r.Task = "call the API with key " + secrets["openai"]
	r.Steps[0].LLMCalls[0].Messages = append(r.Steps[0].LLMCalls[0].Messages,
		trajectory.Message{Role: "user", Content: "Authorization: Bearer " + secrets["bearer"]})
	r.Steps[0].Calls[0].Input = `{"url":"https://admin:` + secrets["urlpass"] + `@api.example.com/v1"}`
	r.Steps[1].Calls[0].Observation = "X-Custom-Header echoed: " + secrets["registered"]
	r.Steps[1].Thought = "the employee is " + secrets["user"]
	r.Metadata["deploy"] = "aws " + secrets["aws"]
	r.Decisions = []trajectory.Decision{{Guard: "egress", Verdict: trajectory.Block, Reason: "leaks " + secrets["registered"]}}
	return r
}

func TestNoSecretReachesDisk(t *testing.T) {
	secrets := map[string]string{
		"openai":     "sk-proj-Zq8Xw1Yv2Ut3Sr4Qp5On6Ml7",
		"bearer":     "tok.Abc123-Def456_Ghi789",
		"urlpass":    "Pa55w0rdInUrl",
		"registered": "hdr-value-from-env-9f8e7d",
		"user":       "EMP-443322",
		"aws":        "AKIAQ3EGRSWBYEXD4K7Q",
		"assessment": "ghp_0123456789abcdefghijABCDEFGHIJ012345",
	}
	red, err := redact.New(redact.WithPattern("employee", `EMP-\d{6}`))
	require.NoError(t, err)
	e := newSQLiteEnv(t)
	s := e.open(t, audit.WithRedactor(red))
	// A tool registers the header value it read from the environment after
	// the store was opened.
	red.AddSecrets(secrets["registered"])
	require.NoError(t, s.Append(ctx, secretRun("run-secret", secrets)))
	a := assessment("rrm", 0.3)
	a.Critique = "you pasted " + secrets["assessment"]
	require.NoError(t, s.AppendAssessment(ctx, "run-secret", a))
	require.NoError(t, s.Flush(ctx))

	dir := filepath.Dir(e.dsn)
	grep := func(when string) {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, ent := range entries {
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			require.NoError(t, err)
			for name, sec := range secrets {
				assert.False(t, bytes.Contains(b, []byte(sec)), "%s: secret %s found in %s", when, name, ent.Name())
			}
		}
	}
	grep("while open (WAL)")
	got, err := s.Get(ctx, "run-secret")
	require.NoError(t, err)
	assert.Contains(t, got.Task, "[REDACTED:openai-key]")
	assert.Contains(t, got.Steps[1].Thought, "[REDACTED:employee]")
	assert.Contains(t, got.Steps[1].Calls[0].Observation, "[REDACTED:secret]")
	assert.Contains(t, got.Assessments[0].Critique, "[REDACTED:github-token]")
	require.NoError(t, s.Close())
	grep("after close")
	rep := func() audit.VerifyReport {
		s2 := e.open(t)
		r, err := s2.Verify(ctx)
		require.NoError(t, err)
		return r
	}()
	assert.True(t, rep.OK)
}

func TestRedactionCanBeTurnedOff(t *testing.T) {
	s := newSQLiteEnv(t).open(t, audit.WithRedactor(nil))
	r := sampleRun(1, 2)
	r.Task = "sk-abcdefghijklmnopqrstuvwxyz"
	require.NoError(t, s.Append(ctx, r))
	require.NoError(t, s.Flush(ctx))
	got, err := s.Get(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, r.Task, got.Task)
}

// TestQueueFullBlocks holds SQLite's write lock from another connection so
// the writer cannot drain; Append then blocks until its context ends, and
// nothing it accepted is lost once the lock is released.
func TestQueueFullBlocks(t *testing.T) {
	e := newSQLiteEnv(t)
	s := e.open(t, audit.WithQueueSize(2), audit.WithBatchSize(1), audit.WithBusyTimeout(time.Minute))
	conn, err := e.raw.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `BEGIN IMMEDIATE`)
	require.NoError(t, err)

	accepted := 0
	var full error
	for i := range 10 {
		c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := s.Append(c, sampleRun(i, 1))
		cancel()
		if err != nil {
			full = err
			break
		}
		accepted++
	}
	require.Error(t, full, "the queue never filled")
	assert.ErrorIs(t, full, context.DeadlineExceeded)
	assert.Contains(t, full.Error(), "queue full")
	assert.LessOrEqual(t, accepted, 3, "queue of 2 plus the one batch in flight")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, s.Append(cancelled, sampleRun(99, 1)), context.Canceled)
	require.ErrorIs(t, s.Flush(cancelled), context.Canceled)

	_, err = conn.ExecContext(ctx, `ROLLBACK`)
	require.NoError(t, err)
	require.NoError(t, s.Flush(ctx))
	all, err := s.List(ctx, audit.Query{})
	require.NoError(t, err)
	assert.Len(t, all, accepted, "every accepted run was written")
}

// TestWriteFailureIsReported makes the database refuse inserts under the
// writer (a trigger: a real failure of the SQLite engine): the failure
// reaches every Flush that covers the run, not only the next, until a later
// try stores it; the store keeps working meanwhile.
func TestWriteFailureIsReported(t *testing.T) {
	e := newSQLiteEnv(t)
	var logs bytes.Buffer
	s := e.open(t, audit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, s.Append(ctx, sampleRun(1, 1)))
	require.NoError(t, s.Flush(ctx))
	e.exec(t, `CREATE TRIGGER refuse BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'disk says no'); END`)
	require.NoError(t, s.Append(ctx, sampleRun(2, 1)))
	for range 2 {
		err := s.Flush(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `trajectory record of run "run-00002" was not stored`)
		assert.Contains(t, err.Error(), "disk says no")
		var ns *audit.NotStoredError
		require.ErrorAs(t, err, &ns)
		assert.Equal(t, []string{"run-00002"}, ns.RunIDs())
		assert.False(t, ns.Records[0].Permanent)
	}
	assert.Contains(t, logs.String(), "audit write failed")
	assert.Contains(t, logs.String(), "run=run-00002")
	e.exec(t, `DROP TRIGGER refuse`)
	require.NoError(t, s.Append(ctx, sampleRun(3, 1)))
	require.NoError(t, s.Flush(ctx), "the failed run is stored on the next try")

	// One bad record in a batch does not sink the others.
	e.exec(t, `CREATE TRIGGER refuse_one BEFORE INSERT ON audit_records WHEN NEW.run_id = 'run-00006'
		BEGIN SELECT RAISE(ABORT, 'not this one'); END`)
	for i := 4; i < 9; i++ {
		require.NoError(t, s.Append(ctx, sampleRun(i, 1)))
	}
	err := s.Flush(ctx)
	require.ErrorContains(t, err, `run "run-00006" was not stored`)
	assert.NotContains(t, err.Error(), "run-00005")
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
	all, err := s.List(ctx, audit.Query{})
	require.NoError(t, err)
	assert.Equal(t, []string{"run-00001", "run-00002", "run-00003", "run-00004", "run-00005", "run-00007", "run-00008"}, ids(all))
	err = s.Close()
	require.ErrorContains(t, err, `run "run-00006" was not stored`, "Close names what is still not stored")
}

func TestOpenPicksBackend(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{filepath.Join(dir, "a.db"), "sqlite:" + filepath.Join(dir, "b.db"), "file:" + filepath.Join(dir, "c.db")} {
		s, err := audit.Open(ctx, dsn)
		require.NoError(t, err, dsn)
		_, isSQLite := s.(*audit.SQLite)
		assert.True(t, isSQLite, dsn)
		require.NoError(t, s.Close())
	}
	_, err := audit.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is PostgreSQL running")
	var pathErr *fs.PathError
	assert.False(t, errors.As(err, &pathErr), "a postgres URL is never taken for a file")
}

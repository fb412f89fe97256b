//go:build faults

package faults

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
)

// pgServer is a PostgreSQL server of the test's own, so that it can be
// restarted and stopped without touching the shared one.
type pgServer struct {
	t    *testing.T
	bin  string
	data string
	port int
	DSN  string
}

// startPostgres initialises and starts a private cluster from the newest
// /usr/lib/postgresql/*/bin, as the postgres user when run as root.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL server binaries are needed (apt-get install postgresql; scripts/test.sh installs it)")
	}
	sort.Strings(bins)
	dir, err := os.MkdirTemp("", "reagent-faults-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "running as root: the postgres user runs the private server")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(dir, uid, gid))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	p := &pgServer{t: t, bin: filepath.Dir(bins[len(bins)-1]), data: filepath.Join(dir, "data"), port: port,
		DSN: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	p.run("initdb", "-D", p.data, "-A", "trust", "-U", "postgres", "--no-sync")
	p.ctl("start")
	t.Cleanup(func() { p.ctlQuiet("stop", "-m", "immediate") })
	return p
}

func (p *pgServer) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(p.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func (p *pgServer) run(name string, args ...string) {
	p.t.Helper()
	out, err := p.command(name, args...).CombinedOutput()
	require.NoError(p.t, err, "%s %v: %s", name, args, out)
}

func (p *pgServer) ctlArgs(action string, extra ...string) []string {
	args := []string{"-D", p.data, "-w", "-l", filepath.Join(filepath.Dir(p.data), "server.log")}
	if action != "stop" {
		args = append(args, "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
			p.port, filepath.Dir(p.data)))
	}
	return append(append(args, extra...), action)
}

func (p *pgServer) ctl(action string, extra ...string) {
	p.run("pg_ctl", p.ctlArgs(action, extra...)...)
}

func (p *pgServer) ctlQuiet(action string, extra ...string) {
	_ = p.command("pg_ctl", p.ctlArgs(action, extra...)...).Run()
}

// pgWriters runs writers, each with a store of its own (as separate
// processes would have), and calls during once each writer has
// acknowledged its first runs, with a channel on which each writer sends
// after a Flush fails.
func pgWriters(t *testing.T, p *pgServer, name string, writers, each int, during func(failed <-chan struct{})) {
	tl := newTally()
	stores := make([]audit.Store, writers)
	for w := range stores {
		s, err := audit.Open(bg, p.DSN, audit.WithWriteTimeout(time.Second), audit.WithBatchSize(16))
		require.NoError(t, err)
		stores[w] = s
	}
	failed := make(chan struct{}, 1_000_000)
	var failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writer(stores[w], tl, fmt.Sprintf("%s-w%d", name, w), 0, 10, 2*time.Second, stop, func(error) {
				failures.Add(1)
				failed <- struct{}{}
			})
		}()
	}
	acked := func() int {
		tl.mu.Lock()
		defer tl.mu.Unlock()
		return len(tl.acked)
	}
	// Writers run until each has acknowledged about each/2 runs before the
	// fault and as many after it.
	waitAcked := func(n int) {
		for acked() < n {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitAcked(writers * each / 2)
	during(failed)
	waitAcked(acked() + writers*each/2)
	close(stop)
	wg.Wait()
	for _, s := range stores {
		if err := s.Close(); err != nil {
			tl.note("close: %.100s", err.Error())
		}
	}
	tl.note("%d failed Flushes during the fault", failures.Load())
	tl.check(t, name, p.DSN)
}

// waitFailures waits until n Flushes have failed.
func waitFailures(failed <-chan struct{}, n int) {
	for range n {
		<-failed
	}
}

func TestPostgresRestart(t *testing.T) {
	p := startPostgres(t)
	pgWriters(t, p, "pg-restart", 4, 1500, func(<-chan struct{}) {
		p.ctl("restart", "-m", "fast")
	})
}

// TestPostgresOutage stops the server (immediate shutdown, as a crash)
// until the writers have seen their Flushes fail, then starts it again.
func TestPostgresOutage(t *testing.T) {
	p := startPostgres(t)
	pgWriters(t, p, "pg-outage", 4, 1000, func(failed <-chan struct{}) {
		p.ctl("stop", "-m", "immediate")
		waitFailures(failed, 8)
		p.ctl("start")
	})
}

// TestPostgresHang: another session holds the chain head's row lock, so
// every write hangs until its statement and lock timeouts; the lock is
// released once the writers have seen their Flushes fail at their
// deadlines.
func TestPostgresHang(t *testing.T) {
	p := startPostgres(t)
	pgWriters(t, p, "pg-hang", 4, 1000, func(failed <-chan struct{}) {
		db, err := sql.Open("pgx", p.DSN)
		require.NoError(t, err)
		defer db.Close()
		tx, err := db.Begin()
		require.NoError(t, err)
		_, err = tx.Exec(`SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE`)
		require.NoError(t, err)
		waitFailures(failed, 8)
		require.NoError(t, tx.Rollback())
	})
}

// serverPIDs returns the postmaster's PID and its children's.
func (p *pgServer) serverPIDs() []int {
	p.t.Helper()
	raw, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid"))
	require.NoError(p.t, err)
	first, _, _ := strings.Cut(string(raw), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	require.NoError(p.t, err)
	pids := []int{pm}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so split after ')'.
		i := strings.LastIndexByte(string(b), ')')
		fields := strings.Fields(string(b)[i+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pm {
			pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Dir(st), "/proc/"), "/"))
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestPostgresServerHang freezes the whole server (SIGSTOP to the
// postmaster and every backend) until the writers have seen their Flushes
// fail at their deadlines, then thaws it.
func TestPostgresServerHang(t *testing.T) {
	p := startPostgres(t)
	pgWriters(t, p, "pg-server-hang", 4, 1000, func(failed <-chan struct{}) {
		pids := p.serverPIDs()
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGSTOP)
		}
		waitFailures(failed, 8)
		for _, pid := range p.serverPIDs() {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	})
}

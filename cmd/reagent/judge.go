package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/internal/progress"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

const judgeUsage = `judge (--db DSN | --in FILE.jsonl [--out FILE.jsonl]) [flags]

Judges recorded runs with a reasoning reward model and records the
assessments. A run is judged when it has no successful assessment from the
chosen judge yet, or always with --rejudge.

With --db (default $REAGENT_DB), runs come from the audit store (a SQLite
path or a postgres:// URL) and each assessment is appended to the audit trail as a record of its
own. With --in, runs are read one JSON trajectory per line ("-" for stdin)
and written to --out (default stdout) with the assessment added.

The heuristic judge runs offline. The openai judge calls an
OpenAI-compatible server: --base-url (or REAGENT_JUDGE_BASE_URL) must include
/v1, the key is read from --api-key-env (default OPENAI_API_KEY).`

// judgeFlags are the options of `reagent judge`.
type judgeFlags struct {
	db, in, out        string
	judge, baseURL     string
	model, apiKeyEnv   string
	concurrency, limit int
	retries            int
	timeout            time.Duration
	rejudge            bool
}

func runJudge(ctx context.Context, c *cli, args []string) error {
	var f judgeFlags
	fs := newFlags(c, "judge", judgeUsage)
	db := dbFlag(fs, c)
	fs.StringVar(&f.in, "in", "", "read trajectories from this JSONL file (- for stdin) instead of a store")
	fs.StringVar(&f.out, "out", "-", "with --in: write judged trajectories here (- for stdout)")
	fs.StringVar(&f.judge, "judge", "heuristic", "judge: heuristic or openai")
	fs.StringVar(&f.baseURL, "base-url", c.Getenv("REAGENT_JUDGE_BASE_URL"), "openai judge: API base URL including /v1 (default $REAGENT_JUDGE_BASE_URL, else api.openai.com)")
	fs.StringVar(&f.model, "model", c.Getenv("REAGENT_JUDGE_MODEL"), "openai judge: model name (default $REAGENT_JUDGE_MODEL, else gpt-4o-mini)")
	fs.StringVar(&f.apiKeyEnv, "api-key-env", "OPENAI_API_KEY", "openai judge: environment variable holding the API key")
	fs.IntVar(&f.concurrency, "concurrency", 0, "judgments in flight (default: CPUs for heuristic, 4 for openai)")
	fs.IntVar(&f.limit, "limit", 0, "judge at most this many runs (0: all)")
	fs.IntVar(&f.retries, "retries", 3, "openai judge: retries per judgment")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "openai judge: timeout per request")
	fs.BoolVar(&f.rejudge, "rejudge", false, "judge runs that already have an assessment from this judge")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dbSet := false
	fs.Visit(func(fl *flag.Flag) { dbSet = dbSet || fl.Name == "db" })
	if f.in == "" || dbSet {
		f.db = *db // $REAGENT_DB applies only when no --in is given
	}
	switch {
	case f.db == "" && f.in == "":
		return usagef("judge: give --db DSN or --in FILE.jsonl")
	case f.db != "" && f.in != "":
		return usagef("judge: give either --db or --in, not both")
	case f.limit < 0 || f.concurrency < 0 || f.retries < 0:
		return usagef("judge: --limit, --concurrency and --retries must not be negative")
	}
	j, name, err := newJudge(c, &f)
	if err != nil {
		return err
	}
	if f.concurrency == 0 {
		f.concurrency = runtime.GOMAXPROCS(0)
		if f.judge == "openai" {
			f.concurrency = 4
		}
	}
	if f.db != "" {
		return judgeStore(ctx, c, &f, j, name)
	}
	return judgeFile(ctx, c, &f, j, name)
}

// newJudge builds the judge named by --judge.
func newJudge(c *cli, f *judgeFlags) (rrm.Judge, string, error) {
	switch f.judge {
	case "heuristic":
		h := rrm.NewHeuristic()
		return h, h.Name(), nil
	case "openai":
		key := c.Getenv(f.apiKeyEnv)
		if key == "" && f.baseURL == "" {
			return nil, "", usagef("judge: the openai judge needs --base-url (or REAGENT_JUDGE_BASE_URL) or an API key in $%s", f.apiKeyEnv)
		}
		opts := []rrm.Option{rrm.WithAPIKey(key), rrm.WithRetries(f.retries), rrm.WithTimeout(f.timeout)}
		if f.baseURL != "" {
			opts = append(opts, rrm.WithBaseURL(f.baseURL))
		}
		if f.model != "" {
			opts = append(opts, rrm.WithModel(f.model))
		}
		conc := f.concurrency
		if conc == 0 {
			conc = 4
		}
		opts = append(opts, rrm.WithConcurrency(conc))
		o := rrm.NewOpenAI(opts...)
		return o, o.Name(), nil
	}
	return nil, "", usagef("judge: unknown judge %q (want heuristic or openai)", f.judge)
}

// needsJudging reports whether t lacks a successful assessment from judge.
func needsJudging(t *trajectory.Trajectory, judge string, rejudge bool) bool {
	if rejudge {
		return true
	}
	for _, a := range t.Assessments {
		if a.Judge == judge && a.OK() {
			return false
		}
	}
	return true
}

// judgeStats is the summary printed at the end.
type judgeStats struct {
	mu       sync.Mutex
	judged   int
	failed   int
	sum      float64
	min, max float64
	firstErr string
}

func (s *judgeStats) add(a trajectory.Assessment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.judged++
	if !a.OK() {
		s.failed++
		if s.firstErr == "" {
			s.firstErr = a.Error
		}
		return
	}
	ok := s.judged - s.failed
	if ok == 1 {
		s.min, s.max = a.Score, a.Score
	}
	s.sum += a.Score
	s.min, s.max = math.Min(s.min, a.Score), math.Max(s.max, a.Score)
}

// report prints the summary and turns failed judgments into exit status 1.
func (s *judgeStats) report(w io.Writer, judge string, skipped int) error {
	ok := s.judged - s.failed
	fmt.Fprintf(w, "judged %d run(s) with %s: %d ok, %d error(s), %d skipped (already judged)", s.judged, judge, ok, s.failed, skipped)
	if ok > 0 {
		fmt.Fprintf(w, "; mean score %.3f (min %.3f, max %.3f)", s.sum/float64(ok), s.min, s.max)
	}
	fmt.Fprintln(w)
	if s.failed > 0 {
		fmt.Fprintf(w, "first error: %s\n", s.firstErr)
		return &exitError{code: 1, msg: fmt.Sprintf("judge: %d of %d judgment(s) failed", s.failed, s.judged)}
	}
	return nil
}

// errLimit stops a Walk once --limit runs were collected.
var errLimit = errors.New("limit reached")

func judgeStore(ctx context.Context, c *cli, f *judgeFlags, j rrm.Judge, name string) (err error) {
	st, err := openStore(ctx, f.db, audit.WithCreate(false))
	if err != nil {
		return fmt.Errorf("judge: %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("judge: close store: %w", cerr)
		}
	}()

	// First pass: which runs to judge. Only ids are kept, so a large store
	// does not have to fit in memory.
	var ids []string
	skipped := 0
	err = st.Walk(ctx, audit.Query{}, func(t *trajectory.Trajectory) error {
		if !needsJudging(t, name, f.rejudge) {
			skipped++
			return nil
		}
		if f.limit > 0 && len(ids) >= f.limit {
			return errLimit
		}
		ids = append(ids, t.ID)
		return nil
	})
	if err != nil && !errors.Is(err, errLimit) {
		return fmt.Errorf("judge: read runs: %w", err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stats := &judgeStats{}
	bar := progress.New(c.Stderr, len(ids), "judging")
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(f.concurrency, max(len(ids), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				t, err := st.Get(ctx, id)
				if err != nil {
					cancel(fmt.Errorf("read run %s: %w", id, err))
					return
				}
				a := j.Judge(ctx, t)
				if ctx.Err() != nil {
					return // interrupted: do not record a cancelled judgment
				}
				if err := st.AppendAssessment(ctx, id, a); err != nil {
					cancel(fmt.Errorf("record assessment of run %s: %w", id, err))
					return
				}
				stats.add(a)
				bar.Add(1)
			}
		}()
	}
feed:
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	bar.Done()
	if cause := context.Cause(ctx); cause != nil {
		return fmt.Errorf("judge: %w", cause)
	}
	if err := st.Flush(ctx); err != nil {
		return fmt.Errorf("judge: write assessments: %w", err)
	}
	return stats.report(c.Stdout, name, skipped)
}

func judgeFile(ctx context.Context, c *cli, f *judgeFlags, j rrm.Judge, name string) error {
	runs, err := readRuns(c, f.in)
	if err != nil {
		return err
	}
	var todo []int
	skipped := 0
	for i, t := range runs {
		switch {
		case !needsJudging(t, name, f.rejudge):
			skipped++
		case f.limit == 0 || len(todo) < f.limit:
			todo = append(todo, i)
		}
	}

	stats := &judgeStats{}
	bar := progress.New(c.Stderr, len(todo), "judging")
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(f.concurrency, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				a := j.Judge(ctx, runs[i])
				runs[i].Assessments = append(runs[i].Assessments, a)
				stats.add(a)
				bar.Add(1)
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	bar.Done()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("judge: interrupted, nothing written: %w", err)
	}
	if err := writeRuns(c, f.out, runs); err != nil {
		return err
	}
	// stdout may carry the trajectories: the summary goes to stderr.
	return stats.report(c.Stderr, name, skipped)
}

// readRuns reads one trajectory per line; blank lines are skipped.
func readRuns(c *cli, path string) ([]*trajectory.Trajectory, error) {
	var r io.Reader = c.Stdin
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("judge: %w", err)
		}
		defer fh.Close()
		r = fh
	}
	br := bufio.NewReader(r)
	var runs []*trajectory.Trajectory
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			t, perr := trajectory.Unmarshal(b)
			if perr != nil {
				return nil, fmt.Errorf("judge: %s line %d: %w", path, line, perr)
			}
			runs = append(runs, t)
		}
		if errors.Is(err, io.EOF) {
			return runs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("judge: read %s: %w", path, err)
		}
	}
}

// writeRuns writes the trajectories as JSONL, to a file through a temporary
// file and a rename, so that --out may name the input and a failure leaves
// the old file whole.
func writeRuns(c *cli, path string, runs []*trajectory.Trajectory) (err error) {
	var w io.Writer = c.Stdout
	var tmp *os.File
	if path != "-" {
		tmp, err = os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
		if err != nil {
			return fmt.Errorf("judge: %w", err)
		}
		defer func() {
			if err != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		if err = tmp.Chmod(0o644); err != nil {
			return fmt.Errorf("judge: %w", err)
		}
		w = tmp
	}
	bw := bufio.NewWriter(w)
	for _, t := range runs {
		b, err := trajectory.Marshal(t)
		if err != nil {
			return fmt.Errorf("judge: encode run %s: %w", t.ID, err)
		}
		bw.Write(b)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("judge: write %s: %w", path, err)
	}
	if tmp == nil {
		return nil
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("judge: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("judge: %w", err)
	}
	return nil
}

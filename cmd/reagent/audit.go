package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

// openExistingStore opens --db for the commands that only read or prune: a
// missing database is an error, never silently created.
func openExistingStore(ctx context.Context, cmd, dsn string) (audit.Store, error) {
	if dsn == "" {
		return nil, usagef("%s: --db is required (a SQLite file or a postgres:// URL, or set REAGENT_DB)", cmd)
	}
	return openStore(ctx, dsn, audit.WithCreate(false))
}

// runAuditVerify checks the hash chain: exit 0 with a summary when intact,
// exit 1 naming the first broken record.
func runAuditVerify(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "audit verify", "audit verify --db DSN")
	db := dbFlag(fs, c)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := openExistingStore(ctx, "audit verify", *db)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Verify(ctx)
	if err != nil {
		return err
	}
	if !rep.OK {
		return &exitError{code: 1, msg: rep.String()}
	}
	fmt.Fprintln(c.Stdout, rep.String())
	return nil
}

// runAuditShow prints runs for people: task, status, steps with thoughts and
// tool calls, blocked calls, guard decisions and assessments.
func runAuditShow(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "audit show", "audit show --db DSN [--run ID] [--last N] [--status S] [--full]")
	db := dbFlag(fs, c)
	run := fs.String("run", "", "show only this run")
	last := fs.Int("last", 10, "show the N most recently stored runs")
	status := fs.String("status", "", "show only runs that ended with this status (finished, error, max-iterations, …)")
	full := fs.Bool("full", false, "print every text in full instead of truncating it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *last < 0 {
		return usagef("audit show: --last must not be negative")
	}
	s, err := openExistingStore(ctx, "audit show", *db)
	if err != nil {
		return err
	}
	defer s.Close()
	p := &runPrinter{w: c.Stdout, full: *full}
	if *run != "" {
		t, err := s.Get(ctx, *run)
		if err != nil {
			return err
		}
		p.run(t)
		return p.err
	}
	q := audit.Query{Last: *last, Status: trajectory.Status(*status)}
	n := 0
	err = s.Walk(ctx, q, func(t *trajectory.Trajectory) error {
		if n > 0 {
			p.line("")
		}
		n++
		p.run(t)
		return p.err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(c.Stdout, "no runs")
	}
	return nil
}

// runAuditExport writes every run, with all its assessments merged in, one
// per line.
func runAuditExport(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "audit export", "audit export --db DSN [--format jsonl] [--out FILE]")
	db := dbFlag(fs, c)
	format := fs.String("format", "jsonl", "output format: jsonl (one trajectory per line)")
	out := fs.String("out", "-", "output file; - for standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "jsonl" {
		return usagef("audit export: unknown --format %q (supported: jsonl)", *format)
	}
	s, err := openExistingStore(ctx, "audit export", *db)
	if err != nil {
		return err
	}
	defer s.Close()

	w, commit, abort, err := createAuditOutput(c, *out)
	if err != nil {
		return err
	}
	jw := audit.NewJSONL(w)
	if err := s.Walk(ctx, audit.Query{}, jw.Write); err != nil {
		abort()
		return fmt.Errorf("audit export: %w", err)
	}
	if err := commit(); err != nil {
		return err
	}
	if *out != "-" {
		fmt.Fprintf(c.Stderr, "exported %d runs to %s\n", jw.Count(), *out)
	}
	return nil
}

// createAuditOutput opens path for writing through a temporary file that is
// renamed into place on commit, so a failed export leaves no partial file.
func createAuditOutput(c *cli, path string) (w io.Writer, commit func() error, abort func(), err error) {
	if path == "-" {
		return c.Stdout, func() error { return nil }, func() {}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create %s: %w", path, err)
	}
	abort = func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	commit = func() error {
		if err := f.Close(); err != nil {
			_ = os.Remove(f.Name())
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(f.Name(), path); err != nil {
			_ = os.Remove(f.Name())
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	return f, commit, abort, nil
}

// runAuditPrune removes runs stored before a date, leaving a checkpoint so
// that the rest of the chain still verifies.
func runAuditPrune(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "audit prune", "audit prune --db DSN --before YYYY-MM-DD")
	db := dbFlag(fs, c)
	before := fs.String("before", "", "remove runs stored before this date (YYYY-MM-DD, UTC) or time (RFC 3339)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *before == "" {
		return usagef("audit prune: --before is required")
	}
	cut, err := parseAuditCutoff(*before)
	if err != nil {
		return usagef("audit prune: --before %q: want YYYY-MM-DD or an RFC 3339 time", *before)
	}
	s, err := openExistingStore(ctx, "audit prune", *db)
	if err != nil {
		return err
	}
	rep, err := s.Prune(ctx, cut)
	if cerr := s.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if rep.CheckpointSeq == 0 {
		fmt.Fprintf(c.Stdout, "nothing to prune before %s\n", cut.Format(time.RFC3339))
	} else {
		fmt.Fprintf(c.Stdout, "pruned %d runs (%d records, seq ..%d); checkpoint at seq %d\n",
			rep.RemovedRuns, rep.RemovedRecords, rep.PrunedThrough, rep.CheckpointSeq)
	}
	if rep.KeptOlderRuns > 0 {
		fmt.Fprintf(c.Stdout, "kept %d older runs that lie after newer records in the chain\n", rep.KeptOlderRuns)
	}
	return nil
}

func parseAuditCutoff(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// runPrinter writes the readable view of runs.
type runPrinter struct {
	w    io.Writer
	full bool
	err  error
}

func (p *runPrinter) line(format string, args ...any) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
}

// auditMaxShown is how much of a text `audit show` prints without --full.
const auditMaxShown = 160

// text flattens s to one line and truncates it, unless --full.
func (p *runPrinter) text(s string) string {
	if p.full {
		return strings.ReplaceAll(s, "\n", "\n      ")
	}
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= auditMaxShown {
		return s
	}
	r := []rune(s)
	return fmt.Sprintf("%s… (+%d chars)", string(r[:auditMaxShown]), len(r)-auditMaxShown)
}

func (p *runPrinter) run(t *trajectory.Trajectory) {
	head := fmt.Sprintf("run %s  %s", t.ID, t.Status)
	if !t.StartedAt.IsZero() {
		head += "  started " + t.StartedAt.UTC().Format("2006-01-02 15:04:05Z")
		if !t.EndedAt.IsZero() {
			head += "  took " + t.EndedAt.Sub(t.StartedAt).Round(time.Millisecond).String()
		}
	}
	if t.Agent != "" {
		head += "  agent " + t.Agent
	}
	if t.Model != "" {
		head += "  model " + t.Model
	}
	p.line("%s", head)
	if t.ParentID != "" {
		p.line("  refines %s (round %d)", t.ParentID, t.Round)
	}
	p.line("  task: %s", p.text(t.Task))
	if len(t.Metadata) > 0 {
		keys := make([]string, 0, len(t.Metadata))
		for k := range t.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = k + "=" + t.Metadata[k]
		}
		p.line("  metadata: %s", strings.Join(keys, " "))
	}
	for _, s := range t.Steps {
		p.step(s)
	}
	if len(t.Decisions) > 0 {
		p.line("  guard decisions:")
		for _, d := range t.Decisions {
			where := fmt.Sprintf("step %d %s", d.Step, d.Event)
			if d.Tool != "" {
				where += " " + d.Tool
			}
			l := fmt.Sprintf("    %s: %s → %s", where, d.Guard, d.Verdict)
			if d.Score != nil {
				l += fmt.Sprintf(" (score %.2f)", *d.Score)
			}
			if d.Reason != "" {
				l += ": " + p.text(d.Reason)
			}
			if d.Resolution != "" {
				l += fmt.Sprintf(" [%s", d.Resolution)
				if d.ResolvedBy != "" {
					l += " by " + d.ResolvedBy
				}
				l += "]"
			}
			p.line("%s", l)
		}
	}
	if len(t.Assessments) > 0 {
		p.line("  assessments:")
		for _, a := range t.Assessments {
			judge := a.Judge
			if a.Model != "" {
				judge += " (" + a.Model + ")"
			}
			scope := ""
			if a.Partial {
				scope = fmt.Sprintf(" [first %d steps]", a.Steps)
			}
			if !a.OK() {
				p.line("    %s%s: %s: %s", judge, scope, a.Status, p.text(a.Error))
				continue
			}
			p.line("    %s%s: score %.2f: %s", judge, scope, a.Score, p.text(a.Critique))
		}
	}
	p.line("  final answer: %s", p.text(t.FinalAnswer))
	if t.Error != "" {
		p.line("  error: %s", p.text(t.Error))
	}
}

func (p *runPrinter) step(s trajectory.Step) {
	if s.Duration > 0 {
		p.line("  step %d (%s)", s.Index, s.Duration.Round(time.Millisecond))
	} else {
		p.line("  step %d", s.Index)
	}
	if s.Critique != "" {
		p.line("    critique injected: %s", p.text(s.Critique))
	}
	if s.Thought != "" {
		p.line("    thought: %s", p.text(s.Thought))
	}
	for _, l := range s.LLMCalls {
		if l.Error != "" {
			p.line("    model error: %s", p.text(l.Error))
		}
	}
	for _, call := range s.Calls {
		id := ""
		if call.ID != "" {
			id = " [" + call.ID + "]"
		}
		p.line("    tool %s%s: input %s", call.Tool, id, p.text(call.Input))
		switch {
		case call.Blocked:
			p.line("      BLOCKED by %s: %s", call.BlockedBy, p.text(call.Observation))
		case call.UnknownTool:
			p.line("      unknown tool: %s", p.text(call.Observation))
		default:
			p.line("      observation: %s", p.text(call.Observation))
		}
		if call.Error != "" {
			kind := "error"
			if call.Panicked {
				kind = "panic"
			}
			p.line("      %s: %s", kind, p.text(call.Error))
		}
	}
	if s.ParseError != "" {
		p.line("    parse error: %s", p.text(s.ParseError))
	}
	if s.Final {
		p.line("    answer: %s", p.text(s.Answer))
	}
}

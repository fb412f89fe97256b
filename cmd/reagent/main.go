// Command reagent records, judges, guards, audits and fine-tunes
// langchaingo agents. Run `reagent help` for the list of commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// cli carries the process's standard streams and environment, so commands
// can be run in tests without touching the real ones.
type cli struct {
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
	Getenv func(string) string
}

// command is one subcommand. Name may have two words ("audit verify").
type command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, c *cli, args []string) error
}

// usageError marks a problem with the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// newFlags returns a flag set that reports errors instead of exiting and
// prints its help to the command's stderr.
func newFlags(c *cli, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.Stderr, "usage: reagent %s\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; -h/--help returns flag.ErrHelp, which main turns
// into exit status 0, and a bad flag becomes a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func commands() []command {
	return []command{
		{Name: "version", Summary: "print the version", Run: runVersion},
		{Name: "approve", Summary: "list pending durable approval requests, or approve or deny one (recorded in the audit chain)", Run: runApprove},
		{Name: "audit verify", Summary: "check the audit trail's hash chain", Run: runAuditVerify},
		{Name: "audit show", Summary: "show stored runs, steps, guard decisions and assessments", Run: runAuditShow},
		{Name: "audit export", Summary: "export stored runs with their assessments as JSONL", Run: runAuditExport},
		{Name: "audit prune", Summary: "remove runs stored before a date, keeping the chain verifiable", Run: runAuditPrune},
		{Name: "serve-model", Summary: "serve the built-in tiny model over the OpenAI chat API", Run: runServeModel},
		{Name: "policy check", Summary: "validate a guardrail policy file and print its guards", Run: runPolicyCheck},
		{Name: "policy default", Summary: "print the default guardrail policy (YAML)", Run: runPolicyDefault},
		{Name: "rollout", Summary: "collect judged, rewarded rollouts of a task suite into the audit store (baseline, c, r, u)", Run: runRollout},
		{Name: "eval", Summary: "evaluate a policy on a suite's test split: success, reward and RRM score per suite", Run: runEval},
		{Name: "export", Summary: "export collected runs for verl (parquet), OpenRLHF, ART or SFT", Run: runExport},
		{Name: "serve-reward", Summary: "serve rule + RRM rewards over OpenRLHF's remote reward API (verl: ppo/verl_reward.py)", Run: runServeReward},
		{Name: "train", Summary: "fine-tune the policy with PPO/GRPO from its own judged rollouts", Run: runTrain},
		{Name: "ui", Summary: "serve the read-only web UI and Prometheus /metrics over an audit store (--allow-approvals: decide durable approvals there)", Run: runUI},
		{Name: "demo", Summary: "run the embedded policy over every suite, judged, guarded and audited (no setup)", Run: runDemo},
		{Name: "judge", Summary: "judge stored runs (or a JSONL file) with an RRM and record the assessments", Run: runJudge},
		{Name: "demos", Summary: "write suite demonstrations as SFT data (the embedded policy's recipe)", Run: runDemos},
	}
}

func runVersion(_ context.Context, c *cli, args []string) error {
	fs := newFlags(c, "version", "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "reagent %s\n", version)
	return nil
}

// dispatch finds the longest command name that prefixes args and runs it.
func dispatch(ctx context.Context, c *cli, args []string) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(c.Stdout, cmds, "")
		return nil
	}
	var best *command
	bestWords := 0
	for i := range cmds {
		words := strings.Fields(cmds[i].Name)
		if len(words) <= len(args) && len(words) > bestWords && equalWords(words, args[:len(words)]) {
			best, bestWords = &cmds[i], len(words)
		}
	}
	if best == nil {
		// A group name alone ("reagent audit") lists its subcommands.
		group := args[0]
		for _, cmd := range cmds {
			if strings.HasPrefix(cmd.Name, group+" ") {
				printHelp(c.Stdout, cmds, group)
				if len(args) > 1 && args[1] != "-h" && args[1] != "--help" {
					return usagef("unknown command %q", strings.Join(args[:2], " "))
				}
				return nil
			}
		}
		return usagef("unknown command %q (run `reagent help`)", args[0])
	}
	return best.Run(ctx, c, args[bestWords:])
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func printHelp(w io.Writer, cmds []command, group string) {
	fmt.Fprintln(w, "reagent: a reasoning reward model around langchaingo agents")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	for _, cmd := range cmds {
		if group != "" && !strings.HasPrefix(cmd.Name, group+" ") {
			continue
		}
		fmt.Fprintf(w, "  %-18s %s\n", cmd.Name, cmd.Summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `reagent COMMAND --help` for a command's flags.")
}

// exitCode maps a command's error to the process exit status.
func exitCode(err error) int {
	var ue *usageError
	var ex *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ex):
		return ex.code
	case errors.As(err, &ue):
		return 2
	default:
		return 1
	}
}

// exitError lets a command choose its exit status after printing its own
// report (for example `audit verify` on a broken chain).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Getenv: os.Getenv}
	err := dispatch(ctx, c, os.Args[1:])
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "reagent: %v\n", err)
	}
	os.Exit(exitCode(err))
}

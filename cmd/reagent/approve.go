package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/internal/trunc"
)

// runApprove lists the pending durable approval requests (no ID), or
// records the decision on one in the audit chain. It reads the seal key
// from REAGENT_APPROVAL_KEY (and REAGENT_APPROVAL_OLD_KEYS) to check, before
// approving a sealed request, that the key opens it; deciding needs no key.
func runApprove(ctx context.Context, c *cli, args []string) error {
	const usage = "approve --db DSN [--deny] [--reason TEXT] [--by NAME] [REQUEST-ID]"
	fs := newFlags(c, "approve", usage)
	db := dbFlag(fs, c)
	deny := fs.Bool("deny", false, "deny the call (default: approve it)")
	reason := fs.String("reason", "", "why, recorded with the decision")
	defBy := ""
	if c.Getenv != nil {
		defBy = c.Getenv("USER")
	}
	by := fs.String("by", defBy, "who decides, recorded with the decision (default $USER)")
	// Flags may come before or after the request ID.
	var ids []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return &usageError{msg: err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		ids = append(ids, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(ids) > 1 {
		return usagef("approve: one request ID at a time, got %d", len(ids))
	}
	s, err := openExistingStore(ctx, "approve", *db)
	if err != nil {
		return err
	}
	defer s.Close()
	getenv := c.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	d, err := approval.NewDurable(s, approval.WithSealKeyFromEnv(getenv))
	if err != nil {
		return err
	}
	hasKey := strings.TrimSpace(getenv(approval.EnvSealKey)) != ""
	if len(ids) == 0 {
		if *deny || *reason != "" {
			return usagef("approve: --deny and --reason need a request ID (run `reagent approve --db …` to list pending ones)")
		}
		return listPending(ctx, c, d)
	}
	if strings.TrimSpace(*by) == "" {
		return usagef("approve: say who decides with --by (USER is not set)")
	}
	st, _, err := d.Lookup(ctx, ids[0])
	if err != nil {
		return err
	}
	dec, err := d.Decide(ctx, ids[0], approval.Resolution{Approved: !*deny, By: *by, Reason: *reason})
	if err != nil {
		return err
	}
	verb := "approved"
	if !dec.Approved {
		verb = "denied"
	}
	fmt.Fprintf(c.Stdout, "%s request %s: %s %s (run %s), by %s\n", verb, dec.RequestID,
		trunc.Quote(st.Request.Tool, 80), trunc.Quote(st.Request.Input, 200), st.Request.RunID, dec.By)
	fmt.Fprintf(c.Stdout, "resume the run in your program: exec.Resume(ctx, durable, %q)\n", dec.RequestID)
	if st.Sealed && !hasKey && dec.Approved {
		fmt.Fprintf(c.Stdout, "the call is sealed: the program that resumes it needs the approval key (%s)\n", approval.EnvSealKey)
	}
	return nil
}

func listPending(ctx context.Context, c *cli, d *approval.Durable) error {
	pending, err := d.Pending(ctx)
	if err != nil {
		return err
	}
	if len(pending) == 0 {
		fmt.Fprintln(c.Stdout, "no pending approval requests")
		return nil
	}
	for _, p := range pending {
		r := p.Request
		fmt.Fprintf(c.Stdout, "%s  run %s step %d  %s %s  (requested %s)\n", r.ID, r.RunID, r.Step,
			trunc.Quote(r.Tool, 80), trunc.Quote(r.Input, 200), r.RequestedAt.Format("2006-01-02 15:04:05Z07:00"))
		for _, e := range r.Escalations {
			fmt.Fprintf(c.Stdout, "    [%s] %s\n", e.Guard, trunc.Quote(e.Reason, 300))
		}
		switch {
		case p.Sealed && p.Redacted:
			fmt.Fprintf(c.Stdout, "    (secrets redacted here; the exact call is sealed: resuming needs the approval key %s)\n", approval.EnvSealKey)
		case p.Sealed:
			fmt.Fprintf(c.Stdout, "    (the exact call is sealed: resuming needs the approval key %s)\n", approval.EnvSealKey)
		case p.Redacted:
			fmt.Fprintf(c.Stdout, "    (carried a secret and was stored redacted without an approval key: it cannot be resumed; deny it)\n")
		}
	}
	return nil
}

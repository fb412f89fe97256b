package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/reagent-go/reagent/guardrails/policyfile"
)

// runPolicyCheck validates a guardrail policy file and prints a summary:
// mode, guards, tagged tools, approval and warnings. A bad file exits with
// status 1 and a one-line error naming the line.
func runPolicyCheck(_ context.Context, c *cli, args []string) error {
	fs := newFlags(c, "policy check", "policy check FILE")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() != 1 {
		return usagef("policy check: want exactly one policy file, got %d arguments", fs.NArg())
	}
	p, err := policyfile.Load(fs.Arg(0),
		policyfile.WithGetenv(c.Getenv),
		policyfile.WithTerminal(c.Stdin, c.Stderr))
	if err != nil {
		return &exitError{code: 1, msg: "policy check: " + strings.Join(strings.Fields(err.Error()), " ")}
	}
	fmt.Fprint(c.Stdout, p.Summary())
	return nil
}

// runPolicyDefault prints the default policy (the one the demo runs with),
// a starting point for a policy file.
func runPolicyDefault(_ context.Context, c *cli, args []string) error {
	fs := newFlags(c, "policy default", "policy default")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprint(c.Stdout, policyfile.DefaultYAML())
	return nil
}

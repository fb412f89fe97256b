package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/ui"
)

// runUI serves the web UI over an audit store until ctx ends: read-only,
// unless --allow-approvals adds the approvals page.
func runUI(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "ui", "ui --db DSN [--addr 127.0.0.1:8080] [--token T] [--train-metrics FILE] [--allow-approvals [--approver NAME]]\n\n"+
		"The UI only reads the store, unless --allow-approvals adds the Approvals page: pending durable\n"+
		"approval requests, approved or denied with a reason by whoever holds the token (recorded in the\n"+
		"audit chain as NAME with the token's fingerprint); the host then resumes the run. It needs a token.\n")
	db := dbFlag(fs, c)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address; an address other than loopback needs a token")
	token := fs.String("token", "", "access token (default $REAGENT_UI_TOKEN); required off loopback, at least 16 characters")
	train := fs.String("train-metrics", "", "training metrics file (JSON lines from `reagent train`) drawn on the charts page")
	pageSize := fs.Int("page-size", 50, "runs per list page")
	ttl := fs.Duration("metrics-ttl", 15*time.Second, "how long /metrics reuses the counts it read from the store")
	hosts := fs.String("allowed-hosts", "", "comma-separated Host names accepted without a token (a trusted reverse proxy); loopback names always are")
	allowApprovals := fs.Bool("allow-approvals", false, "serve the Approvals page, where the token's holder approves or denies pending durable approval requests (needs --token)")
	approver := fs.String("approver", "", "with --allow-approvals: who holds the token, recorded as the decider (default $USER)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *db == "" {
		return usagef("ui: --db is required (a SQLite file or a postgres:// URL, or set REAGENT_DB)")
	}
	tok := *token
	if tok == "" && c.Getenv != nil {
		tok = c.Getenv("REAGENT_UI_TOKEN")
	}
	if err := ui.CheckAddr(*addr, tok); err != nil {
		return usagef("%v", err)
	}
	if *allowApprovals && tok == "" {
		return usagef("ui: --allow-approvals needs an access token (--token or REAGENT_UI_TOKEN, at least %d characters): it is what authenticates who decides", ui.MinTokenLength)
	}
	if *approver != "" && !*allowApprovals {
		return usagef("ui: --approver only applies with --allow-approvals")
	}
	if *approver == "" && c.Getenv != nil {
		*approver = c.Getenv("USER")
	}
	// The UI only reads: never create a database from a mistyped path.
	store, err := openStore(ctx, *db, audit.WithCreate(false))
	if err != nil {
		return fmt.Errorf("ui: open the audit store: %w", err)
	}
	defer store.Close()
	log := slog.New(slog.NewTextHandler(c.Stderr, nil))
	opts := []ui.Option{ui.WithToken(tok), ui.WithPageSize(*pageSize), ui.WithMetricsTTL(*ttl), ui.WithLogger(log)}
	if *train != "" {
		opts = append(opts, ui.WithTrainMetrics(*train))
	}
	if *hosts != "" {
		opts = append(opts, ui.WithAllowedHosts(strings.Split(*hosts, ",")...))
	}
	if *allowApprovals {
		d, err := approval.NewDurable(store)
		if err != nil {
			return fmt.Errorf("ui: --allow-approvals: %w", err)
		}
		opts = append(opts, ui.WithApprovals(d), ui.WithApproverName(*approver))
	}
	srv, err := ui.New(store, opts...)
	if err != nil {
		return usagef("%v", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("ui: listen on %s: %w", *addr, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Charts and chain verification read the whole store.
		WriteTimeout:   5 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(c.Stdout, "reagent ui: serving %s on %s\n", *db, url)
	if tok != "" {
		fmt.Fprintf(c.Stdout, "reagent ui: open %s?token=… once (a cookie keeps the session), or send Authorization: Bearer …\n", url)
	}
	if *allowApprovals {
		fmt.Fprintf(c.Stdout, "reagent ui: approvals enabled at %sapprovals\n", url)
	}
	if err := serveUntilDone(ctx, hs, ln, 5*time.Second); err != nil {
		return fmt.Errorf("ui: %w", err)
	}
	return nil
}

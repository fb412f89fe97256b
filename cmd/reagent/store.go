package main

import (
	"context"
	"flag"

	"github.com/reagent-go/reagent/audit"
)

// openStore opens the audit store named by dsn: a SQLite file path or a
// postgres:// URL. Pass audit.WithCreate(false) where a missing database is
// a mistake rather than a first run.
func openStore(ctx context.Context, dsn string, opts ...audit.Option) (audit.Store, error) {
	return audit.Open(ctx, dsn, opts...)
}

// dbFlag adds the --db flag, defaulting to $REAGENT_DB.
func dbFlag(fs *flag.FlagSet, c *cli) *string {
	def := ""
	if c.Getenv != nil {
		def = c.Getenv("REAGENT_DB")
	}
	return fs.String("db", def, "audit database: a SQLite file or a postgres:// URL (default $REAGENT_DB)")
}

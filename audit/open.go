package audit

import (
	"context"
	"errors"
	"strings"
)

// Open opens the store named by dsn: PostgreSQL for a postgres:// or
// postgresql:// URL, SQLite for anything else (a file path, optionally
// prefixed with sqlite: or file:).
func Open(ctx context.Context, dsn string, opts ...Option) (Store, error) {
	switch {
	case dsn == "":
		return nil, errors.New("audit: no database given (a SQLite file path or a postgres:// URL)")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return OpenPostgres(ctx, dsn, opts...)
	}
	path := dsn
	for _, prefix := range []string{"sqlite://", "sqlite:", "file:"} {
		if strings.HasPrefix(path, prefix) {
			path = strings.TrimPrefix(path, prefix)
			break
		}
	}
	return OpenSQLite(path, opts...)
}

// Package pgtest gives a test a PostgreSQL schema of its own on the server
// named by REAGENT_TEST_POSTGRES, so tests of several packages can share
// one database without seeing each other's tables.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// DSN returns REAGENT_TEST_POSTGRES. Without it the test fails saying how
// to set it, unless REAGENT_SKIP_POSTGRES=1 asks to skip.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("REAGENT_TEST_POSTGRES")
	if dsn != "" {
		return dsn
	}
	if os.Getenv("REAGENT_SKIP_POSTGRES") == "1" {
		t.Skip("REAGENT_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
	}
	t.Fatal("REAGENT_TEST_POSTGRES is not set. Start PostgreSQL and export, for example, " +
		"REAGENT_TEST_POSTGRES='postgres://postgres:reagent@127.0.0.1:5432/reagent_test?sslmode=disable' " +
		"(the role needs CREATE on the database: each test makes and drops a schema), " +
		"or set REAGENT_SKIP_POSTGRES=1 to skip these tests explicitly. scripts/test.sh does the setup.")
	return ""
}

// Schema is a schema made for one test and dropped when it ends.
type Schema struct {
	// Name is the schema's name: the prefix given to New and random hex.
	Name string
	// DSN connects to the server with the schema as search_path.
	DSN string
	// Admin is a connection outside the schema, closed when the test ends.
	Admin *sql.DB
}

// New creates a schema named prefix plus random hex on the DSN's server.
func New(t testing.TB, prefix string) Schema {
	t.Helper()
	base := DSN(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("REAGENT_TEST_POSTGRES must be a postgres:// URL: %v", err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + name); err != nil {
		t.Fatalf("pgtest: create a test schema in %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + name + " CASCADE") })
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return Schema{Name: name, DSN: u.String(), Admin: admin}
}

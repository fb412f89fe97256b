package pgtest

import (
	"database/sql"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	var name string
	t.Run("schema", func(t *testing.T) {
		s := New(t, "reagent_pgtest_")
		name = s.Name
		if !strings.HasPrefix(s.Name, "reagent_pgtest_") || !strings.Contains(s.DSN, "search_path="+s.Name) {
			t.Fatalf("schema %q, DSN %q", s.Name, s.DSN)
		}
		db, err := sql.Open("pgx", s.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// An unqualified table lands in the test's schema.
		if _, err := db.Exec(`CREATE TABLE t (x INT)`); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.Admin.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 't'`, s.Name).Scan(&n); err != nil || n != 1 {
			t.Fatalf("table in %s: %d (%v)", s.Name, n, err)
		}
	})
	// The schema is gone once the subtest has ended.
	admin, err := sql.Open("pgx", DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n int
	if err := admin.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, name).Scan(&n); err != nil || n != 0 {
		t.Fatalf("schema %s left behind: %d (%v)", name, n, err)
	}
}

package audit_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
)

func TestPostgresOpenErrors(t *testing.T) {
	e := newPostgresEnv(t)
	_, err := audit.OpenPostgres(ctx, e.dsn, audit.WithCreate(false))
	require.ErrorContains(t, err, "has no reagent audit tables")

	_, err = audit.OpenPostgres(ctx, "postgres://bad url with spaces")
	require.Error(t, err)

	s := e.open(t)
	require.NoError(t, s.Close())
	e.exec(t, `UPDATE audit_meta SET value = '99' WHERE key = 'schema_version'`)
	_, err = audit.OpenPostgres(ctx, e.dsn)
	require.ErrorContains(t, err, "newer reagent (schema version 99")
	assert.NotContains(t, err.Error(), "reagent@", "the password never appears in errors")
}

func TestPostgresNoSecretStored(t *testing.T) {
	secrets := map[string]string{
		"openai":     "sk-proj-Zq8Xw1Yv2Ut3Sr4Qp5On6Ml7",
		"bearer":     "tok.Abc123-Def456_Ghi789",
		"urlpass":    "Pa55w0rdInUrl",
		"registered": "hdr-value-from-env-9f8e7d",
		"user":       "someone",
		"aws":        "AKIAQ3EGRSWBYEXD4K7Q", // AWS's documented example key is left alone, as gitleaks does
	}
	e := newPostgresEnv(t)
	s := e.open(t)
	p := s.(*audit.Postgres)
	p.Redactor().AddSecrets(secrets["registered"])
	require.NoError(t, s.Append(ctx, secretRun("run-secret", secrets)))
	require.NoError(t, s.Flush(ctx))
	// Every text column of every audit table, as the server holds it.
	rows, err := e.raw.Query(`SELECT t::text FROM audit_records t UNION ALL SELECT t::text FROM audit_runs t
		UNION ALL SELECT t::text FROM audit_run_meta t`)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var row string
		require.NoError(t, rows.Scan(&row))
		n++
		for name, sec := range secrets {
			if name == "user" {
				continue // not a secret for the default rules
			}
			assert.False(t, strings.Contains(row, sec), "secret %s stored", name)
		}
	}
	require.NoError(t, rows.Err())
	assert.Greater(t, n, 2)
}

package audit_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

// copyLegacyDB copies testdata/legacy-v1.db: a chain written by reagent
// before RFC 8785 was adopted (schema version 1, legacy canonical form),
// with metadata keys outside the Basic Multilingual Plane (U+1F600,
// U+10000) next to keys from U+E000 to U+FFFF, where the two forms order
// keys differently.
func copyLegacyDB(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "legacy-v1.db"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "legacy.db")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func TestLegacyChainStillVerifies(t *testing.T) {
	path := copyLegacyDB(t)
	s, err := audit.OpenSQLite(path)
	require.NoError(t, err)
	defer s.Close()
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.String())
	assert.Equal(t, int64(4), rep.Records)
	assert.Equal(t, int64(4), rep.Legacy)
	assert.Contains(t, rep.String(), "4 written before RFC 8785 (legacy canonical form)")

	differs := 0
	require.NoError(t, s.Records(ctx, func(r audit.Record) error {
		assert.Equal(t, audit.FormLegacy, r.Canon, "seq %d", r.Seq)
		jcs, err := audit.Canonicalize(r.Payload)
		require.NoError(t, err)
		if string(jcs) != string(r.Payload) {
			differs++
		}
		return nil
	}))
	assert.Equal(t, 2, differs, "two legacy payloads are not in RFC 8785 form, and still verify")

	got, err := s.Get(ctx, "legacy-1")
	require.NoError(t, err)
	assert.Equal(t, "emoji (U+1F600)", got.Metadata["\U0001F600"])

	// New records continue the chain in RFC 8785 form.
	r := sampleRun(7, 2)
	r.Metadata["\U0001F600"] = "new"
	r.Metadata["\uFB33"] = "new"
	require.NoError(t, s.Append(ctx, r))
	require.NoError(t, s.AppendAssessment(ctx, "legacy-2", trajectory.Assessment{Judge: "j", Status: trajectory.AssessmentOK, Score: 0.5, CreatedAt: time.Unix(0, 0).UTC()}))
	require.NoError(t, s.Flush(ctx))
	rep, err = s.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.String())
	assert.Equal(t, int64(6), rep.Records)
	var forms []audit.Form
	require.NoError(t, s.Records(ctx, func(r audit.Record) error {
		forms = append(forms, r.Canon)
		return nil
	}))
	assert.Equal(t, []audit.Form{"", "", "", "", audit.FormRFC8785, audit.FormRFC8785}, forms)
}

// TestCanonTampering: the canon of a record is part of its hash, and a
// legacy record after RFC 8785 ones is refused.
func TestCanonTampering(t *testing.T) {
	e := newSQLiteEnv(t)
	s := e.open(t)
	for i := range 3 {
		require.NoError(t, s.Append(ctx, sampleRun(i, 1)))
	}
	require.NoError(t, s.Flush(ctx))
	e.exec(t, `UPDATE audit_records SET canon = '' WHERE seq = 2`)
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	require.False(t, rep.OK)
	assert.Equal(t, int64(2), rep.Break.Seq)
	assert.Equal(t, audit.ReasonBadRecord, rep.Break.Reason)
	e.exec(t, `UPDATE audit_records SET canon = 'rfc9999' WHERE seq = 2`)
	rep, err = s.Verify(ctx)
	require.NoError(t, err)
	require.False(t, rep.OK)
	assert.Contains(t, rep.Break.Detail, "unknown canonical form")
}

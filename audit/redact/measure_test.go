// The measurement runs in the plain test run; the race detector's step
// (scripts/test.sh) leaves it out: it has no concurrency to check and would
// take minutes under -race.

//go:build !race

package redact_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/reagent-go/reagent/audit/redact"
)

// refCache holds gitleaks' own findings per sample text, shared by the
// scorings of one test run (the tests in this file are not parallel).
var refCache = map[string][]string{}

// sampleScore is how a Redactor fares on gitleaks' own samples.
type sampleScore struct {
	tp, tpRedacted, noRef int // true positives; fully redacted; gitleaks itself finds nothing
	fp, fpAltered         int
	fpGitleaks            int                 // false positives gitleaks' own detector flags too
	misses, altered       map[string][]string // per rule constructor
}

// scoreSamples runs r over gitleaks' rule samples. A true positive counts as
// fully redacted when none of the secrets gitleaks' own detector (default
// configuration) reports in it survives; a false positive counts as altered
// when the redactor changes it at all. Samples of rules tied to file paths
// are left out: text in a trajectory has no path.
func scoreSamples(t *testing.T, r *redact.Redactor) sampleScore {
	samples, skipped := gitleaksSamples(t)
	t.Logf("gitleaks samples: %d read, %d not computable", len(samples), skipped)
	d, err := detect.NewDetectorDefaultConfig()
	require.NoError(t, err)
	d.IgnoreGitleaksAllow = true
	secretsOf := func(text string) []string { // what gitleaks itself finds, once per text
		if s, ok := refCache[text]; ok {
			return s
		}
		var out []string
		for _, f := range d.DetectString(text) {
			out = append(out, f.Secret)
		}
		refCache[text] = out
		return out
	}
	sc := sampleScore{misses: map[string][]string{}, altered: map[string][]string{}}
	paths := 0
	defer func() { t.Logf("%d samples of path-bound rules left out", paths) }()
	for _, s := range samples {
		if s.path {
			paths++
			continue
		}
		out := r.String(s.text)
		if !s.tp {
			sc.fp++
			if len(secretsOf(s.text)) > 0 {
				sc.fpGitleaks++
			}
			if out != s.text {
				sc.fpAltered++
				sc.altered[s.rule] = append(sc.altered[s.rule], fmt.Sprintf("%q -> %q", s.text, out))
			}
			continue
		}
		sc.tp++
		findings := secretsOf(s.text)
		if len(findings) == 0 {
			sc.noRef++
		}
		ok := true
		for _, secret := range findings {
			if secret != "" && strings.Contains(out, secret) {
				ok = false
			}
		}
		if ok && len(findings) == 0 && out == s.text {
			ok = false // nothing to compare against, and nothing masked either
		}
		if ok {
			sc.tpRedacted++
		} else {
			sc.misses[s.rule] = append(sc.misses[s.rule], fmt.Sprintf("%q -> %q", s.text, out))
		}
	}
	return sc
}

func logScore(t *testing.T, name string, sc sampleScore) {
	t.Logf("%s: true positives fully redacted %d/%d (%.1f%%; %d with no gitleaks finding), false positives altered %d/%d (%.1f%%; gitleaks' own full rule set flags %d of all false-positive samples)",
		name, sc.tpRedacted, sc.tp, 100*float64(sc.tpRedacted)/float64(sc.tp), sc.noRef,
		sc.fpAltered, sc.fp, 100*float64(sc.fpAltered)/float64(sc.fp), sc.fpGitleaks)
	for _, m := range []struct {
		what string
		by   map[string][]string
	}{{"missed", sc.misses}, {"altered", sc.altered}} {
		keys := make([]string, 0, len(m.by))
		for k := range m.by {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, e := range m.by[k][:min(len(m.by[k]), 3)] {
				t.Logf("  %s %s (%d): %s", m.what, k, len(m.by[k]), e)
			}
		}
	}
}

// TestGitleaksSamples holds the redactor to the goals on gitleaks'
// own rule samples, read from the module cache: at least 95% of the true
// positives fully redacted and at most 5% of the false positives altered.
// Run it with -v for the figures and the misses.
func TestGitleaksSamples(t *testing.T) {
	sc := scoreSamples(t, redact.Default())
	logScore(t, "default redactor", sc)
	own, err := redact.New(redact.WithoutGitleaks())
	require.NoError(t, err)
	logScore(t, "the project's own rules alone (before gitleaks)", scoreSamples(t, own))
	require.Greater(t, sc.tp, 1000, "the sample reader found too few samples: has gitleaks' source layout changed?")
	require.Greater(t, sc.fp, 200)
	assert.GreaterOrEqual(t, float64(sc.tpRedacted)/float64(sc.tp), 0.95)
	assert.LessOrEqual(t, float64(sc.fpAltered)/float64(sc.fp), 0.05)
}

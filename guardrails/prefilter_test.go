package guardrails

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLitFilterSpellsSmallClasses checks that adjacent literals and small
// classes are spelled out (gh[pousr]_ gives ghp_, …), also under (?i),
// so that prose full of "gh" and "xox" does not run the pattern.
func TestLitFilterSpellsSmallClasses(t *testing.T) {
	cloud := `\b(AKIA|ASIA)[0-9A-Z]{16}\b|\bxox[abeprs]-[0-9A-Za-z-]{10,}|\bxapp-\d-[0-9A-Za-z-]{10,}|\bgh[pousr]_[0-9A-Za-z_]{36,}|\bgithub_pat_[0-9A-Za-z_]{22,}`
	for _, caseSensitive := range []bool{true, false} {
		re, err := compilePattern(cloud, caseSensitive)
		require.NoError(t, err)
		f := newLitFilter(re)
		require.NotNil(t, f)
		assert.Equal(t, !caseSensitive, f.fold)
		for _, l := range f.lits {
			assert.GreaterOrEqual(t, len(l), 4, "literal %q", l)
		}
		assert.Contains(t, f.lits, "ghp_")
		prose := strings.Repeat("the github ghost said xox to akin ", 100)
		assert.False(t, f.mayMatch(prose))
		assert.True(t, f.mayMatch(prose+"xoxb-1234567890"))
		if !caseSensitive {
			assert.True(t, f.mayMatch("GHP_"), "folded")
			assert.True(t, f.mayMatch("ghſ_"), "non-ASCII text may match a folded pattern")
		}
	}
}

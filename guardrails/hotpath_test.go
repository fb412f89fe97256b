package guardrails

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVariantMemo checks the per-check memo of value variants past its
// in-place entries: every answer is variants' own, asked first or again.
func TestVariantMemo(t *testing.T) {
	var memo variantMemo
	for round := range 2 {
		for i := range 10 {
			s := fmt.Sprintf("rm%%20-rf /tmp/%d", i)
			for _, fold := range []bool{true, false} {
				want := variants(s, fold)
				require.Equal(t, want.forms(), memo.of(s, fold), "round %d, %q fold=%v", round, s, fold)
			}
		}
	}
	require.Equal(t, len(memo.buf), memo.n)
	require.Len(t, memo.extra, 20-len(memo.buf))
}

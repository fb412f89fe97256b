package tinylm

import (
	"math"
	"testing"
)

// TestGeluTable compares the table GELU with x·(1+erf(x/√2))/2 computed in
// float64, across and beyond the table's range.
func TestGeluTable(t *testing.T) {
	g := newGeluTable()
	var worst float64
	for x := -8.0; x <= 8.0; x += 1.0 / 1024 / 3 {
		in := []float32{float32(x)}
		g.apply(in)
		xf := float64(float32(x))
		want := 0.5 * xf * (1 + math.Erf(xf/math.Sqrt2))
		worst = math.Max(worst, math.Abs(float64(in[0])-want)/math.Max(1, math.Abs(want)))
	}
	// float32 rounding of the result alone is up to 6e-8 relative.
	if worst > 1.5e-7 {
		t.Fatalf("table GELU is off by up to %g", worst)
	}
	t.Logf("worst error %.2g", worst)
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, -1e30, 1e30}
	g.apply(special)
	if !math.IsNaN(float64(special[0])) || !math.IsInf(float64(special[1]), 1) || special[2] != 0 || special[3] != 0 || special[4] != 0 || special[5] != 1e30 {
		t.Fatalf("special values: %v", special)
	}
}

// BenchmarkGelu compares the table GELU with math.Erf on the same inputs.
//
//	go test ./agents/tinylm -run '^$' -bench BenchmarkGelu
func BenchmarkGelu(b *testing.B) {
	g := newGeluTable()
	src := make([]float32, 512)
	for i := range src {
		src[i] = float32(i-256) / 40
	}
	x := make([]float32, len(src))
	start := b.Elapsed()
	const baseRounds = 2000
	for range baseRounds {
		copy(x, src)
		for i, v := range x {
			f := float64(v)
			x[i] = float32(0.5 * f * (1 + math.Erf(f/math.Sqrt2)))
		}
	}
	base := (b.Elapsed() - start).Seconds() / baseRounds
	b.ResetTimer()
	for range b.N {
		copy(x, src)
		g.apply(x)
	}
	b.ReportMetric(base/(b.Elapsed().Seconds()/float64(b.N)), "speedup_vs_erf")
}

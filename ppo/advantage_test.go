package ppo

import (
	"math"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g", what, got, want)
	}
}

func TestGroupAdvantagesHandWorked(t *testing.T) {
	// mean 0.5, population std 0.5.
	a := GroupAdvantages([]float64{1, 0, 0, 1})
	w := 0.5 / (0.5 + 1e-6)
	for i, want := range []float64{w, -w, -w, w} {
		near(t, "A", a[i], want, 1e-12)
	}
	// mean 4, variance 8/3.
	std := math.Sqrt(8.0 / 3)
	a = GroupAdvantages([]float64{2, 4, 6})
	for i, want := range []float64{-2 / (std + 1e-6), 0, 2 / (std + 1e-6)} {
		near(t, "A", a[i], want, 1e-12)
	}
	for _, g := range [][]float64{{0.7}, {1, 1, 1}, {}} {
		for _, v := range GroupAdvantages(g) {
			if v != 0 {
				t.Errorf("GroupAdvantages(%v) gave %v, want zeros", g, v)
			}
		}
	}
}

func TestAdvantagesPerGroup(t *testing.T) {
	groups := []Group{
		{Samples: []Sample{{Reward: 1}, {Reward: 0}}},
		{Samples: []Sample{{Reward: 5}}},
	}
	a := Advantages(groups)
	near(t, "g0s0", a[0][0], 0.5/(0.5+1e-6), 1e-12)
	near(t, "g0s1", a[0][1], -0.5/(0.5+1e-6), 1e-12)
	near(t, "g1s0", a[1][0], 0, 0)
}

func TestGAEHandWorked(t *testing.T) {
	// δ2 = 1 − 0.7 = 0.3; δ1 = 0.7 − 0.6 = 0.1; δ0 = 0.6 − 0.5 = 0.1
	// A2 = 0.3; A1 = 0.1 + 0.9·0.3 = 0.37; A0 = 0.1 + 0.9·0.37 = 0.433
	adv, ret, err := GAE([]float64{0, 0, 1}, []float64{0.5, 0.6, 0.7}, 1, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{0.433, 0.37, 0.3} {
		near(t, "A", adv[i], want, 1e-12)
	}
	for i, want := range []float64{0.933, 0.97, 1.0} {
		near(t, "return", ret[i], want, 1e-12)
	}
	// γ = λ = 0.5: A2 = 0.3, A1 = −0.25 + 0.25·0.3, A0 = −0.2 + 0.25·A1
	adv, _, err = GAE([]float64{0, 0, 1}, []float64{0.5, 0.6, 0.7}, 0.5, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{-0.24375, -0.175, 0.3} {
		near(t, "A(γ=.5)", adv[i], want, 1e-12)
	}
	// γ = λ = 1: returns are the sums of future rewards.
	_, ret, _ = GAE([]float64{0.1, -0.2, 0.3, 1}, []float64{0.4, 0.1, -0.3, 0.2}, 1, 1)
	for i, want := range []float64{1.2, 1.1, 1.3, 1.0} {
		near(t, "return(λ=1)", ret[i], want, 1e-12)
	}
	if _, _, err := GAE([]float64{1}, []float64{1, 2}, 1, 1); err == nil {
		t.Error("GAE accepted rewards and values of different lengths")
	}
	if _, _, err := GAE([]float64{1}, []float64{1}, 1.5, 1); err == nil {
		t.Error("GAE accepted gamma 1.5")
	}
}

func TestTokenRewardsAndKL(t *testing.T) {
	lp := []float64{math.Log(0.5), math.Log(0.2)}
	ref := []float64{math.Log(0.25), math.Log(0.2)}
	r, err := TokenRewards(2, lp, ref, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "r0", r[0], -0.1*math.Log(2), 1e-12)
	near(t, "r1", r[1], 2, 1e-12)
	near(t, "k1", KLK1(math.Log(0.5), math.Log(0.25)), math.Log(2), 1e-12)
	// Δ = −ln 2: e^Δ − Δ − 1 = 0.5 + ln 2 − 1
	near(t, "k3", KLK3(math.Log(0.5), math.Log(0.25)), 0.5+math.Log(2)-1, 1e-12)
	near(t, "k3 equal", KLK3(-1.3, -1.3), 0, 0)
	if _, err := TokenRewards(1, nil, nil, 0.1); err == nil {
		t.Error("TokenRewards accepted an empty sequence")
	}
}

func TestClippedLossHandWorked(t *testing.T) {
	cases := []struct{ adv, ratio, dual, want float64 }{
		{1, 1.5, 3, -1.2}, // max(−1.5, −1.2)
		{1, 0.5, 3, -0.5}, // max(−0.5, −0.8)
		{2, 1.1, 3, -2.2}, // inside the band
		{-1, 1.5, 3, 1.5}, // max(1.5, 1.2)
		{-1, 0.5, 3, 0.8}, // max(0.5, 0.8)
		{-1, 5, 3, 3},     // dual clip caps at c·|A|
		{-2, 4, 3, 6},     // min(max(8, 2.4), 6)
		{-1, 5, 0, 5},     // dual clip off
		{1, 5, 3, -1.2},   // dual clip never applies to A > 0
	}
	for _, c := range cases {
		near(t, "loss", ClippedLoss(math.Log(c.ratio), 0, c.adv, 0.2, c.dual), c.want, 1e-12)
	}
}

func TestWhiten(t *testing.T) {
	w := Whiten([]float64{1, 2, 3})
	s := math.Sqrt(2.0 / 3)
	for i, want := range []float64{-1 / s, 0, 1 / s} {
		near(t, "whiten", w[i], want, 1e-6)
	}
	if len(Whiten(nil)) != 0 {
		t.Error("Whiten(nil) not empty")
	}
}

func BenchmarkGAE(b *testing.B) {
	// Baseline: one pass that reads both inputs and writes two outputs, the
	// least any GAE must do. Reported: GAE time / baseline time.
	const n = 4096
	r := make([]float64, n)
	v := make([]float64, n)
	for i := range r {
		r[i] = float64(i%7) * 0.1
		v[i] = float64(i%5) * 0.2
	}
	out1 := make([]float64, n)
	out2 := make([]float64, n)
	baseline := func() {
		for i := range r {
			out1[i] = r[i] - v[i]
			out2[i] = r[i] + v[i]
		}
	}
	var gaeNs, baseNs int64
	for b.Loop() {
		t0 := nowNanos()
		if _, _, err := GAE(r, v, 0.99, 0.95); err != nil {
			b.Fatal(err)
		}
		t1 := nowNanos()
		baseline()
		t2 := nowNanos()
		gaeNs += t1 - t0
		baseNs += t2 - t1
	}
	b.ReportMetric(float64(gaeNs)/float64(b.N), "gae-ns/op")
	b.ReportMetric(float64(baseNs)/float64(b.N), "baseline-ns/op")
	if baseNs > 0 {
		b.ReportMetric(float64(gaeNs)/float64(baseNs), "x-baseline")
	}
}

func BenchmarkGroupAdvantages(b *testing.B) {
	// Baseline: summing the rewards once (the mean alone). Each side runs
	// 256 times between clock reads so the clock's cost does not count.
	const inner = 256
	r := make([]float64, 64)
	for i := range r {
		r[i] = float64(i % 3)
	}
	var advNs, baseNs int64
	var sink float64
	for b.Loop() {
		t0 := nowNanos()
		for range inner {
			sink += GroupAdvantages(r)[0]
		}
		t1 := nowNanos()
		for range inner {
			var s float64
			for _, x := range r {
				s += x
			}
			sink += s
		}
		t2 := nowNanos()
		advNs += t1 - t0
		baseNs += t2 - t1
	}
	_ = sink
	b.ReportMetric(float64(advNs)/float64(b.N*inner), "adv-ns/group")
	if baseNs > 0 {
		b.ReportMetric(float64(advNs)/float64(baseNs), "x-baseline")
	}
}

package metrics

import (
	"testing"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

// countPlain is the baseline: the same walk over a trajectory as Observe,
// adding into local integers instead of Prometheus metrics.
func countPlain(t *trajectory.Trajectory, sink map[string]int) {
	sink["runs:"+string(t.Status)]++
	sink["steps"] += len(t.Steps)
	for i := range t.Steps {
		for j := range t.Steps[i].Calls {
			c := &t.Steps[i].Calls[j]
			sink["call:"+c.Tool+":"+callOutcome(c)]++
		}
	}
	for _, d := range t.Decisions {
		sink["decision:"+d.Guard+":"+string(d.Verdict)]++
	}
	for _, a := range t.Assessments {
		sink["judge:"+a.Judge]++
	}
}

// BenchmarkObserve reports Observe's cost per trajectory against a plain
// walk that counts the same events in a map, run alternately in each
// iteration so both see the same machine load (x_plain = observe / plain).
func BenchmarkObserve(b *testing.B) {
	rs := runs()
	reg, err := New()
	if err != nil {
		b.Fatal(err)
	}
	sink := map[string]int{}
	var plain, obs time.Duration
	const batch = 64 // time batches: one trajectory takes about a microsecond
	for i := 0; b.Loop(); i++ {
		t := time.Now()
		for j := range batch {
			countPlain(rs[(i+j)%len(rs)], sink)
		}
		m := time.Now()
		for j := range batch {
			reg.Observe(rs[(i+j)%len(rs)])
		}
		plain += m.Sub(t)
		obs += time.Since(m)
	}
	n := float64(b.N * batch)
	b.ReportMetric(float64(obs.Nanoseconds())/n, "observe_ns/traj")
	b.ReportMetric(float64(plain.Nanoseconds())/n, "plain_ns/traj")
	b.ReportMetric(float64(obs)/float64(plain), "x_plain")
}

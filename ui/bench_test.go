package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/trajectory"
)

// benchPair runs baseline and page alternately in each iteration, so both
// see the same machine load, and reports the time of each and their ratio.
func benchPair(b *testing.B, baseline, page func()) {
	b.Helper()
	var base, pg time.Duration
	n := 0
	for b.Loop() {
		t := time.Now()
		baseline()
		m := time.Now()
		page()
		base += m.Sub(t)
		pg += time.Since(m)
		n++
	}
	b.ReportMetric(float64(pg.Nanoseconds())/float64(n), "page_ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(n), "store_ns/op")
	b.ReportMetric(float64(pg)/float64(base), "x_store")
}

// benchPage times GET path on a UI over n sample runs against baseline,
// the store work the page cannot avoid.
func benchPage(b *testing.B, n int, path string, baseline func(context.Context, *audit.SQLite) error) {
	b.Helper()
	store, _ := newStore(b, sampleRuns(n))
	srv, err := New(store)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	benchPair(b, func() {
		if err := baseline(ctx, store); err != nil {
			b.Fatal(err)
		}
	}, func() { serveOnce(b, srv, path) })
}

func serveOnce(b *testing.B, h http.Handler, path string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
	}
}

// BenchmarkListPage renders a page of 50 runs; the baseline is the store
// query the page cannot avoid (the 50 newest runs).
func BenchmarkListPage(b *testing.B) {
	benchPage(b, 500, "/", func(ctx context.Context, s *audit.SQLite) error {
		_, err := s.List(ctx, audit.Query{Last: 50})
		return err
	})
}

// BenchmarkRunPage renders one run; the baseline is reading it from the
// store.
func BenchmarkRunPage(b *testing.B) {
	benchPage(b, 50, "/runs/run-012", func(ctx context.Context, s *audit.SQLite) error {
		_, err := s.Get(ctx, "run-012")
		return err
	})
}

// BenchmarkChartsPage aggregates 500 runs into the charts; the baseline is
// walking the same runs.
func BenchmarkChartsPage(b *testing.B) {
	benchPage(b, 500, "/charts", func(ctx context.Context, s *audit.SQLite) error {
		return s.Walk(ctx, audit.Query{}, func(*trajectory.Trajectory) error { return nil })
	})
}

// BenchmarkApprovalsPage renders the approvals page over 200 pending and
// 200 decided requests; the baseline is the approval store's List, the
// read the page cannot avoid.
func BenchmarkApprovalsPage(b *testing.B) {
	store, _ := newStore(b, nil)
	d, err := approval.NewDurable(store)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 400 {
		req := pauseRun(b, d, store, fmt.Sprintf("pay-%d", i), "wire", fmt.Sprintf(`{"to":"payee %d","amount":%d}`, i, 10*i), approvalsNow.Add(-time.Duration(i)*time.Minute))
		if i%2 == 1 {
			if _, err := d.Decide(ctx, req.ID, approval.Resolution{Approved: i%4 == 1, By: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	srv, err := New(store, WithToken(approvalsToken), WithApprovals(d), WithClock(func() time.Time { return approvalsNow }))
	if err != nil {
		b.Fatal(err)
	}
	benchPair(b, func() {
		if _, err := d.List(ctx, recentDecisions); err != nil {
			b.Fatal(err)
		}
	}, func() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/approvals", nil)
		req.Header.Set("Authorization", "Bearer "+approvalsToken)
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /approvals: %d %s", rec.Code, rec.Body.String())
		}
	})
}

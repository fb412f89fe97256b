package netsafe

import (
	"context"
	"net/url"
	"testing"
	"time"
)

// BenchmarkCheckURL measures a static URL check (every reading, domain
// rules, address categories; no DNS) against a plain url.Parse of the same
// URLs in the same loop, and reports both and the ratio.
func BenchmarkCheckURL(b *testing.B) {
	p := &Policy{NoResolve: true, DenyDomains: []string{"evil.example", "tracker.example"}}
	urls := []string{
		"https://api.example.com/v1/items?q=weather&page=2",
		"http://93.184.216.34:8080/",
		"http://0x7f.1/",
		"http://[::ffff:127.0.0.1]/admin",
	}
	ctx := context.Background()
	var tCheck, tParse time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := urls[i%len(urls)]
		t0 := time.Now()
		_, _ = url.Parse(u)
		t1 := time.Now()
		_ = p.CheckURL(ctx, u)
		t2 := time.Now()
		tParse += t1.Sub(t0)
		tCheck += t2.Sub(t1)
	}
	b.ReportMetric(float64(tCheck.Nanoseconds())/float64(b.N), "ns-check/url")
	b.ReportMetric(float64(tParse.Nanoseconds())/float64(b.N), "ns-urlparse/url")
	b.ReportMetric(float64(tCheck)/float64(max(tParse, 1)), "ratio")
}

package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/reagent-go/reagent/tools/netsafe"
)

// BenchmarkBrowserRead measures `read` calls on a local page three ways in
// one run, and reports them as ratios:
//   - warm: 50 calls on the tool's long-lived browser;
//   - cold: a new browser started (and closed) for each call, 3 calls;
//   - raw:  50 navigations plus the same text extraction with bare chromedp
//     (no request checks, no egress proxy), the baseline for the tool's
//     overhead.
//
// go test ./tools/browser -run XXX -bench BrowserRead -benchtime 1x
func BenchmarkBrowserRead(b *testing.B) {
	requireChromium(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, htmlPage("Bench", "<h1>Benchmark page</h1>"+strings.Repeat("<p>Some text in a paragraph, <a href='/x'>a link</a>.</p>", 50)))
	}))
	defer srv.Close()
	const warmCalls, coldCalls = 50, 3
	input := fmt.Sprintf(`{"action":"read","url":%q}`, srv.URL)
	opts := []Option{WithPolicy(&netsafe.Policy{AllowLoopback: true})}
	ctx := context.Background()

	warm, err := New(ctx, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer warm.Close()
	if out, _ := warm.Call(ctx, input); !strings.Contains(out, "Benchmark page") {
		b.Fatalf("unexpected page: %s", out)
	}

	// The baseline: a bare chromedp browser with the same flags chromedp
	// uses by default.
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.DisableGPU)
	if os.Geteuid() == 0 {
		allocOpts = append(allocOpts, chromedp.NoSandbox)
	}
	if exe, err := findChromium(""); err == nil {
		allocOpts = append(allocOpts, chromedp.ExecPath(exe))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, allocOpts...)
	defer cancelAlloc()
	rawCtx, cancelRaw := chromedp.NewContext(allocCtx)
	defer cancelRaw()
	if err := chromedp.Do(rawCtx); err != nil {
		b.Fatal(err)
	}
	tabCtx, cancelTab := chromedp.NewContext(rawCtx)
	defer cancelTab()
	if err := chromedp.Do(tabCtx); err != nil { // opens the tab, with no deadline
		b.Fatal(err)
	}
	rawRead := func() {
		cctx, cancel := context.WithTimeout(tabCtx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(cctx, chromedp.Navigate(srv.URL)); err != nil {
			b.Fatal(err)
		}
		p, err := chromedp.Run(cctx, chromedp.Evaluate[pageText](readableJS))
		if err != nil || !strings.Contains(p.Text, "Benchmark page") {
			b.Fatalf("raw read: %v", err)
		}
	}
	rawRead()

	var warmD, coldD, rawD time.Duration
	for b.Loop() {
		// Warm and raw calls alternate, so that load from other processes
		// falls on both alike.
		for range warmCalls {
			t0 := time.Now()
			if out, _ := warm.Call(ctx, input); !strings.Contains(out, "Benchmark page") {
				b.Fatalf("warm read: %s", out)
			}
			warmD += time.Since(t0)
			t0 = time.Now()
			rawRead()
			rawD += time.Since(t0)
		}

		t0 := time.Now()
		for range coldCalls {
			cold, err := New(ctx, opts...)
			if err != nil {
				b.Fatal(err)
			}
			out, _ := cold.Call(ctx, input)
			if err := cold.Close(); err != nil {
				b.Fatal(err)
			}
			if !strings.Contains(out, "Benchmark page") {
				b.Fatalf("cold read: %s", out)
			}
		}
		coldD += time.Since(t0)
	}
	n := float64(b.N)
	warmMs := float64(warmD.Microseconds()) / 1000 / (n * warmCalls)
	rawMs := float64(rawD.Microseconds()) / 1000 / (n * warmCalls)
	coldMs := float64(coldD.Microseconds()) / 1000 / (n * coldCalls)
	b.ReportMetric(warmMs, "warm-ms/call")
	b.ReportMetric(coldMs, "cold-ms/call")
	b.ReportMetric(rawMs, "raw-chromedp-ms/call")
	b.ReportMetric(coldMs/warmMs, "cold/warm")
	b.ReportMetric(warmMs/rawMs, "tool/raw")
}

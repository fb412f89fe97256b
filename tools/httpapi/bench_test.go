package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkCall compares one tool call (argument validation, templates,
// netsafe checks, JSON trimming) with the bare request through a plain
// net/http client, alternating the two against the same local server.
//
// go test ./tools/httpapi -run XXX -bench . -benchtime 2000x
func BenchmarkCall(b *testing.B) {
	payload, _ := json.Marshal(map[string]any{"items": make([]int, 50), "name": strings.Repeat("n", 100)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(payload)
	}))
	defer srv.Close()
	tool, err := New(Spec{Name: "get", URL: srv.URL + "/items/{id}", Query: map[string]string{"q": "{q}"},
		Schema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"q":{"type":"string"}},"required":["id"]}`)},
		WithPolicy(loopbackOK))
	if err != nil {
		b.Fatal(err)
	}
	plain := &http.Client{Timeout: 30 * time.Second}
	ctx := context.Background()
	var toolD, rawD time.Duration
	for b.Loop() {
		t0 := time.Now()
		if out, _ := tool.Call(ctx, `{"id":"a1","q":"x y"}`); !strings.HasPrefix(out, "HTTP 200") {
			b.Fatal(out)
		}
		toolD += time.Since(t0)
		t0 = time.Now()
		resp, err := plain.Get(srv.URL + "/items/a1?q=x+y")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		rawD += time.Since(t0)
	}
	n := float64(b.N)
	b.ReportMetric(float64(toolD.Microseconds())/n, "tool-µs/call")
	b.ReportMetric(float64(rawD.Microseconds())/n, "net/http-µs/call")
	b.ReportMetric(float64(toolD)/float64(rawD), "tool/raw")
}

// BenchmarkTrimJSON compares TrimJSON with a plain decode and compact
// re-encode of the same 100 kB document.
func BenchmarkTrimJSON(b *testing.B) {
	items := make([]map[string]any, 500)
	for i := range items {
		items[i] = map[string]any{"id": i, "name": fmt.Sprintf("item %d", i), "text": strings.Repeat("t", 120)}
	}
	doc, _ := json.Marshal(map[string]any{"items": items})
	var trimD, plainD time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, _, err := TrimJSON(doc, Trim{}); err != nil {
			b.Fatal(err)
		}
		trimD += time.Since(t0)
		t0 = time.Now()
		var v any
		if err := json.Unmarshal(doc, &v); err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(v); err != nil {
			b.Fatal(err)
		}
		plainD += time.Since(t0)
	}
	b.ReportMetric(float64(trimD.Microseconds())/float64(b.N), "trim-µs/op")
	b.ReportMetric(float64(plainD.Microseconds())/float64(b.N), "decode+encode-µs/op")
	b.ReportMetric(float64(trimD)/float64(plainD), "trim/plain")
	b.SetBytes(int64(len(doc)))
}

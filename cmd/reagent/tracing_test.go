package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestDemoExportsOTLP runs the demo with OTEL_EXPORTER_OTLP_ENDPOINT set and
// decodes what reaches a real OTLP/HTTP endpoint.
func TestDemoExportsOTLP(t *testing.T) {
	var mu sync.Mutex
	spans := map[string]int{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans[s.Name]++
				}
			}
		}
		mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	defer collector.Close()

	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}
	_, stderr, err := runCLI(runDemo, env, "--db", filepath.Join(t.TempDir(), "d.db"), "--suites", "arith", "--per-suite", "1")
	require.NoError(t, err, stderr)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, spans["invoke_agent ToolCalling"], "spans: %v", spans)
	assert.GreaterOrEqual(t, spans["chat tiny"], 1, "spans: %v", spans)
}

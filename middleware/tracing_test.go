package middleware_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/reagent-go/reagent/run"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/tools"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/rrm"
)

func tracedRun(t *testing.T, tp *sdktrace.TracerProvider, content bool) {
	t.Helper()
	srv := llmtest.New(t, react("echo", "secret-arg"), react("wire", "x"), final("done"))
	deny := &guardrails.ToolFilter{Deny: guardrails.ToolMatch{Names: []string{"wire"}}}
	agent := agents.NewOneShotAgent(newLLM(t, srv), []tools.Tool{&echoTool{name: "echo"}, &echoTool{name: "wire"}})
	exec := middleware.Wrap(agents.NewExecutor(agent),
		run.WithTracerProvider(tp), run.WithContentCapture(content), run.WithModelName("policy-test"),
		withGuards(deny), run.WithJudge(rrm.NewHeuristic()), run.WithSyncJudge(true))
	_, err := chains.Run(context.Background(), exec, "trace me")
	require.NoError(t, err)
	require.NoError(t, tp.ForceFlush(context.Background()))
}

func TestTracingSpansAndEvents(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracedRun(t, tp, false)

	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	runSpan, ok := byName["invoke_agent OneShotZeroAgent"]
	require.True(t, ok, "spans: %v", names(spans))
	chat, ok := byName["chat policy-test"]
	require.True(t, ok, "spans: %v", names(spans))
	tool, ok := byName["execute_tool echo"]
	require.True(t, ok)
	wire, ok := byName["execute_tool wire"]
	require.True(t, ok)
	for _, child := range []tracetest.SpanStub{chat, tool, wire} {
		assert.Equal(t, runSpan.SpanContext.SpanID(), child.Parent.SpanID(), "%s is a child of the run", child.Name)
	}
	assert.Equal(t, "execute_tool", attr(tool, "gen_ai.operation.name"))
	assert.Equal(t, "echo", attr(tool, "gen_ai.tool.name"))
	assert.Empty(t, attr(tool, "gen_ai.tool.call.arguments"), "no content without opt-in")

	// Guard decisions: an apply_guardrail span per decision, a child of the
	// tool's span, with a gen_ai.guardrail.result event (the draft
	// guardrail conventions).
	var guardSpan *tracetest.SpanStub
	for i, s := range spans {
		if s.Name == "apply_guardrail tools" && s.Parent.SpanID() == wire.SpanContext.SpanID() {
			guardSpan = &spans[i]
		}
	}
	require.NotNil(t, guardSpan, "spans: %v", names(spans))
	assert.Equal(t, "apply_guardrail", attr(*guardSpan, "gen_ai.operation.name"))
	assert.Equal(t, "tools", attr(*guardSpan, "gen_ai.guardrail.component.name"))
	assert.Equal(t, "tool_input", attr(*guardSpan, "gen_ai.guardrail.source"))
	guardEvent := false
	for _, e := range guardSpan.Events {
		if e.Name != "gen_ai.guardrail.result" {
			continue
		}
		guardEvent = true
		for _, kv := range e.Attributes {
			switch kv.Key {
			case "gen_ai.guardrail.result.value":
				assert.Equal(t, "block", kv.Value.AsString())
			case "gen_ai.guardrail.result.type":
				assert.Equal(t, "verdict", kv.Value.AsString())
			}
		}
	}
	var evalEvent bool
	for _, e := range runSpan.Events {
		if e.Name == "gen_ai.evaluation.result" {
			evalEvent = true
			for _, kv := range e.Attributes {
				if kv.Key == "gen_ai.evaluation.name" {
					assert.Equal(t, "heuristic", kv.Value.AsString())
				}
			}
		}
	}
	assert.True(t, guardEvent, "a guard decision is a gen_ai.guardrail.result event")
	assert.Equal(t, run.SchemaURL, tool.InstrumentationScope.SchemaURL, "the conventions' version is pinned in the schema URL")
	assert.True(t, evalEvent, "assessments are gen_ai.evaluation.result events")
}

func TestTracingContentOptIn(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracedRun(t, tp, true)
	for _, s := range exp.GetSpans() {
		if s.Name == "execute_tool echo" {
			assert.Equal(t, "secret-arg", attr(s, "gen_ai.tool.call.arguments"))
			assert.Equal(t, "echo:secret-arg", attr(s, "gen_ai.tool.call.result"))
			return
		}
	}
	t.Fatal("no execute_tool span")
}

// TestTracingOverOTLPHTTP sends spans to a real OTLP/HTTP endpoint and
// decodes them with the OTLP protobuf types.
func TestTracingOverOTLPHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					got = append(got, s.Name)
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	defer collector.Close()

	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(collector.URL+"/v1/traces"))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	tracedRun(t, tp, false)
	require.NoError(t, tp.Shutdown(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, got, "invoke_agent OneShotZeroAgent")
	assert.Contains(t, got, "execute_tool echo")
	assert.Contains(t, got, "chat policy-test")
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/reagent-go/reagent/run"

	"github.com/reagent-go/reagent/internal/telemetry"
)

// tracing exports the agent runs of a command over OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set. It returns the
// middleware options to add and a function that flushes the exporter.
func tracing(ctx context.Context, c *cli) ([]run.Option, func(), error) {
	tp, shutdown, err := telemetry.Setup(ctx, c.Getenv, "reagent")
	if err != nil {
		return nil, nil, err
	}
	if tp == nil {
		return nil, func() {}, nil
	}
	opts := []run.Option{run.WithTracerProvider(tp)}
	if c.Getenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT") == "true" {
		opts = append(opts, run.WithContentCapture(true))
	}
	return opts, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			fmt.Fprintf(c.Stderr, "reagent: flushing traces: %v\n", err)
		}
	}, nil
}

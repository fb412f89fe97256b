package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/reagent-go/reagent/metrics"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// withMetrics serves api with Prometheus metrics at GET /metrics.
func withMetrics(service string, api http.Handler) (http.Handler, *metrics.Registry, error) {
	reg, err := metrics.New(metrics.WithRuntimeMetrics(), metrics.WithConstLabels(map[string]string{"service": service}))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: metrics: %w", service, err)
	}
	h, err := reg.Serve(api)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: metrics: %w", service, err)
	}
	return h, reg, nil
}

// observedJudge records every judgment's latency, score and errors.
type observedJudge struct {
	inner rrm.Judge
	reg   *metrics.Registry
}

func (o observedJudge) Judge(ctx context.Context, t *trajectory.Trajectory) trajectory.Assessment {
	a := o.inner.Judge(ctx, t)
	o.reg.ObserveAssessment(a)
	return a
}

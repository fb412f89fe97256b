package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Serve returns a handler that serves api, counts its requests by code and
// method and times them (reagent_http_requests_total,
// reagent_http_request_duration_seconds), and answers GET /metrics from r.
// The serve-* commands mount their APIs through it.
func (r *Registry) Serve(api http.Handler) (http.Handler, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "reagent", Name: "http_requests_total", Help: "HTTP requests served, by status code and method.",
	}, []string{"code", "method"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "reagent", Name: "http_request_duration_seconds", Help: "Time to serve an HTTP request.",
		Buckets: prometheus.DefBuckets,
	}, []string{"code", "method"})
	for _, c := range []prometheus.Collector{requests, duration} {
		if err := r.Register(c); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.Handler())
	mux.Handle("/", promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(requests, api)))
	return mux, nil
}

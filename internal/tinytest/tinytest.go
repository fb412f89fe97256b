// Package tinytest serves reagent's embedded policy (the tiny model of
// `reagent serve-model`) on loopback for tests, in process: the same
// model and OpenAI-compatible handler the command serves, so that a test
// can run an example exactly as its help text says, offline.
package tinytest

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/reagent-go/reagent/agents/tinylm"
	"github.com/reagent-go/reagent/agents/tinylm/serve"
)

var (
	once  sync.Once
	model *tinylm.Model
	err   error
)

// Serve starts the embedded model behind serve.NewHandler on 127.0.0.1 and
// returns its base URL, ending in /v1. The server is closed when the test
// ends. The model is loaded once per test binary.
func Serve(t testing.TB) string {
	t.Helper()
	once.Do(func() { model, err = tinylm.Default(tinylm.WithName("tiny")) })
	if err != nil {
		t.Fatalf("tinytest: loading the embedded model: %v", err)
	}
	srv := httptest.NewServer(serve.NewHandler(model, serve.WithModelName("tiny"), serve.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

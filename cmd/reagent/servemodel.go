package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/reagent-go/reagent/agents/tinylm"
	"github.com/reagent-go/reagent/agents/tinylm/serve"
)

const serveModelUsage = `serve-model [--addr HOST:PORT] [--model DIR] [flags]

Serves the built-in tiny model (pure Go, CPU) over the OpenAI chat API:
POST /v1/chat/completions (with streaming and tool calls), GET /v1/models and
GET /health. Point any OpenAI client at http://HOST:PORT/v1 with any API key.

--model is a directory holding model.safetensors and config.json, as the
PyTorch backend writes them; without it the model embedded in the binary is
served, when there is one.`

func runServeModel(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "serve-model", serveModelUsage)
	addr := fs.String("addr", "127.0.0.1:8091", "listen address (port 0 picks a free port)")
	dir := fs.String("model", "", "model directory (model.safetensors + config.json); default: the embedded model")
	name := fs.String("name", "tiny", "model id reported to clients")
	parallel := fs.Int("parallel", runtime.GOMAXPROCS(0), "generations run at once; more requests wait")
	maxBody := fs.Int64("max-body", 4<<20, "largest request body in bytes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *parallel < 1 || *maxBody < 1 {
		return usagef("serve-model: --parallel and --max-body must be positive")
	}
	var m *tinylm.Model
	var err error
	if *dir != "" {
		m, err = tinylm.Load(*dir, tinylm.WithName(*name))
	} else {
		m, err = tinylm.Default(tinylm.WithName(*name))
		if errors.Is(err, tinylm.ErrNoEmbeddedModel) {
			return usagef("serve-model: this binary has no embedded model yet; pass --model DIR")
		}
	}
	if err != nil {
		return fmt.Errorf("serve-model: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve-model: %w", err)
	}
	log := slog.New(slog.NewTextHandler(c.Stderr, nil))
	cfg := m.Config()
	api := serve.NewHandler(m, serve.WithModelName(*name), serve.WithMaxConcurrent(*parallel),
		serve.WithMaxBodyBytes(*maxBody), serve.WithLogger(log))
	h, _, err := withMetrics("serve-model", api)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(c.Stdout, "serving %s (d_model %d, %d layers, context %d) on http://%s/v1\n",
		*name, cfg.DModel, cfg.NLayer, cfg.MaxSeq, ln.Addr())
	if err := serveUntilDone(ctx, srv, ln, 10*time.Second); err != nil {
		return fmt.Errorf("serve-model: %w", err)
	}
	return nil
}

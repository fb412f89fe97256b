// Package serve exposes a langchaingo llms.Model over the OpenAI chat
// completions API: POST /v1/chat/completions (plain or streamed), GET
// /v1/models and GET /health. `reagent serve-model` uses it for the tiny
// model; any OpenAI client, langchaingo's llms/openai included, can talk to
// it.
package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/reagent-go/reagent/agents/tinylm"
	"github.com/tmc/langchaingo/llms"
)

// Handler serves one model over the OpenAI chat API. It is safe for
// concurrent use; at most the configured number of generations run at once
// and the others wait (until their request is cancelled).
type Handler struct {
	model   llms.Model
	name    string
	created int64
	slots   chan struct{}
	maxBody int64
	log     *slog.Logger
	mux     *http.ServeMux
}

// Option configures a Handler.
type Option func(*Handler)

// WithModelName sets the model id reported by /v1/models and in responses
// (default "tiny"). Requests may name any model: there is only one.
func WithModelName(name string) Option { return func(h *Handler) { h.name = name } }

// WithMaxConcurrent bounds how many generations run at once (default
// GOMAXPROCS).
func WithMaxConcurrent(n int) Option {
	return func(h *Handler) {
		if n > 0 {
			h.slots = make(chan struct{}, n)
		}
	}
}

// WithMaxBodyBytes bounds the size of a request body (default 4 MiB).
func WithMaxBodyBytes(n int64) Option { return func(h *Handler) { h.maxBody = n } }

// WithLogger sets the logger for request summaries (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// NewHandler returns a Handler serving model.
func NewHandler(model llms.Model, opts ...Option) *Handler {
	h := &Handler{
		model:   model,
		name:    "tiny",
		created: time.Now().Unix(),
		slots:   make(chan struct{}, runtime.GOMAXPROCS(0)),
		maxBody: 4 << 20,
		log:     slog.Default(),
	}
	for _, o := range opts {
		o(h)
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("POST /v1/chat/completions", h.chat)
	h.mux.HandleFunc("GET /v1/models", h.models)
	h.mux.HandleFunc("GET /health", h.health)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "model": h.name})
}

func (h *Handler) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data":   []any{map[string]any{"id": h.name, "object": "model", "created": h.created, "owned_by": "reagent"}},
	})
}

func (h *Handler) chat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_request_error", "reading the request body: "+err.Error())
		return
	}
	req, err := parseRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	case <-r.Context().Done():
		return // the client gave up while waiting
	}
	id := "chatcmpl-" + randomHex(12)
	var s *sse
	opts := req.options
	if req.stream {
		s = &sse{w: w, id: id, model: h.name, created: start.Unix()}
		opts = append(opts, llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
			return s.content(string(chunk))
		}))
	}
	resp, err := h.model.GenerateContent(r.Context(), req.messages, opts...)
	if err == nil && (resp == nil || len(resp.Choices) == 0) {
		err = errors.New("the model returned no choice")
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	choice := resp.Choices[0]
	u := usageOf(choice)
	finish := finishReason(choice)
	calls := wireToolCalls(choice.ToolCalls)
	if s != nil {
		if err := s.finish(calls, finish, u, req.includeUsage); err != nil {
			h.log.Debug("serve: streaming response", "error", err)
		}
	} else {
		writeJSON(w, http.StatusOK, completion{
			ID: id, Object: "chat.completion", Created: start.Unix(), Model: h.name,
			Choices: []completionChoice{{Message: wireMessage{Role: "assistant", Content: choice.Content, ToolCalls: calls}, FinishReason: finish}},
			Usage:   u,
		})
	}
	h.log.Info("serve: chat completion", "id", id, "prompt_tokens", u.PromptTokens, "completion_tokens", u.CompletionTokens,
		"finish_reason", finish, "stream", req.stream, "duration", time.Since(start))
}

// fail reports a generation error: 400 for bad input, nothing for a client
// that went away, 500 otherwise; mid-stream, as an error event.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *sse, err error) {
	if r.Context().Err() != nil {
		h.log.Debug("serve: client went away", "error", err)
		return
	}
	status, kind := http.StatusInternalServerError, "server_error"
	if errors.Is(err, tinylm.ErrInvalidInput) {
		status, kind = http.StatusBadRequest, "invalid_request_error"
	} else {
		h.log.Error("serve: generation failed", "error", err)
	}
	if s != nil && s.started {
		_ = s.event(map[string]any{"error": errorBody{Message: err.Error(), Type: kind}})
		return
	}
	writeError(w, status, kind, err.Error())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// usage is the OpenAI usage block.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func usageOf(c *llms.ContentChoice) usage {
	n := func(k string) int {
		v, _ := c.GenerationInfo[k].(int)
		return v
	}
	return usage{n(tinylm.InfoPromptTokens), n(tinylm.InfoCompletionTokens), n(tinylm.InfoTotalTokens)}
}

func finishReason(c *llms.ContentChoice) string {
	if c.StopReason == "" {
		return tinylm.StopReasonStop
	}
	return c.StopReason
}

type completion struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   usage              `json:"usage"`
}

type completionChoice struct {
	Index        int         `json:"index"`
	Message      wireMessage `json:"message"`
	FinishReason string      `json:"finish_reason"`
}

type wireMessage struct {
	Role      string         `json:"role"`
	Content   string         `json:"content"`
	ToolCalls []wireToolCall `json:"tool_calls,omitempty"`
}

type wireToolCall struct {
	Index    *int   `json:"index,omitempty"` // only in stream deltas
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

func wireToolCalls(calls []llms.ToolCall) []wireToolCall {
	var out []wireToolCall
	for _, c := range calls {
		if c.FunctionCall == nil {
			continue
		}
		var w wireToolCall
		w.ID, w.Type = c.ID, "function"
		w.Function.Name, w.Function.Arguments = c.FunctionCall.Name, c.FunctionCall.Arguments
		out = append(out, w)
	}
	return out
}

type errorBody struct {
	Message string `json:"message"`
	Type    string `json:"type"`
}

func writeError(w http.ResponseWriter, status int, kind, msg string) {
	writeJSON(w, status, map[string]errorBody{"error": {Message: msg, Type: kind}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may be gone; nothing to do about it
}

// sse writes a streamed completion as server-sent events.
type sse struct {
	w       http.ResponseWriter
	id      string
	model   string
	created int64
	started bool
}

type chunkChoice struct {
	Index        int            `json:"index"`
	Delta        map[string]any `json:"delta"`
	FinishReason *string        `json:"finish_reason"`
}

func (s *sse) chunk(choices []chunkChoice, u *usage) error {
	if choices == nil {
		choices = []chunkChoice{}
	}
	v := map[string]any{"id": s.id, "object": "chat.completion.chunk", "created": s.created, "model": s.model, "choices": choices}
	if u != nil {
		v["usage"] = u
	}
	return s.event(v)
}

func (s *sse) event(v any) error {
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		s.w.WriteHeader(http.StatusOK)
		if err := s.write(map[string]any{"id": s.id, "object": "chat.completion.chunk", "created": s.created, "model": s.model,
			"choices": []chunkChoice{{Delta: map[string]any{"role": "assistant", "content": ""}}}}); err != nil {
			return err
		}
	}
	return s.write(v)
}

func (s *sse) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.w, "data: %s\n\n", b); err != nil {
		return err
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

func (s *sse) content(text string) error {
	return s.chunk([]chunkChoice{{Delta: map[string]any{"content": text}}}, nil)
}

func (s *sse) finish(calls []wireToolCall, reason string, u usage, includeUsage bool) error {
	if len(calls) > 0 {
		for i := range calls {
			calls[i].Index = &i
		}
		if err := s.chunk([]chunkChoice{{Delta: map[string]any{"tool_calls": calls}}}, nil); err != nil {
			return err
		}
	}
	if err := s.chunk([]chunkChoice{{Delta: map[string]any{}, FinishReason: &reason}}, nil); err != nil {
		return err
	}
	if includeUsage {
		if err := s.chunk(nil, &u); err != nil {
			return err
		}
	}
	_, err := io.WriteString(s.w, "data: [DONE]\n\n")
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
	return err
}

// Package llmtest is the one test double reagent allows: an httptest server
// that speaks the OpenAI chat-completions API and answers from a script,
// including broken answers (bad status codes, malformed bodies, delays).
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Reply is one scripted answer. The zero Status means 200 with a chat
// completion built from Content, Reasoning and ToolCalls; Body, when set,
// is sent raw. Another Status with no Body gets an OpenAI-style error body.
type Reply struct {
	Content string
	// Reasoning is sent as the message's reasoning_content when set.
	Reasoning  string
	ToolCalls  []ToolCall
	Status     int
	Body       string
	Delay      time.Duration
	RetryAfter string
	// PromptTokens and CompletionTokens are reported as usage.
	PromptTokens, CompletionTokens int
}

// ToolCall is a tool call in a scripted reply.
type ToolCall struct {
	ID, Name, Arguments string
}

// Request is a chat-completions request as the server received it.
type Request struct {
	Model       string          `json:"model"`
	Messages    []Message       `json:"messages"`
	Temperature *float64        `json:"temperature"`
	Stop        []string        `json:"stop"`
	Tools       json.RawMessage `json:"tools"`
	Functions   json.RawMessage `json:"functions"`
	// Header holds the request's HTTP headers (Authorization and so on).
	Header http.Header `json:"-"`
}

// Tool is one function tool a request offered the model.
type Tool struct {
	Name, Description string
	Parameters        json.RawMessage
}

// ToolDefs decodes r.Tools; it is empty when the request sent no tools.
func (r Request) ToolDefs() []Tool {
	var wire []struct {
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	}
	_ = json.Unmarshal(r.Tools, &wire) // absent or malformed: no tools
	var out []Tool
	for _, w := range wire {
		out = append(out, Tool{Name: w.Function.Name, Description: w.Function.Description, Parameters: w.Function.Parameters})
	}
	return out
}

// Message is one message of a request. Content is flattened to text.
type Message struct {
	Role       string          `json:"role"`
	Content    string          `json:"-"`
	RawContent json.RawMessage `json:"content"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  json.RawMessage `json:"tool_calls"`
}

// Calls decodes m.ToolCalls, the tool calls of an assistant message; it is
// empty when the message has none.
func (m Message) Calls() []ToolCall {
	var wire []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	_ = json.Unmarshal(m.ToolCalls, &wire) // absent or malformed: no calls
	var out []ToolCall
	for _, w := range wire {
		out = append(out, ToolCall{ID: w.ID, Name: w.Function.Name, Arguments: w.Function.Arguments})
	}
	return out
}

// Server is a scripted OpenAI-compatible endpoint.
type Server struct {
	*httptest.Server
	// URL is the base URL to give clients, ending in /v1.
	URL string

	mu       sync.Mutex
	next     func(Request) Reply
	requests []Request

	inflight, peak atomic.Int64
}

// Script returns a reply function that answers with replies in order and
// fails the request (HTTP 500, "script exhausted") after the last one.
func Script(replies ...Reply) func(Request) Reply {
	var mu sync.Mutex
	i := 0
	return func(Request) Reply {
		mu.Lock()
		defer mu.Unlock()
		if i >= len(replies) {
			return Reply{Status: http.StatusInternalServerError, Body: `{"error":{"message":"llmtest: script exhausted"}}`}
		}
		r := replies[i]
		i++
		return r
	}
}

// New starts a server answering with replies in order, closed when the test
// ends.
func New(t testing.TB, replies ...Reply) *Server {
	return NewFunc(t, Script(replies...))
}

// NewFunc starts a server whose replies are computed from each request.
func NewFunc(t testing.TB, next func(Request) Reply) *Server {
	s := &Server{next: next}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.Server.URL + "/v1"
	t.Cleanup(s.Close)
	return s
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// MaxInFlight returns the most requests the server was handling at once,
// delays included, so tests can check a client's concurrency bound.
func (s *Server) MaxInFlight() int {
	return int(s.peak.Load())
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	for i := range req.Messages {
		req.Messages[i].Content = flatten(req.Messages[i].RawContent)
	}
	req.Header = r.Header.Clone()
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	reply := s.next(req)
	if reply.Delay > 0 {
		select {
		case <-time.After(reply.Delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	if reply.Body != "" || status != http.StatusOK {
		body := reply.Body
		if body == "" {
			body = fmt.Sprintf(`{"error":{"message":"llmtest: scripted status %d","type":"server_error"}}`, status)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		return
	}
	_ = json.NewEncoder(w).Encode(completion(req.Model, reply))
}

func flatten(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

func completion(model string, r Reply) map[string]any {
	msg := map[string]any{"role": "assistant", "content": r.Content}
	if r.Reasoning != "" {
		msg["reasoning_content"] = r.Reasoning
	}
	finish := "stop"
	if len(r.ToolCalls) > 0 {
		calls := make([]map[string]any, len(r.ToolCalls))
		for i, tc := range r.ToolCalls {
			id := tc.ID
			if id == "" {
				id = fmt.Sprintf("call_%d", i)
			}
			calls[i] = map[string]any{
				"id":       id,
				"type":     "function",
				"function": map[string]any{"name": tc.Name, "arguments": tc.Arguments},
			}
		}
		msg["tool_calls"] = calls
		finish = "tool_calls"
	}
	if model == "" {
		model = "llmtest"
	}
	return map[string]any{
		"id":      "chatcmpl-llmtest",
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   model,
		"choices": []map[string]any{{"index": 0, "message": msg, "finish_reason": finish}},
		"usage": map[string]any{
			"prompt_tokens":     r.PromptTokens,
			"completion_tokens": r.CompletionTokens,
			"total_tokens":      r.PromptTokens + r.CompletionTokens,
		},
	}
}

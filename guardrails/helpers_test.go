package guardrails

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

// openAIServer speaks the OpenAI chat-completions API with scripted
// replies: each request gets the next reply (the last one repeats). A
// reply with status other than 200 is sent as an error; "" content is a
// valid response with empty content.
type openAIServer struct {
	*httptest.Server
	mu       sync.Mutex
	replies  []scripted
	requests atomic.Int32
	bodies   []string
}

type scripted struct {
	status  int
	content string
	delay   time.Duration
}

func newOpenAIServer(t *testing.T, replies ...scripted) *openAIServer {
	t.Helper()
	s := &openAIServer{replies: replies}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *openAIServer) URL() string { return s.Server.URL + "/v1" }

func (s *openAIServer) handle(w http.ResponseWriter, r *http.Request) {
	n := int(s.requests.Add(1)) - 1
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(body))
	rep := s.replies[min(n, len(s.replies)-1)]
	s.mu.Unlock()
	if rep.delay > 0 {
		select {
		case <-time.After(rep.delay):
		case <-r.Context().Done():
			return
		}
	}
	if rep.status != 0 && rep.status != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		fmt.Fprintf(w, `{"error":{"message":"scripted failure","type":"server_error"}}`)
		return
	}
	resp := map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", n), "object": "chat.completion", "created": time.Now().Unix(), "model": "judge",
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": rep.content}}},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func rrmReply(score float64, critique string) scripted {
	return scripted{content: fmt.Sprintf("<think>checking the run</think><critique>%s</critique><score>%.2f</score>", critique, score)}
}

// run builds a trajectory with the given executed calls (tool, input).
func run(calls ...trajectory.ToolCall) *trajectory.Trajectory {
	t := &trajectory.Trajectory{SchemaVersion: trajectory.SchemaVersion, ID: "run-1", Task: "find the weather", Status: trajectory.StatusRunning, StartedAt: time.Now()}
	for i, c := range calls {
		if c.ID == "" {
			c.ID = fmt.Sprintf("c%d", i)
		}
		if c.Observation == "" && c.Error == "" && !c.Blocked {
			c.Observation, c.Duration = "ok", time.Millisecond // it ran
		}
		t.Steps = append(t.Steps, trajectory.Step{Index: i, Calls: []trajectory.ToolCall{c}})
	}
	return t
}

func callEvent(tool, input string, tags ...string) *Event {
	return &Event{
		Kind: trajectory.EventToolCall,
		Tool: trajectory.ToolSpec{Name: tool, Tags: tags},
		Call: &trajectory.ToolCall{ID: "pending", Tool: tool, Input: input},
		Step: 0, Trajectory: run(),
	}
}

func resultEvent(tool, input, obs string, tags ...string) *Event {
	ev := callEvent(tool, input, tags...)
	ev.Kind = trajectory.EventToolResult
	ev.Call.Observation = obs
	return ev
}

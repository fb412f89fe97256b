package llmtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// post sends body to srv's chat endpoint and returns the status and body.
func post(t *testing.T, srv *Server, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestReplies(t *testing.T) {
	srv := New(t,
		Reply{Content: "answer", Reasoning: "because", ToolCalls: []ToolCall{{Name: "calc", Arguments: `{"x":1}`}}},
		Reply{Status: http.StatusTooManyRequests},
	)
	const req = `{"model":"m","temperature":0,"messages":[
		{"role":"user","content":[{"type":"text","text":"hi "},{"type":"text","text":"there"}]},
		{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"calc","arguments":"{}"}}]}],
		"tools":[{"type":"function","function":{"name":"calc","description":"adds","parameters":{"type":"object"}}}]}`

	status, body := post(t, srv, req)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var got struct {
		Choices []struct {
			Message struct {
				Content          string `json:"content"`
				ReasoningContent string `json:"reasoning_content"`
				ToolCalls        []struct {
					ID string `json:"id"`
				} `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	m := got.Choices[0].Message
	if m.Content != "answer" || m.ReasoningContent != "because" || len(m.ToolCalls) != 1 || m.ToolCalls[0].ID != "call_0" || got.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("reply %s", body)
	}

	// A scripted error status with no body gets an OpenAI-style error.
	status, body = post(t, srv, req)
	if status != http.StatusTooManyRequests || !strings.Contains(body, `"error"`) {
		t.Errorf("error reply %d %s", status, body)
	}
	// Past the script: 500.
	if status, _ = post(t, srv, req); status != http.StatusInternalServerError {
		t.Errorf("exhausted script answered %d", status)
	}

	r := srv.Requests()[0]
	if r.Header.Get("Authorization") != "Bearer sk-test" {
		t.Errorf("header %v", r.Header)
	}
	if r.Temperature == nil || *r.Temperature != 0 || r.Messages[0].Content != "hi there" {
		t.Errorf("request %+v", r)
	}
	if d := r.ToolDefs(); len(d) != 1 || d[0].Name != "calc" || d[0].Description != "adds" || string(d[0].Parameters) != `{"type":"object"}` {
		t.Errorf("tools %+v", d)
	}
	if c := r.Messages[1].Calls(); len(c) != 1 || c[0] != (ToolCall{ID: "c1", Name: "calc", Arguments: "{}"}) {
		t.Errorf("calls %+v", c)
	}
	if r.Messages[0].Calls() != nil || (Request{}).ToolDefs() != nil {
		t.Error("no tools and no calls should decode to nothing")
	}
}

func TestMaxInFlight(t *testing.T) {
	// Each reply waits until all three requests have arrived, so all three
	// are in flight at once.
	var arrived sync.WaitGroup
	arrived.Add(3)
	srv := NewFunc(t, func(Request) Reply {
		arrived.Done()
		arrived.Wait()
		return Reply{Content: "ok"}
	})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(srv.URL+"/chat/completions", "application/json", strings.NewReader(`{"messages":[]}`))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if n := srv.MaxInFlight(); n != 3 {
		t.Errorf("max in flight %d, want 3", n)
	}
}

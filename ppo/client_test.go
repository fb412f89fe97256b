package ppo

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func response(code int, ctype, body string) *http.Response {
	h := http.Header{}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

func TestDecodeResponse(t *testing.T) {
	var m Metrics
	if err := decodeResponse(response(200, "application/json", `{"step": 3, "policy_loss": -0.5}`), &m); err != nil || m.Step != 3 || m.PolicyLoss != -0.5 {
		t.Fatalf("good answer: %+v, %v", m, err)
	}
	err := decodeResponse(response(400, "application/json", `{"error": {"message": "groups: must be a non-empty list", "type": "invalid_request_error"}}`), &m)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Message != "groups: must be a non-empty list" || !strings.Contains(err.Error(), "refused") {
		t.Errorf("400: %v", err)
	}
	err = decodeResponse(response(502, "text/html", `<html>Bad Gateway</html>`), &m)
	if !errors.As(err, &ae) || ae.StatusCode != 502 || !strings.Contains(ae.Message, "Bad Gateway") {
		t.Errorf("502 html: %v", err)
	}
	for name, r := range map[string]*http.Response{
		"html":     response(200, "text/html", "<html>hello</html>"),
		"garbage":  response(200, "application/json", "{not json"),
		"trailing": response(200, "application/json", `{"step": 1} {"step": 2}`),
		"empty":    response(200, "application/json", ""),
		"type":     response(200, "application/json", `{"step": "three"}`),
	} {
		if err := decodeResponse(r, &m); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: err = %v, want ErrBadResponse", name, err)
		}
	}
}

func TestRetryable(t *testing.T) {
	refused := &transportError{err: ErrUnavailable, beforeSend: true}
	lost := &transportError{err: ErrUnavailable}
	cases := []struct {
		err        error
		idempotent bool
		want       bool
	}{
		{refused, false, true}, // never reached the backend: safe to resend a train step
		{lost, false, false},   // may have been applied: never resend a train step
		{lost, true, true},
		{&APIError{StatusCode: 503}, false, true},
		{&APIError{StatusCode: 502}, false, false},
		{&APIError{StatusCode: 504}, true, true},
		{&APIError{StatusCode: 400}, true, false},
		{&APIError{StatusCode: 500}, true, false},
		{errors.New("other"), true, false},
	}
	for i, c := range cases {
		if got := retryable(c.err, c.idempotent); got != c.want {
			t.Errorf("case %d (%v, idempotent %v): retryable = %v, want %v", i, c.err, c.idempotent, got, c.want)
		}
	}
}

func TestNewClientURL(t *testing.T) {
	for _, bad := range []string{"", "localhost:8000", "ftp://x", "http://", "http://a b"} {
		if _, err := NewClient(bad); err == nil {
			t.Errorf("NewClient(%q) accepted", bad)
		}
	}
	c, err := NewClient("http://127.0.0.1:8000/v1/")
	if err != nil || c.BaseURL() != "http://127.0.0.1:8000" {
		t.Errorf("NewClient trims /v1: %v, %v", c, err)
	}
}

func TestParseListening(t *testing.T) {
	u, err := parseListening([]byte(`{"listening": "http://127.0.0.1:4242", "port": 4242, "model": "tiny"}`))
	if err != nil || u != "http://127.0.0.1:4242" {
		t.Fatalf("got %q, %v", u, err)
	}
	for _, bad := range []string{"", "Traceback (most recent call last):", `{"listening": ""}`, `{"listening": "ftp://x", "port": 1}`, `{"listening": "http://x", "port": 99999}`} {
		if _, err := parseListening([]byte(bad)); err == nil {
			t.Errorf("parseListening(%q) accepted", bad)
		}
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(200, `{"step": 1, "kl": 0.01}`)
	f.Add(400, `{"error": {"message": "bad", "type": "invalid_request_error"}}`)
	f.Add(500, `Internal Server Error`)
	f.Add(200, `[1,2,3]`)
	f.Add(200, `{"step": 1e999}`)
	f.Fuzz(func(t *testing.T, code int, body string) {
		if code < 100 || code > 599 {
			return
		}
		var m Metrics
		err := decodeResponse(response(code, "application/json", body), &m)
		if code >= 300 || code < 200 {
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != code {
				t.Fatalf("status %d gave %v", code, err)
			}
		}
	})
}

func FuzzParseListening(f *testing.F) {
	f.Add(`{"listening": "http://127.0.0.1:1", "port": 1}`)
	f.Add(`{"listening": 5}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, line string) {
		u, err := parseListening([]byte(line))
		if err == nil && !strings.HasPrefix(u, "http://") {
			t.Fatalf("accepted %q as %q", line, u)
		}
	})
}

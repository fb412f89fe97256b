package approval

import (
	"bytes"
	"context"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/trajectory"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader in
// different goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestTerminalApprover(t *testing.T) {
	ctx := context.Background()
	req := Request{Event: trajectory.EventToolCall, Tool: "pay", Input: "amount=10\x1b[2J\x1b]0;pwned\x07",
		Escalations: []Escalation{{Guard: "tools", Reason: "tool \"pay\" needs approval"}}}

	var out lockedBuffer
	a := NewTerminalApprover(strings.NewReader("y\nno\n"), &out)
	defer a.Close()
	res, err := a.Approve(ctx, req)
	require.NoError(t, err)
	assert.True(t, res.Approved)
	assert.Equal(t, "terminal", res.By)
	assert.Contains(t, out.String(), "Approve? [y/N]")
	assert.Contains(t, out.String(), `\u001B[2J`, "escape sequences are shown, not interpreted")
	assert.NotContains(t, out.String(), "\x1b")

	res, err = a.Approve(ctx, req)
	require.NoError(t, err)
	assert.False(t, res.Approved)

	_, err = a.Approve(ctx, req)
	assert.ErrorContains(t, err, "input closed", "EOF denies")
}

func TestTerminalApproverTimeoutDiscardsLateAnswer(t *testing.T) {
	pr, pw := io.Pipe()
	var out lockedBuffer
	a := NewTerminalApprover(pr, &out)
	defer a.Close()
	defer pw.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := a.Approve(ctx, Request{Tool: "first"})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The operator answers the first (expired) prompt late: the write
	// returns once the reading goroutine has taken the line; wait until it
	// has numbered it (an event, not a delay).
	fmt.Fprintln(pw, "y")
	require.Eventually(t, func() bool { return a.read.Load() == 1 }, 10*time.Second, time.Millisecond)

	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	done := make(chan Resolution, 1)
	go func() {
		res, err := a.Approve(ctx2, Request{Tool: "second"})
		if err == nil {
			done <- res
		}
		close(done)
	}()
	// Wait for the second prompt, then deny it.
	require.Eventually(t, func() bool { return strings.Count(out.String(), "Approve?") == 2 }, time.Second, 5*time.Millisecond)
	fmt.Fprintln(pw, "n")
	res, ok := <-done
	require.True(t, ok, "second approval got an answer")
	assert.False(t, res.Approved, "the late 'y' for the first prompt must not approve the second")
}

func TestChannelApprover(t *testing.T) {
	a := NewChannelApprover()
	go func() {
		p := <-a.Requests()
		p.Resolve(Resolution{Approved: p.Request.Tool == "ok", By: "bot"})
		p.Resolve(Resolution{Approved: false}) // ignored
	}()
	res, err := a.Approve(context.Background(), Request{Tool: "ok"})
	require.NoError(t, err)
	assert.True(t, res.Approved)
	assert.Equal(t, "bot", res.By)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = a.Approve(ctx, Request{Tool: "nobody listens"})
	assert.ErrorIs(t, err, context.DeadlineExceeded)

}

func TestWebhookApproverAgainstRealServer(t *testing.T) {
	secret := []byte("s3cret")
	var got atomic.Value
	srv := httptest.NewServer(WebhookHandler(secret, func(_ context.Context, req Request) Resolution {
		got.Store(req)
		if strings.Contains(req.Input, "refund") {
			return Resolution{Approved: true, By: "alice"}
		}
		return Resolution{Approved: false, By: "alice", Reason: "too large"}
	}))
	defer srv.Close()

	w, err := NewWebhookApprover(srv.URL, secret, WithSignedAnswers())
	require.NoError(t, err)
	assert.Equal(t, "webhook", w.Name())
	assert.Equal(t, "webhook "+srv.URL, w.String())
	req := Request{ID: NewRequestID(), Event: trajectory.EventToolCall, Tool: "pay", Input: `{"action":"refund","amount":10}`, RunID: "run-42",
		Escalations: []Escalation{{Guard: "tools", Reason: "needs approval"}}}
	res, err := w.Approve(context.Background(), req)
	require.NoError(t, err)
	assert.True(t, res.Approved)
	assert.Equal(t, "alice", res.By)
	seen := got.Load().(Request)
	assert.Equal(t, req.ID, seen.ID)
	assert.Equal(t, "run-42", seen.RunID)
	assert.Equal(t, req.Input, seen.Input)
	require.Len(t, seen.Escalations, 1)
	assert.Equal(t, "tools", seen.Escalations[0].Guard)

	req.ID, req.Input = NewRequestID(), `{"action":"charge","amount":1e6}`
	res, err = w.Approve(context.Background(), req)
	require.NoError(t, err)
	assert.False(t, res.Approved)
	assert.Equal(t, "too large", res.Reason)

	// A request with the wrong signature is refused by the handler, and the
	// approver reports the 401.
	bad, err := NewWebhookApprover(srv.URL, []byte("wrong"))
	require.NoError(t, err)
	_, err = bad.Approve(context.Background(), req)
	assert.ErrorContains(t, err, "401")
}

func TestWebhookApproverRefusesBadAnswers(t *testing.T) {
	secret := []byte("k")
	var mode atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !VerifySignature(secret, body, r.Header.Get(SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var req Request
		json.Unmarshal(body, &req)
		switch mode.Load().(string) {
		case "other-id":
			fmt.Fprintf(w, `{"id":"someone-else","approved":true}`)
		case "not-json":
			fmt.Fprint(w, "yes please")
		case "no-field":
			fmt.Fprint(w, `{"by":"x"}`)
		case "forged-signature":
			w.Header().Set(SignatureHeader, "sha256=00")
			fmt.Fprintf(w, `{"id":%q,"approved":true}`, req.ID)
		case "slow":
			<-r.Context().Done() // answers only after the approver gave up
			fmt.Fprintf(w, `{"id":%q,"approved":true}`, req.ID)
		case "500":
			http.Error(w, "oops", 500)
		default:
			fmt.Fprintf(w, `{"id":%q,"approved":true,"by":"carol"}`, req.ID)
		}
	}))
	defer srv.Close()
	w, err := NewWebhookApprover(srv.URL, secret, WithWebhookTimeout(100*time.Millisecond))
	require.NoError(t, err)
	for _, m := range []string{"other-id", "not-json", "no-field", "forged-signature", "slow", "500"} {
		mode.Store(m)
		_, err := w.Approve(context.Background(), Request{ID: "r1"})
		assert.Error(t, err, m)
	}
	mode.Store("ok")
	res, err := w.Approve(context.Background(), Request{ID: "r1"})
	require.NoError(t, err)
	assert.True(t, res.Approved)
	assert.Equal(t, "carol", res.By)

	strict, _ := NewWebhookApprover(srv.URL, secret, WithSignedAnswers())
	_, err = strict.Approve(context.Background(), Request{ID: "r1"})
	assert.ErrorContains(t, err, "signature", "unsigned answer refused when signatures are required")

	_, err = NewWebhookApprover(srv.URL, nil)
	assert.Error(t, err)
	_, err = NewWebhookApprover("ftp://x", secret)
	assert.Error(t, err)
}

func TestSignature(t *testing.T) {
	body := []byte(`{"a":1}`)
	sig := Sign([]byte("k"), body)
	assert.True(t, strings.HasPrefix(sig, "sha256="))
	assert.True(t, VerifySignature([]byte("k"), body, sig))
	assert.False(t, VerifySignature([]byte("k"), []byte(`{"a":2}`), sig))
	assert.False(t, VerifySignature([]byte("other"), body, sig))
	assert.False(t, VerifySignature(nil, body, sig))
}

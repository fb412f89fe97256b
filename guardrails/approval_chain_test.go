package guardrails

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/trajectory"
)

// TestChainWithChannelApprover resolves an escalation from Go code.
func TestChainWithChannelApprover(t *testing.T) {
	a := approval.NewChannelApprover()
	go func() {
		p := <-a.Requests()
		p.Resolve(approval.Resolution{Approved: p.Request.Tool == "pay"})
	}()
	out := NewChain(Policy{Guards: []Guard{&ToolFilter{Approve: Tools("pay")}}, Approver: a}).Check(context.Background(), callEvent("pay", "{}"))
	assert.Equal(t, trajectory.Allow, out.Verdict)
	assert.Equal(t, "approved", out.Decisions[0].Resolution)
	assert.Equal(t, "channel", out.Decisions[0].ResolvedBy)
}

// TestChainWithWebhookApprover checks the request a chain sends to a real
// webhook (the run, the task, the input, the escalating guard) and how its
// answers, and a refused signature, decide.
func TestChainWithWebhookApprover(t *testing.T) {
	secret := []byte("s3cret")
	var got atomic.Value
	srv := httptest.NewServer(approval.WebhookHandler(secret, func(_ context.Context, req approval.Request) approval.Resolution {
		got.Store(req)
		if strings.Contains(req.Input, "refund") {
			return approval.Resolution{Approved: true, By: "alice"}
		}
		return approval.Resolution{Approved: false, By: "alice", Reason: "too large"}
	}))
	defer srv.Close()

	w, err := approval.NewWebhookApprover(srv.URL, secret, approval.WithSignedAnswers())
	require.NoError(t, err)
	c := NewChain(Policy{Guards: []Guard{&ToolFilter{Approve: Tagged("payments")}}, Approver: w})

	ev := callEvent("pay", `{"action":"refund","amount":10}`, "payments")
	ev.Trajectory.ID = "run-42"
	out := c.Check(context.Background(), ev)
	assert.Equal(t, trajectory.Allow, out.Verdict)
	assert.Equal(t, "approved", out.Decisions[0].Resolution)
	assert.Equal(t, "alice", out.Decisions[0].ResolvedBy)
	req := got.Load().(approval.Request)
	assert.Equal(t, "pay", req.Tool)
	assert.Equal(t, "run-42", req.RunID)
	assert.Equal(t, "find the weather", req.Task)
	assert.Equal(t, `{"action":"refund","amount":10}`, req.Input)
	assert.Equal(t, "pending", req.CallID)
	assert.NotEmpty(t, req.ID)
	assert.False(t, req.Deadline.IsZero(), "the request says how long the chain waits")
	require.Len(t, req.Escalations, 1)
	assert.Equal(t, "tools", req.Escalations[0].Guard)

	out = c.Check(context.Background(), callEvent("pay", `{"action":"charge","amount":1e6}`, "payments"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "denied by alice: too large")

	// A request with the wrong signature is refused by the handler, and the
	// chain treats the 401 as a denial.
	bad, err := approval.NewWebhookApprover(srv.URL, []byte("wrong"))
	require.NoError(t, err)
	out = NewChain(Policy{Guards: []Guard{&ToolFilter{Approve: Tools("pay")}}, Approver: bad}, WithLogger(quietLogger)).Check(context.Background(), callEvent("pay", "refund"))
	assert.Equal(t, trajectory.Block, out.Verdict)
	assert.Contains(t, out.Reason, "401")
}

package approval_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// A host that holds the request (ContextWithHold) gets it unstored, with
// the run's ID and without a state; Durable stores nothing until the host
// calls StoreRequest, and never asks the run for its ResumeState.
func TestDurableHoldsTheRequestForTheHost(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	d, err := approval.NewDurable(store, approval.WithHost("eino"))
	require.NoError(t, err)
	rec := run.New(run.WithStore(store))
	rctx, r := rec.Start(ctx, "pay", run.WithRunID("held-run"))
	r.SetResumeState(func() (json.RawMessage, error) { t.Fatal("a held request needs no resume state now"); return nil, nil })

	var held []approval.Stored
	hctx := approval.ContextWithHold(rctx, func(dd *approval.Durable, st approval.Stored) error {
		assert.Same(t, d, dd)
		held = append(held, st)
		return nil
	})
	req := approval.Request{ID: "req-1", Event: trajectory.EventToolCall, Tool: "wire", Input: "send $5"}
	res, err := d.Approve(hctx, req)
	require.Error(t, err)
	assert.False(t, res.Approved)
	require.Len(t, held, 1)
	assert.Equal(t, "held-run", held[0].Request.RunID)
	assert.Equal(t, "eino", held[0].Host)
	assert.Empty(t, held[0].State)
	pending, err := d.Pending(ctx)
	require.NoError(t, err)
	assert.Empty(t, pending, "nothing is stored until the host has the state")

	st := held[0]
	st.State = json.RawMessage(`{"checkpoint":"AAEC"}`)
	require.NoError(t, d.StoreRequest(ctx, st))
	pending, err = d.Pending(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.JSONEq(t, `{"checkpoint":"AAEC"}`, string(pending[0].State))
	assert.Equal(t, "req-1", pending[0].Request.ID)

	require.ErrorContains(t, d.StoreRequest(ctx, approval.Stored{Request: approval.Request{ID: "x"}}), "run ID")

	// A host that cannot hold the call refuses it: the approval fails.
	refuse := approval.ContextWithHold(rctx, func(*approval.Durable, approval.Stored) error { return errors.New("no checkpoint coming") })
	_, err = d.Approve(refuse, approval.Request{ID: "req-2", Event: trajectory.EventToolCall, Tool: "wire", Input: "send $6"})
	require.ErrorContains(t, err, "no checkpoint coming")
	r.End(nil)
}

package approval_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/guardrails/approval"
)

func TestListPendingAndRecentDecisions(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	d, err := approval.NewDurable(store)
	require.NoError(t, err)

	l, err := d.List(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, l.Pending)
	assert.Empty(t, l.Decided)

	var reqs []approval.Request
	for range 4 {
		reqs = append(reqs, pause(t, d, store))
	}
	_, err = d.Decide(ctx, reqs[1].ID, approval.Resolution{Approved: true, By: "alice"})
	require.NoError(t, err)
	_, err = d.Decide(ctx, reqs[3].ID, approval.Resolution{Approved: false, By: "bob", Reason: "no"})
	require.NoError(t, err)

	l, err = d.List(ctx, 10)
	require.NoError(t, err)
	require.Len(t, l.Pending, 2)
	assert.Equal(t, reqs[0].ID, l.Pending[0].Request.ID, "oldest first")
	assert.Equal(t, reqs[2].ID, l.Pending[1].Request.ID)
	require.Len(t, l.Decided, 2)
	assert.Equal(t, reqs[3].ID, l.Decided[0].Request.ID, "newest decision first")
	assert.False(t, l.Decided[0].Decision.Approved)
	assert.Equal(t, "bob", l.Decided[0].Decision.By)
	assert.Equal(t, "wire", l.Decided[0].Request.Tool)
	assert.Equal(t, reqs[1].ID, l.Decided[1].Decision.RequestID)
	assert.True(t, l.Decided[1].Decision.Approved)

	pending, err := d.Pending(ctx)
	require.NoError(t, err)
	assert.Equal(t, l.Pending, pending, "List agrees with Pending")

	l, err = d.List(ctx, 1)
	require.NoError(t, err)
	require.Len(t, l.Decided, 1)
	assert.Equal(t, reqs[3].ID, l.Decided[0].Request.ID)
	l, err = d.List(ctx, 0)
	require.NoError(t, err)
	assert.Empty(t, l.Decided)
	assert.Len(t, l.Pending, 2)
	_, err = d.List(ctx, -1)
	require.Error(t, err)
}

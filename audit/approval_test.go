package audit_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
)

func TestApprovalRecordsJoinTheChain(t *testing.T) {
	backends(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		ctx := context.Background()
		e := newEnv(t)
		s := e.open(t)
		log, ok := s.(audit.ApprovalLog)
		require.True(t, ok, "%T keeps approval records", s)

		require.NoError(t, s.Append(ctx, sampleRun(1, 2)))
		require.NoError(t, log.AppendApproval(ctx, audit.KindApprovalRequest, "run-1", json.RawMessage(`{"request":{"id":"r1"}, "state":{"b":1,"a":2}}`)))
		require.NoError(t, log.AppendApproval(ctx, audit.KindApprovalDecision, "run-1", json.RawMessage(`{"request_id":"r1","approved":true}`)))

		// Bad input is refused before it reaches the queue.
		require.Error(t, log.AppendApproval(ctx, audit.KindTrajectory, "run-1", json.RawMessage(`{}`)), "not an approval kind")
		require.Error(t, log.AppendApproval(ctx, audit.KindApprovalRequest, "", json.RawMessage(`{}`)), "no run id")
		require.Error(t, log.AppendApproval(ctx, audit.KindApprovalRequest, "run-1", json.RawMessage(`[1]`)), "not an object")
		require.Error(t, log.AppendApproval(ctx, audit.KindApprovalRequest, "run-1", json.RawMessage(`{"a":`)), "not JSON")
		require.NoError(t, s.Flush(ctx))

		var got []audit.Record
		require.NoError(t, log.ApprovalRecords(ctx, func(r audit.Record) error { got = append(got, r); return nil }))
		require.Len(t, got, 2)
		assert.Equal(t, audit.KindApprovalRequest, got[0].Kind)
		assert.Equal(t, `{"request":{"id":"r1"},"state":{"a":2,"b":1}}`, string(got[0].Payload), "stored in canonical form")
		assert.Equal(t, audit.KindApprovalDecision, got[1].Kind)

		rep, err := s.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, rep.OK, rep.String())
		assert.EqualValues(t, 3, rep.Records)

		// A decision edited afterwards breaks the chain.
		e.exec(t, `UPDATE audit_records SET payload = replace(payload, 'true', 'false') WHERE seq = ?`, got[1].Seq)
		rep, err = s.Verify(ctx)
		require.NoError(t, err)
		require.False(t, rep.OK)
		assert.Equal(t, got[1].Seq, rep.Break.Seq)
	})
}

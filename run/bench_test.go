package run_test

import (
	"context"
	"testing"

	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// BenchmarkRunCore records a 10-step run through the run core alone (no
// hooks, no store): the recorder's own cost per step, as a host adapter
// pays it.
func BenchmarkRunCore(b *testing.B) {
	rec := run.New()
	spec := trajectory.ToolSpec{Name: "noop"}
	b.ReportAllocs()
	for b.Loop() {
		ctx, r := rec.Start(context.Background(), "task")
		for range 10 {
			r.BeginStep()
			mctx, mc, _ := r.StartModel(ctx)
			mc.Record.Completion = "Action: noop"
			r.EndModel(mctx, mc)
			r.NoteStep("thought", "")
			r.AddCall(trajectory.ToolCall{Tool: "noop", Input: "x"}, true)
			tctx, tc, _ := r.StartTool(ctx, spec, "", "x")
			_, _ = r.EndTool(tctx, tc, "ok", nil, false)
		}
		_, _ = r.Answer(ctx, "done")
		r.End(nil)
	}
}

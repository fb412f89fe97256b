package run

import (
	"context"
	"encoding/json"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/reagent-go/reagent/trajectory"
)

// SemconvVersion is the version of the OpenTelemetry GenAI semantic
// conventions (open-telemetry/semantic-conventions-genai, status:
// development) whose span names, attributes and events the recorder
// follows; SchemaURL pins it on the tracer. Guard decisions follow a draft
// of those conventions (see guardEventName).
const SemconvVersion = "1.42.0-dev"

// SchemaURL is the schema of the conventions followed (see SemconvVersion).
const SchemaURL = "https://opentelemetry.io/schemas/gen-ai-dev/" + SemconvVersion

const instrumentationName = "github.com/reagent-go/reagent/run"

// tracer emits the spans and events of runs; a nil *tracer traces nothing,
// so the untraced path costs one nil check.
type tracer struct {
	t       trace.Tracer
	content bool
}

func newTracer(c *config) *tracer {
	if c.tracerProvider == nil {
		return nil
	}
	return &tracer{
		t:       c.tracerProvider.Tracer(instrumentationName, trace.WithSchemaURL(SchemaURL)),
		content: c.captureContent,
	}
}

// hooks are the tracer's hook points: a span per run, per model call and
// per tool call, each the child of the run's.
func (tr *tracer) hooks() Hooks {
	return Hooks{
		OnStart: func(ctx context.Context, r *Run) context.Context {
			t := r.View()
			ctx, _ = tr.t.Start(ctx, "invoke_agent "+t.Agent,
				trace.WithSpanKind(trace.SpanKindInternal),
				trace.WithAttributes(
					attribute.String("gen_ai.operation.name", "invoke_agent"),
					attribute.String("gen_ai.agent.name", t.Agent),
					attribute.String("gen_ai.conversation.id", t.ID),
					attribute.String("reagent.run.id", t.ID),
				))
			return ctx
		},
		BeforeModel: func(ctx context.Context, _ *Run, _ *ModelCall) (context.Context, error) {
			ctx, _ = tr.t.Start(ctx, "chat", trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("gen_ai.operation.name", "chat")))
			return ctx, nil
		},
		AfterModel: func(ctx context.Context, _ *Run, mc *ModelCall) {
			tr.endChat(trace.SpanFromContext(ctx), &mc.Record)
		},
		BeforeTool: func(ctx context.Context, _ *Run, tc *ToolCall) (context.Context, error) {
			attrs := []attribute.KeyValue{
				attribute.String("gen_ai.operation.name", "execute_tool"),
				attribute.String("gen_ai.tool.name", tc.Spec.Name),
				attribute.String("gen_ai.tool.type", "function"),
			}
			if tc.Spec.Description != "" {
				attrs = append(attrs, attribute.String("gen_ai.tool.description", tc.Spec.Description))
			}
			if tc.Record.ID != "" {
				attrs = append(attrs, attribute.String("gen_ai.tool.call.id", tc.Record.ID))
			}
			if tr.content {
				attrs = append(attrs, attribute.String("gen_ai.tool.call.arguments", tc.Record.Input))
			}
			ctx, _ = tr.t.Start(ctx, "execute_tool "+tc.Spec.Name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
			return ctx, nil
		},
		AfterTool: func(ctx context.Context, _ *Run, tc *ToolCall) error {
			tr.endTool(trace.SpanFromContext(ctx), &tc.Record)
			return nil
		},
		OnEnd: func(ctx context.Context, _ *Run, t *trajectory.Trajectory) {
			span := trace.SpanFromContext(ctx)
			span.SetAttributes(
				attribute.String("reagent.run.status", string(t.Status)),
				attribute.Int("reagent.run.steps", len(t.Steps)),
				attribute.Int("gen_ai.usage.input_tokens", t.Usage.PromptTokens),
				attribute.Int("gen_ai.usage.output_tokens", t.Usage.CompletionTokens),
			)
			if t.Status != trajectory.StatusFinished {
				span.SetStatus(codes.Error, t.Error)
			}
			span.End()
		},
	}
}

func (tr *tracer) endChat(span trace.Span, call *trajectory.LLMCall) {
	if call.Model != "" {
		span.SetName("chat " + call.Model)
		span.SetAttributes(attribute.String("gen_ai.response.model", call.Model))
	}
	span.SetAttributes(
		attribute.Int("gen_ai.usage.input_tokens", call.Usage.PromptTokens),
		attribute.Int("gen_ai.usage.output_tokens", call.Usage.CompletionTokens),
	)
	if call.StopReason != "" {
		span.SetAttributes(attribute.StringSlice("gen_ai.response.finish_reasons", []string{call.StopReason}))
	}
	if tr.content {
		if len(call.Messages) > 0 {
			span.SetAttributes(attribute.String("gen_ai.input.messages", jsonString(call.Messages)))
		}
		span.SetAttributes(attribute.String("gen_ai.output.messages", jsonString([]trajectory.Message{{Role: "assistant", Content: call.Completion, ToolCalls: call.ToolCalls}})))
	}
	if call.Error != "" {
		span.SetStatus(codes.Error, call.Error)
	}
	span.End()
}

func (tr *tracer) endTool(span trace.Span, call *trajectory.ToolCall) {
	if tr.content {
		span.SetAttributes(attribute.String("gen_ai.tool.call.result", call.Observation))
	}
	switch {
	case call.Blocked:
		span.SetAttributes(attribute.String("reagent.guard.blocked_by", call.BlockedBy))
		span.SetStatus(codes.Error, "blocked by guardrail "+call.BlockedBy)
	case call.Error != "":
		span.SetStatus(codes.Error, call.Error)
	}
	span.End()
}

// decisions records each guard decision as a guardrail span (a child of the
// current span: the tool's, or the run's for a final answer) carrying a
// gen_ai.guardrail.result event.
func (tr *tracer) decisions(ctx context.Context, ds []trajectory.Decision) {
	if tr == nil {
		return
	}
	for _, d := range ds {
		_, span := tr.t.Start(ctx, guardSpanName(d.Guard), trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithTimestamp(d.At),
			trace.WithAttributes(guardAttributes(d, tr.content)...))
		span.AddEvent(guardEventName, trace.WithTimestamp(d.At), trace.WithAttributes(guardEventAttributes(d, tr.content)...))
		if d.Verdict == trajectory.Block {
			span.SetStatus(codes.Error, "blocked: "+d.Reason)
		}
		span.End(trace.WithTimestamp(d.At))
	}
}

// evaluation records an assessment as a gen_ai.evaluation.result event on
// the run's span; one made after the run ended (asynchronous judging) gets
// a short span of its own in the run's trace.
func (tr *tracer) evaluation(ctx context.Context, a trajectory.Assessment, ended bool) {
	if tr == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	if ended {
		ctx = trace.ContextWithSpanContext(ctx, span.SpanContext())
		_, span = tr.t.Start(ctx, "evaluate "+a.Judge, trace.WithAttributes(attribute.String("gen_ai.operation.name", "evaluate")))
		defer span.End()
	}
	attrs := []attribute.KeyValue{attribute.String("gen_ai.evaluation.name", a.Judge)}
	if a.OK() {
		label := "pass"
		if a.Score < 0.5 {
			label = "fail"
		}
		attrs = append(attrs,
			attribute.Float64("gen_ai.evaluation.score.value", a.Score),
			attribute.String("gen_ai.evaluation.score.label", label))
	} else {
		attrs = append(attrs, attribute.String("error.type", "judge_error"), attribute.String("reagent.evaluation.error", a.Error))
	}
	if tr.content && a.Critique != "" {
		attrs = append(attrs, attribute.String("gen_ai.evaluation.explanation", a.Critique))
	}
	span.AddEvent("gen_ai.evaluation.result", trace.WithAttributes(attrs...))
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// Guard decisions follow the draft guardrail conventions of
// open-telemetry/semantic-conventions-genai pull request 427 (revision
// f5e3733, "GenAI guardrail client span, duration metric, and result
// event"): not yet released, so the names may change. reagent's guards run
// in process, so the span is INTERNAL rather than the draft's CLIENT span
// for remote guardrail services.
const (
	guardOperation = "apply_guardrail"
	guardEventName = "gen_ai.guardrail.result"
)

func guardSpanName(guard string) string { return guardOperation + " " + guard }

// guardSource names what a guard looked at, in the draft's words.
func guardSource(ev trajectory.GuardEvent) string {
	switch ev {
	case trajectory.EventToolCall:
		return "tool_input"
	case trajectory.EventToolResult:
		return "tool_output"
	case trajectory.EventFinalAnswer:
		return "model_response"
	}
	return string(ev)
}

func guardAttributes(d trajectory.Decision, _ bool) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", guardOperation),
		attribute.String("gen_ai.guardrail.component.name", d.Guard),
		attribute.String("gen_ai.guardrail.source", guardSource(d.Event)),
	}
	if d.Tool != "" {
		attrs = append(attrs, attribute.String("gen_ai.tool.name", d.Tool))
	}
	if d.CallID != "" {
		attrs = append(attrs, attribute.String("gen_ai.tool.call.id", d.CallID))
	}
	return attrs
}

func guardEventAttributes(d trajectory.Decision, _ bool) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attribute.String("gen_ai.guardrail.component.name", d.Guard),
		attribute.String("gen_ai.guardrail.source", guardSource(d.Event)),
		// The draft keeps the guard's own result values: reagent's are
		// allow, escalate and block.
		attribute.String("gen_ai.guardrail.result.type", "verdict"),
		attribute.String("gen_ai.guardrail.result.value", string(d.Verdict)),
	}
	if d.Reason != "" {
		attrs = append(attrs, attribute.String("gen_ai.guardrail.result.reason", d.Reason))
	}
	if d.Score != nil {
		attrs = append(attrs, attribute.Float64("gen_ai.guardrail.risk.score", *d.Score))
	}
	if d.Resolution != "" {
		attrs = append(attrs, attribute.String("reagent.guard.resolution", d.Resolution), attribute.String("reagent.guard.resolved_by", d.ResolvedBy))
	}
	return attrs
}

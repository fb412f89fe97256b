package middleware

import (
	"context"
	"encoding/json"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/reagent-go/reagent/trajectory"
)

// SemconvVersion is the version of the OpenTelemetry GenAI semantic
// conventions (status: development) whose span names and attributes the
// middleware follows.
const SemconvVersion = "1.38.0"

const instrumentationName = "github.com/reagent-go/reagent/middleware"

// WithTracerProvider traces every run with tp: an `invoke_agent {name}` span
// per run with `chat {model}` and `execute_tool {tool}` children, guard
// decisions as `reagent.guard.decision` events and RRM assessments as
// `gen_ai.evaluation.result` events. Without it nothing is traced.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = tp }
}

// WithContentCapture records prompts, completions, tool arguments, tool
// results and critiques on spans. It is off by default: they may hold
// personal or secret data.
func WithContentCapture(on bool) Option { return func(c *config) { c.captureContent = on } }

// tracer wraps an OpenTelemetry tracer; a nil *tracer traces nothing, so
// the untraced path costs one nil check.
type tracer struct {
	t       trace.Tracer
	content bool
}

func newTracer(c *config) *tracer {
	if c.tracerProvider == nil {
		return nil
	}
	return &tracer{t: c.tracerProvider.Tracer(instrumentationName, trace.WithInstrumentationVersion(SemconvVersion)), content: c.captureContent}
}

func (tr *tracer) startRun(ctx context.Context, t *trajectory.Trajectory) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, nil
	}
	return tr.t.Start(ctx, "invoke_agent "+t.Agent,
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "invoke_agent"),
			attribute.String("gen_ai.agent.name", t.Agent),
			attribute.String("gen_ai.conversation.id", t.ID),
			attribute.String("reagent.run.id", t.ID),
		))
}

func (tr *tracer) endRun(span trace.Span, t *trajectory.Trajectory) {
	if tr == nil || span == nil {
		return
	}
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
}

func (tr *tracer) startChat(ctx context.Context, parent trace.Span) (context.Context, trace.Span) {
	if tr == nil || parent == nil {
		return ctx, nil
	}
	ctx = trace.ContextWithSpan(ctx, parent)
	return tr.t.Start(ctx, "chat", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("gen_ai.operation.name", "chat")))
}

func (tr *tracer) endChat(span trace.Span, call *trajectory.LLMCall) {
	if tr == nil || span == nil {
		return
	}
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

func (tr *tracer) startTool(ctx context.Context, parent trace.Span, spec trajectory.ToolSpec, call *trajectory.ToolCall) (context.Context, trace.Span) {
	if tr == nil || parent == nil {
		return ctx, nil
	}
	ctx = trace.ContextWithSpan(ctx, parent)
	attrs := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "execute_tool"),
		attribute.String("gen_ai.tool.name", spec.Name),
		attribute.String("gen_ai.tool.type", "function"),
	}
	if spec.Description != "" {
		attrs = append(attrs, attribute.String("gen_ai.tool.description", spec.Description))
	}
	if call.ID != "" {
		attrs = append(attrs, attribute.String("gen_ai.tool.call.id", call.ID))
	}
	if tr.content {
		attrs = append(attrs, attribute.String("gen_ai.tool.call.arguments", call.Input))
	}
	return tr.t.Start(ctx, "execute_tool "+spec.Name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
}

func (tr *tracer) endTool(span trace.Span, call *trajectory.ToolCall) {
	if tr == nil || span == nil {
		return
	}
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

// guardEvents adds one event per guard decision to span.
func (tr *tracer) guardEvents(span trace.Span, ds []trajectory.Decision) {
	if tr == nil || span == nil {
		return
	}
	for _, d := range ds {
		attrs := []attribute.KeyValue{
			attribute.String("reagent.guard.name", d.Guard),
			attribute.String("reagent.guard.event", string(d.Event)),
			attribute.String("reagent.guard.verdict", string(d.Verdict)),
			attribute.String("reagent.guard.reason", d.Reason),
		}
		if d.Score != nil {
			attrs = append(attrs, attribute.Float64("reagent.guard.score", *d.Score))
		}
		if d.Resolution != "" {
			attrs = append(attrs, attribute.String("reagent.guard.resolution", d.Resolution))
		}
		span.AddEvent("reagent.guard.decision", trace.WithAttributes(attrs...))
	}
}

// evaluation records an assessment as a gen_ai.evaluation.result event. An
// assessment made after the run span ended gets a short span of its own in
// the same trace.
func (tr *tracer) evaluation(ctx context.Context, runSpan trace.Span, a trajectory.Assessment, ended bool) {
	if tr == nil || runSpan == nil {
		return
	}
	span := runSpan
	if ended {
		ctx = trace.ContextWithSpanContext(ctx, runSpan.SpanContext())
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

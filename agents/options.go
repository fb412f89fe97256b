package agents

import (
	"github.com/tmc/langchaingo/callbacks"
	"github.com/tmc/langchaingo/llms"
)

// Option configures NewToolCalling or NewReAct. Each option says which of
// the two it applies to; the other ignores it.
type Option func(*options)

type options struct {
	systemPrompt  *string
	callOptions   []llms.CallOption
	outputKey     string
	callbacks     callbacks.Handler
	maxIterations int
}

func defaults() options {
	return options{outputKey: "output", maxIterations: DefaultMaxIterations}
}

// DefaultMaxIterations is the ReAct executor's step limit: the paper's 13
// agent steps.
const DefaultMaxIterations = 13

// WithSystemPrompt sets the tool-calling agent's system message (empty
// means none), or replaces the ReAct prompt's opening instructions.
func WithSystemPrompt(s string) Option {
	return func(o *options) { o.systemPrompt = &s }
}

// WithCallOptions adds model options (temperature, model name, max tokens)
// to every call of the tool-calling agent.
func WithCallOptions(opts ...llms.CallOption) Option {
	return func(o *options) { o.callOptions = append(o.callOptions, opts...) }
}

// WithOutputKey sets the key of the final answer (default "output"). Both.
func WithOutputKey(k string) Option {
	return func(o *options) {
		if k != "" {
			o.outputKey = k
		}
	}
}

// WithCallbacksHandler sets a langchaingo callbacks handler. Both.
func WithCallbacksHandler(h callbacks.Handler) Option {
	return func(o *options) { o.callbacks = h }
}

// WithMaxIterations sets the ReAct executor's step limit (default 13).
func WithMaxIterations(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxIterations = n
		}
	}
}

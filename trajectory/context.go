package trajectory

import "context"

type runIDKey struct{}

// ContextWithRunID returns a context that carries the id of the run it
// belongs to. The middleware sets it for every model and tool call, so tools
// can keep per-run state (a browser tab, a budget).
func ContextWithRunID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, runIDKey{}, id)
}

// RunIDFromContext returns the run id set by ContextWithRunID.
func RunIDFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(runIDKey{}).(string)
	return id, ok && id != ""
}

// Package mcprun records, guards and audits the tool calls an agent makes
// to MCP servers (github.com/modelcontextprotocol/go-sdk), through the
// reagent run in the call's context: the same trajectories, guard chain,
// judges and audit chain as the langchaingo and eino adapters.
//
// Two entry points:
//
//   - Middleware returns an mcp.Middleware for Client.AddSendingMiddleware.
//     Every tools/call the client sends goes through the run's BeforeTool
//     hooks (argument rules, network policy on URL arguments, input schema,
//     budgets), then to the server, then through the AfterTool hooks
//     (injection screening of the result). A refused call never reaches
//     the server: the caller gets a CallToolResult with IsError set and the
//     block message, or, in abort mode, an error wrapping run.ErrRefused.
//   - Tools offers a session's tools as langchaingo tools.Tool values that
//     carry their JSON input schemas (trajectory.Specifier), already wrapped
//     by the langchaingo adapter, for agents.Executor / middleware.Wrap.
//
// Calls made outside any run pass unrecorded and unguarded, like any tool
// called outside a run, unless the option WithRecorder gives a recorder:
// then each such call is a run of its own on that recorder (guards apply,
// the trajectory is stored). WithRequireRun refuses them instead.
//
// The middleware learns each tool's schema and description from the
// tools/list responses it relays (ClientSession.ListTools or Tools); a tool
// never listed through it is known by name only (schema guards that take
// the schema from the tool then have nothing to check; a policy schema
// still applies).
package mcprun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// methodCallTool and methodListTools are the MCP methods the middleware
// looks at; every other method passes untouched.
const (
	methodCallTool  = "tools/call"
	methodListTools = "tools/list"
)

// ErrNoRun is returned for a tool call made outside any run when the
// middleware or adapter has WithRequireRun.
var ErrNoRun = errors.New("mcprun: tool call outside a reagent run (start one with run.Recorder.Start, or call through a middleware.Wrap'ped executor)")

// blockedPrefix starts every run.Refusal message.
const blockedPrefix = "Blocked by guardrail "

// Option configures Middleware and Tools.
type Option func(*config)

type config struct {
	rec        *run.Recorder
	requireRun bool
	agent      string
}

func newConfig(opts []Option) config {
	c := config{agent: "mcp"}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithRecorder makes every tool call made outside a run a run of its own
// on rec (task "MCP tools/call <tool>"): guarded by rec's hooks, recorded
// and stored like any run. Without it such calls pass unrecorded.
func WithRecorder(rec *run.Recorder) Option { return func(c *config) { c.rec = rec } }

// WithRequireRun(true) refuses tool calls made outside a run (and without
// WithRecorder) with ErrNoRun, so that no call escapes the guards.
func WithRequireRun(on bool) Option { return func(c *config) { c.requireRun = on } }

// WithAgentName names the agent of the runs WithRecorder opens ("mcp").
func WithAgentName(name string) Option { return func(c *config) { c.agent = name } }

// recordedKey marks a context whose tool call a host adapter records
// already (the langchaingo tools of this package): the middleware lets it
// pass so that the call is recorded once.
type recordedKey struct{}

// HostRecorded returns ctx marked so that Middleware lets the tools/call
// made with it pass without recording it: for a host adapter that records
// and guards the call itself (the langchaingo tools of this package; an
// eino tool over an MCP session inside the eino adapter's WrapToolCall),
// so that each call is recorded once.
func HostRecorded(ctx context.Context) context.Context {
	return context.WithValue(ctx, recordedKey{}, true)
}

// Middleware returns a sending middleware for mcp.Client that records and
// guards every tools/call through the run in the call's context. Install it
// with client.AddSendingMiddleware(mcprun.Middleware()) before Connect.
func Middleware(opts ...Option) mcp.Middleware {
	m := &sender{cfg: newConfig(opts)}
	return m.wrap
}

type sender struct {
	cfg   config
	specs specIndex
}

func (m *sender) wrap(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch method {
		case methodCallTool:
			return m.callTool(ctx, next, method, req)
		case methodListTools:
			res, err := next(ctx, method, req)
			if lr, ok := res.(*mcp.ListToolsResult); ok && err == nil && lr != nil {
				m.specs.learn(req, lr.Tools)
			}
			return res, err
		}
		return next(ctx, method, req)
	}
}

func (m *sender) callTool(ctx context.Context, next mcp.MethodHandler, method string, req mcp.Request) (mcp.Result, error) {
	if ctx.Value(recordedKey{}) != nil {
		return next(ctx, method, req)
	}
	p, _ := req.GetParams().(*mcp.CallToolParams)
	if p == nil {
		return next(ctx, method, req) // not a call this SDK version builds: the server answers it
	}
	r := run.FromContext(ctx)
	if r == nil {
		switch {
		case m.cfg.rec != nil:
			spec := m.specs.lookup(req, p.Name)
			return standalone(ctx, m.cfg, spec, func(ctx context.Context, r *run.Run) (*mcp.CallToolResult, error) {
				return guardedCall(ctx, r, spec, p, func(ctx context.Context) (mcp.Result, error) { return next(ctx, method, req) })
			})
		case m.cfg.requireRun:
			return nil, fmt.Errorf("tool %q: %w", p.Name, ErrNoRun)
		}
		return next(ctx, method, req)
	}
	res, err := guardedCall(ctx, r, m.specs.lookup(req, p.Name), p, func(ctx context.Context) (mcp.Result, error) { return next(ctx, method, req) })
	if res == nil {
		return nil, err // no typed nil inside the interface
	}
	return res, err
}

// standalone runs one call as a run of its own on cfg.rec.
func standalone(ctx context.Context, cfg config, spec trajectory.ToolSpec, call func(context.Context, *run.Run) (*mcp.CallToolResult, error)) (res *mcp.CallToolResult, err error) {
	ctx, r := cfg.rec.Start(ctx, "MCP tools/call "+spec.Name, run.WithAgent(cfg.agent), run.WithTools([]trajectory.ToolSpec{spec}))
	defer func() {
		if p := recover(); p != nil {
			r.End(&run.PanicError{Value: p})
			panic(p)
		}
		r.End(err)
	}()
	return call(ctx, r)
}

// guardedCall runs one tools/call between r.StartTool and r.EndTool.
func guardedCall(ctx context.Context, r *run.Run, spec trajectory.ToolSpec, p *mcp.CallToolParams, send func(context.Context) (mcp.Result, error)) (*mcp.CallToolResult, error) {
	input, err := argumentsJSON(p.Arguments)
	if err != nil {
		return nil, fmt.Errorf("mcprun: tool %q: arguments do not marshal to JSON: %w", p.Name, err)
	}
	ctx, tc, err := r.StartTool(ctx, spec, "", input)
	if err != nil {
		return refused(err)
	}
	ended := false
	defer func() {
		if !ended { // the transport panicked: record it and let the panic go on
			_, _ = r.EndTool(ctx, tc, "", errPanicked, true)
		}
	}()
	res, err := send(ctx)
	if err != nil {
		// A protocol or transport error (unknown tool, server gone) goes
		// back exactly as without reagent, recorded as the call's error.
		ended = true
		_, _ = r.EndTool(ctx, tc, "", err, false)
		return nil, err
	}
	ctr, _ := res.(*mcp.CallToolResult)
	if ctr == nil {
		ended = true
		err := fmt.Errorf("mcprun: tool %q: server answered tools/call with %T, not a CallToolResult", p.Name, res)
		_, _ = r.EndTool(ctx, tc, "", err, false)
		return nil, err
	}
	text := ResultText(ctr)
	want, toolErr := text, error(nil)
	if ctr.IsError {
		toolErr = toolError(text)
		want = "Tool error: " + text
	}
	ended = true
	out, err := r.EndTool(ctx, tc, text, toolErr, false)
	if err != nil {
		if toolErr != nil && errors.Is(err, toolErr) {
			return ctr, nil // WithToolErrorAbort: the tool's error as the server sent it
		}
		return nil, err // an aborting refusal
	}
	if out == want {
		return ctr, nil
	}
	// A guard rewrote (fenced) or withheld the result: the caller sees only
	// what the guard let through, never the server's original content.
	return &mcp.CallToolResult{
		Content: []mcp.Content{&mcp.TextContent{Text: out}},
		IsError: ctr.IsError || strings.HasPrefix(out, blockedPrefix),
	}, nil
}

// refused turns a StartTool error into what the caller of CallTool gets.
func refused(err error) (*mcp.CallToolResult, error) {
	var ref *run.Refusal
	if errors.As(err, &ref) && !ref.Abort {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: ref.Message()}}, IsError: true}, nil
	}
	return nil, err
}

var errPanicked = errors.New("mcprun: MCP transport panicked during tools/call")

// toolError is a tool's own error (a result with IsError).
type toolError string

func (e toolError) Error() string { return string(e) }

// argumentsJSON is the call's arguments as the JSON text recorded as its
// input (what argument, network and schema guards check).
func argumentsJSON(args any) (string, error) {
	switch a := args.(type) {
	case nil:
		return "{}", nil
	case json.RawMessage:
		return string(a), nil
	case []byte:
		return string(a), nil
	case string:
		// A string is marshaled by the SDK as a JSON string; record that.
	}
	b, err := json.Marshal(args)
	return string(b), err
}

// ResultText is the text an agent sees of a tool result: its text content,
// one part a line; other content is named ("[image image/png]"), embedded
// text resources are included. A result without content shows its
// structured content as JSON.
func ResultText(res *mcp.CallToolResult) string {
	if len(res.Content) == 1 {
		if t, ok := res.Content[0].(*mcp.TextContent); ok {
			return t.Text
		}
	}
	var b strings.Builder
	for i, c := range res.Content {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch c := c.(type) {
		case *mcp.TextContent:
			b.WriteString(c.Text)
		case *mcp.ImageContent:
			fmt.Fprintf(&b, "[image %s, %d bytes]", c.MIMEType, len(c.Data))
		case *mcp.AudioContent:
			fmt.Fprintf(&b, "[audio %s, %d bytes]", c.MIMEType, len(c.Data))
		case *mcp.ResourceLink:
			fmt.Fprintf(&b, "[resource %s]", c.URI)
		case *mcp.EmbeddedResource:
			if c.Resource != nil && c.Resource.Text != "" {
				b.WriteString(c.Resource.Text)
			} else if c.Resource != nil {
				fmt.Fprintf(&b, "[resource %s]", c.Resource.URI)
			}
		default:
			fmt.Fprintf(&b, "[%T]", c)
		}
	}
	if len(res.Content) == 0 && res.StructuredContent != nil {
		if j, err := json.Marshal(res.StructuredContent); err == nil {
			b.Write(j)
		}
	}
	return b.String()
}

// Spec describes an MCP tool to guards, judges and trainers: name,
// description, input schema as Parameters, and tags from the tool's
// annotations that can only tighten a policy: an explicit destructiveHint
// gives "risky", an explicit openWorldHint gives "egress". Annotations are
// the server's claims, so readOnlyHint gives no "read-only" tag (a policy
// gives tags it trusts with its tools: section).
func Spec(t *mcp.Tool) trajectory.ToolSpec {
	spec := trajectory.ToolSpec{Name: t.Name, Description: t.Description}
	if t.InputSchema != nil {
		if raw, err := json.Marshal(t.InputSchema); err == nil && string(raw) != "null" {
			spec.Parameters = raw
		}
	}
	if a := t.Annotations; a != nil {
		if a.DestructiveHint != nil && *a.DestructiveHint && !a.ReadOnlyHint {
			spec.Tags = append(spec.Tags, "risky")
		}
		if a.OpenWorldHint != nil && *a.OpenWorldHint {
			spec.Tags = append(spec.Tags, "egress")
		}
	}
	return spec
}

// specIndex holds, per client session, the specs of the tools its
// tools/list responses named. Sessions are weak keys: a session that is
// gone takes its entry with it.
type specIndex struct {
	m sync.Map // weak.Pointer[mcp.ClientSession] -> *sessionSpecs
}

type sessionSpecs struct {
	mu    sync.RWMutex
	specs map[string]trajectory.ToolSpec
}

func (x *specIndex) learn(req mcp.Request, ts []*mcp.Tool) {
	cs, _ := req.GetSession().(*mcp.ClientSession)
	if cs == nil {
		return
	}
	key := weak.Make(cs)
	v, loaded := x.m.LoadOrStore(key, &sessionSpecs{specs: map[string]trajectory.ToolSpec{}})
	if !loaded {
		runtime.AddCleanup(cs, func(k weak.Pointer[mcp.ClientSession]) { x.m.Delete(k) }, key)
	}
	s := v.(*sessionSpecs)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range ts {
		if t != nil {
			s.specs[t.Name] = Spec(t)
		}
	}
}

func (x *specIndex) lookup(req mcp.Request, name string) trajectory.ToolSpec {
	if cs, _ := req.GetSession().(*mcp.ClientSession); cs != nil {
		if v, ok := x.m.Load(weak.Make(cs)); ok {
			s := v.(*sessionSpecs)
			s.mu.RLock()
			spec, ok := s.specs[name]
			s.mu.RUnlock()
			if ok {
				return spec
			}
		}
	}
	return trajectory.ToolSpec{Name: name}
}

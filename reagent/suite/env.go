package suite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/tools/browser"
	"github.com/reagent-go/reagent/tools/calculator"
	"github.com/reagent-go/reagent/tools/httpapi"
	"github.com/reagent-go/reagent/tools/netsafe"
)

// System prompts of the built-in suites. They are short: a tiny policy
// model reads them on every call. The web prompt's $SITE is the site's
// base URL.
const (
	ArithPrompt   = arithSystem
	LookupPrompt  = "Answer with the lookup tools. Look a record up by the name in the question, or by the id a record gives. Reply with the name or number only."
	WebPrompt     = "Answer by browsing the Northwind Directory at " + SiteVar + "/ with the browser: open it, click links by their text. Reply with the name or number only."
	DefaultPrompt = "You are a careful assistant. Use the tools when they help, then answer with the answer only."
)

// Env is what the tasks of a run need: the local servers of the built-in
// suites (the lookup API, the web site) on 127.0.0.1, and the tools, built
// once and shared by all runs. Close stops everything.
type Env struct {
	tools     map[string]tools.Tool
	prompts   map[string]string
	siteURL   string
	lookupURL string
	world     *World
	closers   []func() error
	logger    *slog.Logger
}

// EnvOption configures StartEnv.
type EnvOption func(*envConfig)

type envConfig struct {
	extra       []tools.Tool
	siteAddr    string
	lookupAddr  string
	browserOpts []browser.Option
	prompts     map[string]string
	logger      *slog.Logger
}

// WithTools adds tools (or replaces built-in ones of the same name) for
// tasks that name them.
func WithTools(ts ...tools.Tool) EnvOption {
	return func(c *envConfig) { c.extra = append(c.extra, ts...) }
}

// WithSiteAddr serves the web suite's site on addr (default
// 127.0.0.1:0, a free port). A fixed address keeps the URLs in
// demonstrations and rollouts the same.
func WithSiteAddr(addr string) EnvOption { return func(c *envConfig) { c.siteAddr = addr } }

// WithLookupAddr serves the lookup suite's API on addr (default
// 127.0.0.1:0).
func WithLookupAddr(addr string) EnvOption { return func(c *envConfig) { c.lookupAddr = addr } }

// WithBrowserOptions adds options for the browser tool (for example
// browser.WithExecPath).
func WithBrowserOptions(opts ...browser.Option) EnvOption {
	return func(c *envConfig) { c.browserOpts = append(c.browserOpts, opts...) }
}

// WithSystemPrompt sets the system prompt of a suite's tasks.
func WithSystemPrompt(suite, prompt string) EnvOption {
	return func(c *envConfig) {
		if c.prompts == nil {
			c.prompts = map[string]string{}
		}
		c.prompts[suite] = prompt
	}
}

// WithEnvLogger sets the logger of the local servers.
func WithEnvLogger(l *slog.Logger) EnvOption { return func(c *envConfig) { c.logger = l } }

// BuiltinTools lists the tool names StartEnv can build.
func BuiltinTools() []string {
	return []string{CalculatorTool, PersonTool, CompanyTool, CityTool, SearchTool, BrowserTool}
}

// StartEnv starts what tasks need: the calculator, the lookup API and its
// tools when a task names one of them, the web site and a browser (real
// Chromium) when a task names the browser. A task naming a tool that is
// neither built in nor given with WithTools is an error.
func StartEnv(ctx context.Context, tasks []Task, opts ...EnvOption) (env *Env, err error) {
	cfg := envConfig{siteAddr: "127.0.0.1:0", lookupAddr: "127.0.0.1:0", logger: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	e := &Env{tools: map[string]tools.Tool{}, prompts: map[string]string{
		Arith: ArithPrompt, Arith2: ArithPrompt, Lookup: LookupPrompt, Web: WebPrompt,
	}, logger: cfg.logger}
	for k, v := range cfg.prompts {
		e.prompts[k] = v
	}
	defer func() {
		if err != nil {
			_ = e.Close()
		}
	}()
	extra := map[string]tools.Tool{}
	for _, t := range cfg.extra {
		extra[t.Name()] = t
	}
	need := map[string]bool{}
	for _, t := range tasks {
		for _, name := range t.Tools {
			need[name] = true
		}
	}
	var unknown []string
	for name := range need {
		if t, ok := extra[name]; ok {
			e.tools[name] = t
			continue
		}
		switch name {
		case CalculatorTool:
			e.tools[name] = calculator.New()
		case PersonTool, CompanyTool, CityTool, SearchTool:
			if e.lookupURL == "" {
				if err := e.startLookup(cfg.lookupAddr); err != nil {
					return nil, err
				}
			}
		case BrowserTool:
			if err := e.startWeb(ctx, cfg); err != nil {
				return nil, err
			}
		default:
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("suite: tasks name unknown tools %s (built in: %s; add others with WithTools)",
			strings.Join(unknown, ", "), strings.Join(BuiltinTools(), ", "))
	}
	return e, nil
}

func (e *Env) loadWorld() (*World, error) {
	if e.world == nil {
		w, err := LoadWorld()
		if err != nil {
			return nil, err
		}
		e.world = w
	}
	return e.world, nil
}

// serve runs h on addr until Close, and returns its base URL.
func (e *Env) serve(addr string, h http.Handler) (string, uint16, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", 0, fmt.Errorf("suite: listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.logger.Error("suite: local server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	e.closers = append(e.closers, func() error {
		err := srv.Close()
		<-done
		return err
	})
	ap, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		return "", 0, fmt.Errorf("suite: local server address %s: %w", ln.Addr(), err)
	}
	return "http://" + ln.Addr().String(), ap.Port(), nil
}

// localPolicy lets a tool reach one local port and nothing else on the
// machine.
func localPolicy(port uint16) *netsafe.Policy {
	return &netsafe.Policy{
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Ports:      []uint16{port},
	}
}

func (e *Env) startLookup(addr string) error {
	w, err := e.loadWorld()
	if err != nil {
		return err
	}
	base, port, err := e.serve(addr, LookupHandler(w))
	if err != nil {
		return err
	}
	e.lookupURL = base
	idNote := " The id is the name in lower case with spaces as -, e.g. ada-falk; the name as written (Ada Falk) works too."
	specs := []httpapi.Spec{
		{Name: PersonTool, URL: base + "/people/{id}", Description: "Looks up a person by id: name, born, the city they live in and their employer." + idNote},
		{Name: CompanyTool, URL: base + "/companies/{id}", Description: "Looks up a company by id: industry, founded, the city it is based in and its CEO." + idNote},
		{Name: CityTool, URL: base + "/cities/{id}", Description: "Looks up a city by id: country and population." + idNote},
		{Name: SearchTool, URL: base + "/search", Query: map[string]string{"q": "{q}"}, Description: "Finds people, companies and cities whose name contains q; returns their ids."},
	}
	ts, err := httpapi.FromSpecs(specs, httpapi.WithPolicy(localPolicy(port)), httpapi.WithLogger(e.logger))
	if err != nil {
		return fmt.Errorf("suite: lookup tools: %w", err)
	}
	for _, t := range ts {
		e.tools[t.Name()] = t
	}
	return nil
}

func (e *Env) startWeb(ctx context.Context, cfg envConfig) error {
	w, err := e.loadWorld()
	if err != nil {
		return err
	}
	pages, err := SitePages(w)
	if err != nil {
		return err
	}
	base, port, err := e.serve(cfg.siteAddr, SiteHandler(pages))
	if err != nil {
		return err
	}
	e.siteURL = base
	opts := append([]browser.Option{browser.WithPolicy(localPolicy(port)), browser.WithLogger(e.logger)}, cfg.browserOpts...)
	b, err := browser.New(ctx, opts...)
	if err != nil {
		return fmt.Errorf("suite: the web suite needs Chromium: %w", err)
	}
	e.closers = append(e.closers, b.Close)
	e.tools[BrowserTool] = b
	return nil
}

// Tools returns the tools of a task, in the task's order.
func (e *Env) Tools(t Task) ([]tools.Tool, error) {
	out := make([]tools.Tool, 0, len(t.Tools))
	for _, name := range t.Tools {
		tool, ok := e.tools[name]
		if !ok {
			return nil, fmt.Errorf("suite: task %s: tool %q was not started (start the env with this task)", t.ID, name)
		}
		out = append(out, tool)
	}
	return out, nil
}

// Tool returns one started tool by name.
func (e *Env) Tool(name string) (tools.Tool, bool) {
	t, ok := e.tools[name]
	return t, ok
}

// SystemPrompt returns the system prompt of a task's suite, with the site
// URL filled in.
func (e *Env) SystemPrompt(t Task) string {
	p, ok := e.prompts[t.Suite]
	if !ok {
		p = DefaultPrompt
	}
	return e.expand(p)
}

// SiteURL returns the web site's base URL ("" when not started).
func (e *Env) SiteURL() string { return e.siteURL }

// LookupURL returns the lookup API's base URL ("" when not started).
func (e *Env) LookupURL() string { return e.lookupURL }

func (e *Env) expand(s string) string {
	if e.siteURL == "" {
		return s
	}
	return strings.ReplaceAll(s, SiteVar, e.siteURL)
}

// Expand fills $SITE in a solution call's arguments with the site's URL.
func (e *Env) Expand(args json.RawMessage) json.RawMessage {
	if e.siteURL == "" || !strings.Contains(string(args), SiteVar) {
		return args
	}
	// The URL needs no JSON escaping: scheme, host and port only.
	return json.RawMessage(strings.ReplaceAll(string(args), SiteVar, e.siteURL))
}

// Close stops the servers and the browser. It is safe to call twice.
func (e *Env) Close() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	e.closers = nil
	return errors.Join(errs...)
}

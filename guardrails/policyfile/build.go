package policyfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/tools/netsafe"
	"github.com/reagent-go/reagent/trajectory"
)

// builder turns a decoded document into a Policy.
type builder struct {
	*decoder
	opts options
	// used holds each tag a section selects by, with where it first
	// appears, to warn about tags no tool carries.
	used map[string]*yaml.Node
}

// build makes the policy. Guards run in a fixed order: tools, arguments,
// schema, network, budget, sequence, prompt injection; the RRM gate is a
// gate (it runs last, and not when a guard blocked).
func (b *builder) build(root *yaml.Node, doc *document) (guardrails.Policy, error) {
	p := guardrails.Policy{Source: b.source, Mode: guardrails.ModeBlock, Approver: b.opts.approver}
	if doc.Version.N != nil {
		if err := b.within(doc.Version, "version", 1, 1); err != nil {
			return p, err
		}
	}
	if doc.Mode.set() {
		p.Mode = guardrails.Mode(doc.Mode.V)
	}
	if err := b.tags(&p, &doc.Tools); err != nil {
		return p, err
	}
	steps := []func() (guardrails.Guard, error){
		func() (guardrails.Guard, error) { return b.filter(doc) },
		func() (guardrails.Guard, error) { return b.arguments(doc.Arguments) },
		func() (guardrails.Guard, error) { return b.schemas(doc.Schemas) },
		func() (guardrails.Guard, error) { return b.network(doc.Network) },
		func() (guardrails.Guard, error) { return b.budget(doc.Budget) },
		func() (guardrails.Guard, error) { return b.sequences(doc.Sequences) },
		func() (guardrails.Guard, error) { return b.injection(doc.Injection) },
	}
	for _, step := range steps {
		g, err := step()
		if err != nil {
			return p, err
		}
		if g != nil {
			p.Guards = append(p.Guards, g)
		}
	}
	if doc.RRMGate != nil {
		g, err := b.gate(doc.RRMGate)
		if err != nil {
			return p, err
		}
		p.Gates = append(p.Gates, g)
	}
	if doc.Approval != nil {
		if err := b.approval(&p, doc.Approval); err != nil {
			return p, err
		}
	}
	if len(p.Guards)+len(p.Gates) == 0 {
		return p, b.errAt(root, "the policy configures no guard (add tools, arguments, network, budget, injection, … sections)")
	}
	b.warnUnusedTags(&p)
	return p, nil
}

// within checks the range of a whole number.
func (b *builder) within(i integer, path string, lo, hi int) error {
	if i.V < lo || i.V > hi {
		return b.errAt(i.N, "%s must be between %d and %d, not %d", path, lo, hi, i.V)
	}
	return nil
}

func (b *builder) tags(p *guardrails.Policy, tools *byName[strList]) error {
	for i, k := range tools.Keys {
		name := k.Value
		if strings.TrimSpace(name) == "" {
			return b.errAt(k, "tools: empty tool name")
		}
		list := tools.Vals[i]
		for j, t := range list.V {
			if strings.ContainsAny(t, " \t,") {
				return b.errAt(list.Nodes[j], "tag %q of tool %q: tags are single words", t, name)
			}
		}
		if p.ToolTags == nil {
			p.ToolTags = map[string][]string{}
		}
		p.ToolTags[name] = append(p.ToolTags[name], list.V...)
	}
	return nil
}

// match turns a selection into a ToolMatch, noting the tags it uses.
func (b *builder) match(m *matchSpec) guardrails.ToolMatch {
	for i, t := range m.Tags.V {
		if _, ok := b.used[t]; !ok {
			b.used[t] = m.Tags.Nodes[i]
		}
	}
	return guardrails.ToolMatch{Names: m.Tools.V, Tags: m.Tags.V}
}

// required is a selection that must not be empty.
func (b *builder) required(m *matchSpec, path string, at *yaml.Node) (guardrails.ToolMatch, error) {
	tm := b.match(m)
	if tm.Empty() {
		if m.n != nil {
			at = m.n
		}
		return tm, b.errAt(at, "%s must list tools or tags", path)
	}
	return tm, nil
}

func (b *builder) filter(doc *document) (guardrails.Guard, error) {
	if doc.Allow == nil && doc.Deny == nil && doc.Approve == nil {
		return nil, nil
	}
	f := &guardrails.ToolFilter{}
	for _, s := range []struct {
		spec *matchSpec
		path string
		dst  *guardrails.ToolMatch
	}{{doc.Allow, "allow", &f.Allow}, {doc.Deny, "deny", &f.Deny}, {doc.Approve, "approve", &f.Approve}} {
		if s.spec == nil {
			continue
		}
		m, err := b.required(s.spec, s.path, nil)
		if err != nil {
			return nil, err
		}
		*s.dst = m
	}
	return f, nil
}

func (b *builder) arguments(specs []argSpec) (guardrails.Guard, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	rules := make([]guardrails.ArgRule, 0, len(specs))
	for i := range specs {
		s := &specs[i]
		r := guardrails.ArgRule{
			Name: s.Name.V, Tools: b.match(&s.Match), Field: s.Field.V,
			Deny: s.Deny.V, Allow: s.Allow.V, CaseSensitive: s.CaseSensitive.V,
			Verdict: trajectory.Verdict(s.Verdict.V),
		}
		if r.Deny == "" && r.Allow == "" {
			return nil, b.errAt(s.n, "arguments[%d] needs a deny or an allow pattern", i)
		}
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule %d (line %d)", i+1, s.n.Line)
		}
		rules = append(rules, r)
	}
	g, err := guardrails.NewArgGuard(rules...)
	if err != nil {
		return nil, b.errAt(specs[0].n, "arguments: %v", err)
	}
	return g, nil
}

func (b *builder) schemas(s *schemaSpec) (guardrails.Guard, error) {
	if s == nil {
		return nil, nil
	}
	schemas := map[string]json.RawMessage{}
	for i, k := range s.Tools.Keys {
		doc := s.Tools.Vals[i]
		// Compiled one by one, so that an error names its schema's line.
		if _, err := guardrails.NewSchemaGuard(map[string]json.RawMessage{k.Value: doc.V}, false); err != nil {
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			return nil, b.errAt(doc.N, "schema of tool %q: %v", k.Value, err)
		}
		schemas[k.Value] = doc.V
	}
	if len(schemas) == 0 && !s.FromTools.V {
		return nil, b.errAt(s.n, "schemas: give tools or set from_tools: true")
	}
	g, err := guardrails.NewSchemaGuard(schemas, s.FromTools.V)
	if err != nil {
		return nil, b.errAt(s.n, "schemas: %v", err)
	}
	return g, nil
}

func (b *builder) network(s *networkSpec) (guardrails.Guard, error) {
	if s == nil {
		return nil, nil
	}
	np := netsafe.Policy{
		AllowPrivate: s.AllowPrivate.V, AllowLoopback: s.AllowLoopback.V, AllowMetadata: s.AllowMetadata.V,
		Schemes: s.Schemes.V,
	}
	var err error
	if np.AllowDomains, err = b.domains(s.AllowDomains, "network.allow_domains"); err != nil {
		return nil, err
	}
	if np.DenyDomains, err = b.domains(s.DenyDomains, "network.deny_domains"); err != nil {
		return nil, err
	}
	if np.AllowCIDRs, err = b.cidrs(s.AllowCIDRs, "network.allow_cidrs"); err != nil {
		return nil, err
	}
	if np.DenyCIDRs, err = b.cidrs(s.DenyCIDRs, "network.deny_cidrs"); err != nil {
		return nil, err
	}
	for i, port := range s.Ports {
		if err := b.within(port, fmt.Sprintf("network.ports[%d]", i), 1, 65535); err != nil {
			return nil, err
		}
		np.Ports = append(np.Ports, uint16(port.V))
	}
	g, err := guardrails.NewNetworkGuard(np, b.match(&s.Match), s.Resolve.V)
	if err != nil {
		return nil, b.errAt(s.n, "%v", err)
	}
	return g, nil
}

func (b *builder) domains(l strList, path string) ([]string, error) {
	for i, d := range l.V {
		if err := (&netsafe.Policy{AllowDomains: []string{d}}).Validate(); err != nil {
			return nil, b.errAt(l.Nodes[i], "%s: %v", path, err)
		}
	}
	return l.V, nil
}

func (b *builder) cidrs(l strList, path string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range l.V {
		pr, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, b.errAt(l.Nodes[i], "%s: %q is not a CIDR (10.0.0.0/8) or an IP address", path, s)
			}
			pr = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, pr.Masked())
	}
	return out, nil
}

func (b *builder) budget(s *budgetSpec) (guardrails.Guard, error) {
	if s == nil {
		return nil, nil
	}
	g := &guardrails.Budget{MaxCalls: s.MaxCalls.V, MaxDuration: s.MaxDuration.V}
	if s.MaxCalls.N != nil {
		if err := b.within(s.MaxCalls, "budget.max_calls", 0, 1_000_000); err != nil {
			return nil, err
		}
	}
	for i, k := range s.MaxCallsPerTool.Keys {
		if g.MaxCallsPerTool == nil {
			g.MaxCallsPerTool = map[string]int{}
		}
		n := *s.MaxCallsPerTool.Vals[i]
		if err := b.within(n, "budget.max_calls_per_tool."+k.Value, 0, 1_000_000); err != nil {
			return nil, err
		}
		g.MaxCallsPerTool[k.Value] = n.V
	}
	return g, nil
}

func (b *builder) sequences(specs []sequenceSpec) (guardrails.Guard, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	rules := make([]guardrails.SequenceRule, 0, len(specs))
	for i := range specs {
		s := &specs[i]
		path := fmt.Sprintf("sequences[%d]", i)
		if s.After == nil || s.Deny == nil {
			return nil, b.errAt(s.n, "%s needs both after and deny", path)
		}
		after, err := b.required(s.After, path+".after", s.n)
		if err != nil {
			return nil, err
		}
		deny, err := b.required(s.Deny, path+".deny", s.n)
		if err != nil {
			return nil, err
		}
		r := guardrails.SequenceRule{Name: s.Name.V, After: after, Deny: deny, Verdict: trajectory.Verdict(s.Verdict.V)}
		if r.Name == "" {
			r.Name = fmt.Sprintf("sequence %d (line %d)", i+1, s.n.Line)
		}
		rules = append(rules, r)
	}
	g, err := guardrails.NewSequenceGuard(rules...)
	if err != nil {
		return nil, b.errAt(specs[0].n, "sequences: %v", err)
	}
	return g, nil
}

func (b *builder) injection(s *injectionSpec) (guardrails.Guard, error) {
	if s == nil {
		return nil, nil
	}
	g := &guardrails.InjectionGuard{Mode: guardrails.InjectionBlock, Threshold: 0.5, Tools: b.match(&s.Match), FenceAll: s.FenceAll.V}
	if s.Mode.set() {
		g.Mode = guardrails.InjectionMode(s.Mode.V)
	}
	if s.Threshold.N != nil {
		if s.Threshold.V == 0 {
			return nil, b.errAt(s.Threshold.N, "injection.threshold must be above 0")
		}
		g.Threshold = s.Threshold.V
	}
	if g.FenceAll && g.Mode != guardrails.InjectionFence {
		return nil, b.errAt(s.n, "injection.fence_all needs mode: fence")
	}
	return g, nil
}

// Judges a file may name: the built-in heuristic RRM, or the model judge
// the caller passes with WithJudge.
const (
	judgeHeuristic = "heuristic"
	judgeModel     = "model"
)

func (b *builder) gate(s *gateSpec) (guardrails.Guard, error) {
	var opts []guardrails.GateOption
	if s.Threshold.N != nil {
		opts = append(opts, guardrails.GateThreshold(s.Threshold.V))
	}
	if s.Verdict.set() {
		opts = append(opts, guardrails.GateVerdict(trajectory.Verdict(s.Verdict.V)))
	}
	if s.OnJudgeError.set() {
		opts = append(opts, guardrails.GateFailOpen(s.OnJudgeError.V == "allow"))
	}
	if s.Timeout.N != nil {
		opts = append(opts, guardrails.GateTimeout(s.Timeout.V))
	}
	if s.Flags.set() {
		if s.Flags.V == "" {
			opts = append(opts, guardrails.GateFlags(nil))
		} else {
			opts = append(opts, guardrails.GateFlags(regexp.MustCompile("(?i)"+s.Flags.V)))
		}
	}
	if scope := b.match(&s.Match); !scope.Empty() {
		opts = append(opts, guardrails.GateTools(scope))
	} else if _, ok := b.used[guardrails.TagRisky]; !ok {
		b.used[guardrails.TagRisky] = s.n
	}
	kind := strings.ToLower(s.Judge.V)
	switch {
	case s.Judge.set() && kind != judgeHeuristic && kind != judgeModel:
		return nil, b.errAt(s.Judge.N, "rrm_gate.judge must be %s or %s (a judge passed with policyfile.WithJudge), not %q", judgeHeuristic, judgeModel, s.Judge.V)
	case b.opts.judge != nil:
		return guardrails.NewRRMGate(b.opts.judge, opts...), nil
	case kind == judgeModel:
		return nil, b.errAt(s.Judge.N, "rrm_gate.judge is model but no judge was given: pass one with policyfile.WithJudge, or say judge: heuristic")
	}
	return guardrails.NewRRMGate(rrm.NewHeuristic(), opts...), nil
}

func (b *builder) approval(p *guardrails.Policy, s *approvalSpec) error {
	p.ApprovalTimeout = s.Timeout.V
	if s.Terminal.V && s.Webhook != nil {
		return b.errAt(s.n, "approval: choose one of terminal and webhook")
	}
	var w *webhookSpec
	if s.Webhook != nil {
		w = s.Webhook
		if !w.URL.set() || !w.SecretEnv.set() {
			return b.errAt(w.n, "approval.webhook needs url and secret_env (the secret itself never goes in the file)")
		}
		if !strings.HasPrefix(w.URL.V, "http://") && !strings.HasPrefix(w.URL.V, "https://") {
			return b.errAt(w.URL.N, "approval.webhook.url must start with http:// or https://")
		}
	}
	if b.opts.approver != nil {
		return nil // the caller's approver wins; the file's is not built
	}
	switch {
	case s.Terminal.V:
		in, out := b.opts.in, b.opts.out
		if in == nil {
			in = os.Stdin
		}
		if out == nil {
			out = os.Stderr
		}
		p.Approver = approval.NewTerminalApprover(in, out)
	case w != nil:
		secret := b.opts.getenv(w.SecretEnv.V)
		if secret == "" {
			p.Warnings = append(p.Warnings, fmt.Sprintf("line %d: webhook secret variable %s is not set: every escalation will be denied", w.n.Line, w.SecretEnv.V))
			p.Approver = unavailable("webhook", fmt.Errorf("webhook approval: secret variable %s is not set", w.SecretEnv.V))
			return nil
		}
		a, err := approval.NewWebhookApprover(w.URL.V, []byte(secret), approval.WithWebhookTimeout(w.Timeout.V))
		if err != nil {
			return b.errAt(w.n, "%v", err)
		}
		p.Approver = a
	}
	return nil
}

// unavailable is an approver that denies every request with the reason it
// cannot work.
func unavailable(name string, err error) approval.Approver {
	return approval.Func{Label: name, Fn: func(context.Context, approval.Request) (approval.Resolution, error) {
		return approval.Resolution{}, err
	}}
}

func (b *builder) warnUnusedTags(p *guardrails.Policy) {
	carried := map[string]bool{}
	for _, ts := range p.ToolTags {
		for _, t := range ts {
			carried[t] = true
		}
	}
	names := make([]string, 0, len(b.used))
	for t := range b.used {
		if !carried[t] {
			names = append(names, t)
		}
	}
	sort.Strings(names)
	for _, t := range names {
		p.Warnings = append(p.Warnings, fmt.Sprintf("line %d: tag %q is used but no tool in `tools` carries it (fine if tools tag themselves)", b.used[t].Line, t))
	}
}

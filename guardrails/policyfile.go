package guardrails

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/tools/netsafe"
	"github.com/reagent-go/reagent/trajectory"
)

// PolicyError is a problem in a policy file, with its position.
type PolicyError struct {
	Source       string
	Line, Column int
	Msg          string
}

// Error formats the problem as "source:line:column: message".
func (e *PolicyError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.Source, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Source, e.Msg)
}

// ParseOption configures ParsePolicy and LoadPolicyFile.
type ParseOption func(*parser)

// WithJudge gives the RRM gate its judge, whatever the file's rrm_gate.judge
// says.
func WithJudge(j rrm.Judge) ParseOption { return func(p *parser) { p.judge = j } }

// WithGetenv sets how environment variables (webhook secret, API key
// names) are read (default os.Getenv).
func WithGetenv(f func(string) string) ParseOption {
	return func(p *parser) {
		if f != nil {
			p.getenv = f
		}
	}
}

// WithTerminal sets the streams of a terminal approver (default os.Stdin
// and os.Stderr).
func WithTerminal(in io.Reader, out io.Writer) ParseOption {
	return func(p *parser) { p.in, p.out = in, out }
}

// WithSource names the policy in error messages (LoadPolicyFile uses the
// path).
func WithSource(name string) ParseOption { return func(p *parser) { p.source = name } }

// maxPolicyBytes bounds a policy file.
const maxPolicyBytes = 1 << 20

// LoadPolicyFile reads and parses a YAML policy file.
func LoadPolicyFile(path string, opts ...ParseOption) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", path, err)
	}
	return ParsePolicy(data, append([]ParseOption{WithSource(path)}, opts...)...)
}

type parser struct {
	source   string
	judge    rrm.Judge
	getenv   func(string) string
	in       io.Reader
	out      io.Writer
	policy   *Policy
	usedTags map[string]*yaml.Node
}

// ParsePolicy parses a YAML policy. Unknown keys, wrong types, bad
// patterns, ranges or durations are errors that name the line.
func ParsePolicy(data []byte, opts ...ParseOption) (*Policy, error) {
	p := &parser{source: "policy", getenv: os.Getenv, usedTags: map[string]*yaml.Node{}}
	for _, o := range opts {
		o(p)
	}
	if len(data) > maxPolicyBytes {
		return nil, &PolicyError{Source: p.source, Msg: "file larger than 1 MiB"}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &PolicyError{Source: p.source, Msg: "empty policy"}
		}
		return nil, &PolicyError{Source: p.source, Msg: oneLine(err.Error())}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		at := &extra
		if len(extra.Content) > 0 {
			at = extra.Content[0]
		}
		return nil, p.errf(at, "more than one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &PolicyError{Source: p.source, Msg: "empty policy"}
	}
	pol, err := p.parse(doc.Content[0])
	if err != nil {
		return nil, err
	}
	return pol, nil
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	e := &PolicyError{Source: p.source, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

// check refuses alias nodes: a policy is small, and aliases make its
// meaning (and its parsing cost) hard to see.
func (p *parser) check(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		return p.errf(n, "YAML aliases are not supported in policy files")
	}
	return nil
}

// fields walks a mapping, refusing duplicate and unknown keys.
func (p *parser) fields(n *yaml.Node, where string, handlers map[string]func(*yaml.Node) error) error {
	if err := p.check(n); err != nil {
		return err
	}
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "%s must be a mapping", where)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if err := p.check(k); err != nil {
			return err
		}
		if k.Kind != yaml.ScalarNode {
			return p.errf(k, "%s: keys must be plain strings", where)
		}
		key := k.Value
		if seen[key] {
			return p.errf(k, "%s: duplicate key %q", where, key)
		}
		seen[key] = true
		h, ok := handlers[key]
		if !ok {
			known := make([]string, 0, len(handlers))
			for name := range handlers {
				known = append(known, name)
			}
			sort.Strings(known)
			return p.errf(k, "unknown key %q in %s (known: %s)", key, where, strings.Join(known, ", "))
		}
		if err := p.check(v); err != nil {
			return err
		}
		if err := h(v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) scalar(n *yaml.Node, what string) (string, error) {
	if err := p.check(n); err != nil {
		return "", err
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errf(n, "%s must be a single value", what)
	}
	return n.Value, nil
}

func (p *parser) str(n *yaml.Node, what string) (string, error) {
	s, err := p.scalar(n, what)
	if err != nil {
		return "", err
	}
	if n.Tag != "!!str" && n.Tag != "" {
		return "", p.errf(n, "%s must be a string, not %s (quote it)", what, strings.TrimPrefix(n.Tag, "!!"))
	}
	return s, nil
}

func (p *parser) strList(n *yaml.Node, what string) ([]string, error) {
	if err := p.check(n); err != nil {
		return nil, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "%s must be a list", what)
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, err := p.scalar(c, what+" entries")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(s) == "" {
			return nil, p.errf(c, "%s: empty entry", what)
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, error) {
	s, err := p.scalar(n, what)
	if err != nil {
		return false, err
	}
	if n.Tag != "!!bool" {
		return false, p.errf(n, "%s must be true or false, not %q", what, s)
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		return false, p.errf(n, "%s: %v", what, err)
	}
	return b, nil
}

func (p *parser) integer(n *yaml.Node, what string, min, max int) (int, error) {
	s, err := p.scalar(n, what)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(s)
	if err != nil || n.Tag != "!!int" {
		return 0, p.errf(n, "%s must be a whole number, not %q", what, s)
	}
	if v < min || v > max {
		return 0, p.errf(n, "%s must be between %d and %d, not %d", what, min, max, v)
	}
	return v, nil
}

func (p *parser) fraction(n *yaml.Node, what string) (float64, error) {
	s, err := p.scalar(n, what)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || (n.Tag != "!!float" && n.Tag != "!!int") || math.IsNaN(v) {
		return 0, p.errf(n, "%s must be a number, not %q", what, s)
	}
	if v < 0 || v > 1 {
		return 0, p.errf(n, "%s must be between 0 and 1, not %v", what, v)
	}
	return v, nil
}

func (p *parser) duration(n *yaml.Node, what string) (time.Duration, error) {
	s, err := p.scalar(n, what)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, p.errf(n, "%s must be a positive duration like 30s or 5m, not %q", what, s)
	}
	return d, nil
}

func (p *parser) verdict(n *yaml.Node, what string) (trajectory.Verdict, error) {
	s, err := p.str(n, what)
	if err != nil {
		return "", err
	}
	switch v := trajectory.Verdict(strings.ToLower(s)); v {
	case trajectory.Block, trajectory.Escalate:
		return v, nil
	}
	return "", p.errf(n, "%s must be block or escalate, not %q", what, s)
}

func (p *parser) pattern(n *yaml.Node, what string) (string, error) {
	s, err := p.str(n, what)
	if err != nil {
		return "", err
	}
	if _, err := regexp.Compile(s); err != nil {
		return "", p.errf(n, "%s: bad regular expression: %v", what, err)
	}
	return s, nil
}

// matchFields returns handlers for "tools" and "tags" filling m.
func (p *parser) matchFields(m *ToolMatch, where string, h map[string]func(*yaml.Node) error) map[string]func(*yaml.Node) error {
	if h == nil {
		h = map[string]func(*yaml.Node) error{}
	}
	h["tools"] = func(n *yaml.Node) (err error) {
		m.Names, err = p.strList(n, where+".tools")
		return err
	}
	h["tags"] = func(n *yaml.Node) (err error) {
		m.Tags, err = p.strList(n, where+".tags")
		for i, t := range m.Tags {
			if _, ok := p.usedTags[t]; !ok {
				p.usedTags[t] = n.Content[i]
			}
		}
		return err
	}
	return h
}

func (p *parser) match(n *yaml.Node, where string) (ToolMatch, error) {
	var m ToolMatch
	if err := p.fields(n, where, p.matchFields(&m, where, nil)); err != nil {
		return m, err
	}
	if m.Empty() {
		return m, p.errf(n, "%s must list tools or tags", where)
	}
	return m, nil
}

// parse builds the policy. Guards run in a fixed order: tools, arguments,
// schema, network, budget, sequence, prompt injection, RRM gate.
func (p *parser) parse(root *yaml.Node) (*Policy, error) {
	pol := &Policy{source: p.source, tags: map[string][]string{}, display: map[string]string{}, mode: ModeBlock}
	p.policy = pol
	var (
		filter     ToolFilter
		haveFilter bool
		args       []ArgRule
		schemaNode *yaml.Node
		netNode    *yaml.Node
		budget     *Budget
		injection  *InjectionGuard
		sequences  []SequenceRule
		gateNode   *yaml.Node
		approval   *yaml.Node
	)
	err := p.fields(root, "the policy", map[string]func(*yaml.Node) error{
		"version": func(n *yaml.Node) error {
			_, err := p.integer(n, "version", 1, 1)
			return err
		},
		"mode": func(n *yaml.Node) error {
			s, err := p.str(n, "mode")
			if err != nil {
				return err
			}
			switch m := Mode(strings.ToLower(s)); m {
			case ModeBlock, ModeAbort:
				pol.mode = m
				return nil
			}
			return p.errf(n, "mode must be block or abort, not %q", s)
		},
		"tools": func(n *yaml.Node) error {
			if n.Kind != yaml.MappingNode {
				return p.errf(n, "tools must map tool names to lists of tags")
			}
			h := map[string]func(*yaml.Node) error{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				name := n.Content[i].Value
				if strings.TrimSpace(name) == "" {
					return p.errf(n.Content[i], "tools: empty tool name")
				}
				h[name] = func(v *yaml.Node) error {
					tags, err := p.strList(v, "tags of tool "+strconv.Quote(name))
					if err != nil {
						return err
					}
					for _, t := range tags {
						if strings.ContainsAny(t, " \t,") {
							return p.errf(v, "tag %q of tool %q: tags are single words", t, name)
						}
					}
					pol.addTags(name, tags...)
					return nil
				}
			}
			return p.fields(n, "tools", h)
		},
		"allow": func(n *yaml.Node) (err error) {
			haveFilter = true
			filter.Allow, err = p.match(n, "allow")
			return err
		},
		"deny": func(n *yaml.Node) (err error) {
			haveFilter = true
			filter.Deny, err = p.match(n, "deny")
			return err
		},
		"approve": func(n *yaml.Node) (err error) {
			haveFilter = true
			filter.Approve, err = p.match(n, "approve")
			return err
		},
		"arguments": func(n *yaml.Node) (err error) {
			args, err = p.argRules(n)
			return err
		},
		"schemas":   func(n *yaml.Node) error { schemaNode = n; return nil },
		"network":   func(n *yaml.Node) error { netNode = n; return nil },
		"rrm_gate":  func(n *yaml.Node) error { gateNode = n; return nil },
		"approval":  func(n *yaml.Node) error { approval = n; return nil },
		"budget":    func(n *yaml.Node) (err error) { budget, err = p.budget(n); return err },
		"injection": func(n *yaml.Node) (err error) { injection, err = p.injection(n); return err },
		"sequences": func(n *yaml.Node) (err error) { sequences, err = p.sequences(n); return err },
	})
	if err != nil {
		return nil, err
	}
	if haveFilter {
		pol.add(&filter)
	}
	if len(args) > 0 {
		g, err := NewArgGuard(args...)
		if err != nil {
			return nil, p.errf(root, "%v", err)
		}
		pol.add(g)
	}
	if schemaNode != nil {
		g, err := p.schemas(schemaNode)
		if err != nil {
			return nil, err
		}
		pol.add(g)
	}
	if netNode != nil {
		g, err := p.network(netNode)
		if err != nil {
			return nil, err
		}
		pol.add(g)
	}
	if budget != nil {
		pol.add(budget)
	}
	if len(sequences) > 0 {
		g, err := NewSequenceGuard(sequences...)
		if err != nil {
			return nil, p.errf(root, "%v", err)
		}
		pol.add(g)
	}
	if injection != nil {
		pol.add(injection)
	}
	if gateNode != nil {
		g, err := p.gate(gateNode)
		if err != nil {
			return nil, err
		}
		pol.add(g)
	}
	if approval != nil {
		if err := p.approval(approval); err != nil {
			return nil, err
		}
	}
	if len(pol.guards) == 0 {
		return nil, p.errf(root, "the policy configures no guard (add tools, arguments, network, budget, injection, … sections)")
	}
	p.warnUnusedTags()
	pol.seal()
	return pol, nil
}

func (p *parser) warnUnusedTags() {
	carried := map[string]bool{}
	for _, ts := range p.policy.tags {
		for _, t := range ts {
			carried[t] = true
		}
	}
	names := make([]string, 0, len(p.usedTags))
	for t := range p.usedTags {
		if !carried[t] {
			names = append(names, t)
		}
	}
	sort.Strings(names)
	for _, t := range names {
		n := p.usedTags[t]
		p.policy.warnings = append(p.policy.warnings, fmt.Sprintf("line %d: tag %q is used but no tool in `tools` carries it (fine if tools tag themselves)", n.Line, t))
	}
}

func (p *parser) argRules(n *yaml.Node) ([]ArgRule, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "arguments must be a list of rules")
	}
	var rules []ArgRule
	for i, item := range n.Content {
		var r ArgRule
		where := fmt.Sprintf("arguments[%d]", i)
		h := p.matchFields(&r.Tools, where, map[string]func(*yaml.Node) error{
			"name":  func(v *yaml.Node) (err error) { r.Name, err = p.str(v, where+".name"); return err },
			"field": func(v *yaml.Node) (err error) { r.Field, err = p.str(v, where+".field"); return err },
			"deny":  func(v *yaml.Node) (err error) { r.Deny, err = p.pattern(v, where+".deny"); return err },
			"allow": func(v *yaml.Node) (err error) { r.Allow, err = p.pattern(v, where+".allow"); return err },
			"case_sensitive": func(v *yaml.Node) (err error) {
				r.CaseSensitive, err = p.boolean(v, where+".case_sensitive")
				return err
			},
			"verdict": func(v *yaml.Node) (err error) { r.Verdict, err = p.verdict(v, where+".verdict"); return err },
		})
		if err := p.fields(item, where, h); err != nil {
			return nil, err
		}
		if r.Deny == "" && r.Allow == "" {
			return nil, p.errf(item, "%s needs a deny or an allow pattern", where)
		}
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule %d (line %d)", i+1, item.Line)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func (p *parser) schemas(n *yaml.Node) (*SchemaGuard, error) {
	var fromTools bool
	schemas := map[string]json.RawMessage{}
	err := p.fields(n, "schemas", map[string]func(*yaml.Node) error{
		"from_tools": func(v *yaml.Node) (err error) { fromTools, err = p.boolean(v, "schemas.from_tools"); return err },
		"tools": func(v *yaml.Node) error {
			if v.Kind != yaml.MappingNode {
				return p.errf(v, "schemas.tools must map tool names to JSON schemas")
			}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, sv := v.Content[i], v.Content[i+1]
				if _, dup := schemas[k.Value]; dup {
					return p.errf(k, "schemas.tools: duplicate tool %q", k.Value)
				}
				raw, err := p.schemaJSON(sv, "schema of tool "+strconv.Quote(k.Value))
				if err != nil {
					return err
				}
				if _, err := compileSchema(raw); err != nil {
					return p.errf(sv, "schema of tool %q: %v", k.Value, err)
				}
				schemas[k.Value] = raw
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if len(schemas) == 0 && !fromTools {
		return nil, p.errf(n, "schemas: give tools or set from_tools: true")
	}
	g, err := NewSchemaGuard(schemas, fromTools)
	if err != nil {
		return nil, p.errf(n, "%v", err)
	}
	return g, nil
}

// schemaJSON turns a YAML mapping (or a string of JSON) into JSON.
func (p *parser) schemaJSON(n *yaml.Node, what string) (json.RawMessage, error) {
	if err := p.noAliases(n); err != nil {
		return nil, err
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		if !json.Valid([]byte(n.Value)) {
			return nil, p.errf(n, "%s: string is not valid JSON", what)
		}
		return json.RawMessage(n.Value), nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, "%s must be a mapping (or a JSON string)", what)
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, p.errf(n, "%s: %v", what, err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, p.errf(n, "%s: cannot be JSON (keys must be strings): %v", what, err)
	}
	return raw, nil
}

func (p *parser) noAliases(n *yaml.Node) error {
	if err := p.check(n); err != nil {
		return err
	}
	for _, c := range n.Content {
		if err := p.noAliases(c); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) network(n *yaml.Node) (*NetworkGuard, error) {
	var (
		np      netsafe.Policy
		scope   ToolMatch
		resolve bool
	)
	cidrs := func(dst *[]netip.Prefix, what string) func(*yaml.Node) error {
		return func(v *yaml.Node) error {
			list, err := p.strList(v, what)
			if err != nil {
				return err
			}
			for i, s := range list {
				pr, err := netip.ParsePrefix(s)
				if err != nil {
					a, aerr := netip.ParseAddr(s)
					if aerr != nil {
						return p.errf(v.Content[i], "%s: %q is not a CIDR (10.0.0.0/8) or an IP address", what, s)
					}
					pr = netip.PrefixFrom(a, a.BitLen())
				}
				*dst = append(*dst, pr.Masked())
			}
			return nil
		}
	}
	domains := func(dst *[]string, what string) func(*yaml.Node) error {
		return func(v *yaml.Node) error {
			list, err := p.strList(v, what)
			if err != nil {
				return err
			}
			for i, d := range list {
				if err := (&netsafe.Policy{AllowDomains: []string{d}}).Validate(); err != nil {
					return p.errf(v.Content[i], "%s: %v", what, err)
				}
			}
			*dst = list
			return nil
		}
	}
	flag := func(dst *bool, what string) func(*yaml.Node) error {
		return func(v *yaml.Node) (err error) { *dst, err = p.boolean(v, what); return err }
	}
	h := p.matchFields(&scope, "network", map[string]func(*yaml.Node) error{
		"allow_domains":  domains(&np.AllowDomains, "network.allow_domains"),
		"deny_domains":   domains(&np.DenyDomains, "network.deny_domains"),
		"allow_private":  flag(&np.AllowPrivate, "network.allow_private"),
		"allow_loopback": flag(&np.AllowLoopback, "network.allow_loopback"),
		"allow_metadata": flag(&np.AllowMetadata, "network.allow_metadata"),
		"resolve":        flag(&resolve, "network.resolve"),
		"allow_cidrs":    cidrs(&np.AllowCIDRs, "network.allow_cidrs"),
		"deny_cidrs":     cidrs(&np.DenyCIDRs, "network.deny_cidrs"),
		"schemes": func(v *yaml.Node) (err error) {
			np.Schemes, err = p.strList(v, "network.schemes")
			return err
		},
		"ports": func(v *yaml.Node) error {
			if v.Kind != yaml.SequenceNode {
				return p.errf(v, "network.ports must be a list")
			}
			for _, c := range v.Content {
				port, err := p.integer(c, "network.ports entries", 1, 65535)
				if err != nil {
					return err
				}
				np.Ports = append(np.Ports, uint16(port))
			}
			return nil
		},
	})
	if err := p.fields(n, "network", h); err != nil {
		return nil, err
	}
	g, err := NewNetworkGuard(np, scope, resolve)
	if err != nil {
		return nil, p.errf(n, "%v", err)
	}
	return g, nil
}

func (p *parser) budget(n *yaml.Node) (*Budget, error) {
	b := &Budget{}
	err := p.fields(n, "budget", map[string]func(*yaml.Node) error{
		"max_calls": func(v *yaml.Node) (err error) {
			b.MaxCalls, err = p.integer(v, "budget.max_calls", 0, 1_000_000)
			return err
		},
		"max_duration": func(v *yaml.Node) (err error) {
			b.MaxDuration, err = p.duration(v, "budget.max_duration")
			return err
		},
		"max_calls_per_tool": func(v *yaml.Node) error {
			if v.Kind != yaml.MappingNode {
				return p.errf(v, "budget.max_calls_per_tool must map tool names (or \"*\") to numbers")
			}
			b.MaxCallsPerTool = map[string]int{}
			h := map[string]func(*yaml.Node) error{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				name := v.Content[i].Value
				h[name] = func(c *yaml.Node) (err error) {
					b.MaxCallsPerTool[name], err = p.integer(c, "budget.max_calls_per_tool."+name, 0, 1_000_000)
					return err
				}
			}
			return p.fields(v, "budget.max_calls_per_tool", h)
		},
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (p *parser) injection(n *yaml.Node) (*InjectionGuard, error) {
	g := &InjectionGuard{Mode: InjectionBlock, Threshold: 0.5}
	h := p.matchFields(&g.Tools, "injection", map[string]func(*yaml.Node) error{
		"mode": func(v *yaml.Node) error {
			s, err := p.str(v, "injection.mode")
			if err != nil {
				return err
			}
			switch m := InjectionMode(strings.ToLower(s)); m {
			case InjectionBlock, InjectionEscalate, InjectionFence:
				g.Mode = m
				return nil
			}
			return p.errf(v, "injection.mode must be block, escalate or fence, not %q", s)
		},
		"threshold": func(v *yaml.Node) error {
			t, err := p.fraction(v, "injection.threshold")
			if err == nil && t == 0 {
				err = p.errf(v, "injection.threshold must be above 0")
			}
			g.Threshold = t
			return err
		},
		"fence_all": func(v *yaml.Node) (err error) { g.FenceAll, err = p.boolean(v, "injection.fence_all"); return err },
	})
	if err := p.fields(n, "injection", h); err != nil {
		return nil, err
	}
	if g.FenceAll && g.Mode != InjectionFence {
		return nil, p.errf(n, "injection.fence_all needs mode: fence")
	}
	return g, nil
}

func (p *parser) sequences(n *yaml.Node) ([]SequenceRule, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "sequences must be a list of rules")
	}
	var rules []SequenceRule
	for i, item := range n.Content {
		var r SequenceRule
		where := fmt.Sprintf("sequences[%d]", i)
		var haveAfter, haveDeny bool
		err := p.fields(item, where, map[string]func(*yaml.Node) error{
			"name": func(v *yaml.Node) (err error) { r.Name, err = p.str(v, where+".name"); return err },
			"after": func(v *yaml.Node) (err error) {
				haveAfter = true
				r.After, err = p.match(v, where+".after")
				return err
			},
			"deny": func(v *yaml.Node) (err error) {
				haveDeny = true
				r.Deny, err = p.match(v, where+".deny")
				return err
			},
			"verdict": func(v *yaml.Node) (err error) { r.Verdict, err = p.verdict(v, where+".verdict"); return err },
		})
		if err != nil {
			return nil, err
		}
		if !haveAfter || !haveDeny {
			return nil, p.errf(item, "%s needs both after and deny", where)
		}
		if r.Name == "" {
			r.Name = fmt.Sprintf("sequence %d (line %d)", i+1, item.Line)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func (p *parser) gate(n *yaml.Node) (*RRMGate, error) {
	var (
		scope     ToolMatch
		opts      []GateOption
		judgeKind = "heuristic"
		judgeNode = n
		model     = ""
		baseURL   = ""
		keyEnv    = ""
	)
	h := p.matchFields(&scope, "rrm_gate", map[string]func(*yaml.Node) error{
		"threshold": func(v *yaml.Node) error {
			t, err := p.fraction(v, "rrm_gate.threshold")
			opts = append(opts, GateThreshold(t))
			return err
		},
		"verdict": func(v *yaml.Node) error {
			vd, err := p.verdict(v, "rrm_gate.verdict")
			opts = append(opts, GateVerdict(vd))
			return err
		},
		"on_judge_error": func(v *yaml.Node) error {
			s, err := p.str(v, "rrm_gate.on_judge_error")
			if err != nil {
				return err
			}
			switch strings.ToLower(s) {
			case "block":
				opts = append(opts, GateFailOpen(false))
			case "allow":
				opts = append(opts, GateFailOpen(true))
			default:
				return p.errf(v, "rrm_gate.on_judge_error must be block or allow, not %q", s)
			}
			return nil
		},
		"timeout": func(v *yaml.Node) error {
			d, err := p.duration(v, "rrm_gate.timeout")
			opts = append(opts, GateTimeout(d))
			return err
		},
		"flags": func(v *yaml.Node) error {
			s, err := p.pattern(v, "rrm_gate.flags")
			if err != nil {
				return err
			}
			if s == "" {
				opts = append(opts, GateFlags(nil))
				return nil
			}
			opts = append(opts, GateFlags(regexp.MustCompile("(?i)"+s)))
			return nil
		},
		"judge": func(v *yaml.Node) (err error) {
			judgeNode = v
			judgeKind, err = p.str(v, "rrm_gate.judge")
			return err
		},
		"model":       func(v *yaml.Node) (err error) { model, err = p.str(v, "rrm_gate.model"); return err },
		"base_url":    func(v *yaml.Node) (err error) { baseURL, err = p.str(v, "rrm_gate.base_url"); return err },
		"api_key_env": func(v *yaml.Node) (err error) { keyEnv, err = p.str(v, "rrm_gate.api_key_env"); return err },
	})
	if err := p.fields(n, "rrm_gate", h); err != nil {
		return nil, err
	}
	if !scope.Empty() {
		opts = append(opts, GateTools(scope))
	} else if _, ok := p.usedTags[TagRisky]; !ok {
		p.usedTags[TagRisky] = n
	}
	judge := p.judge
	if judge == nil {
		switch strings.ToLower(judgeKind) {
		case "heuristic":
			judge = rrm.NewHeuristic()
		case "openai":
			if baseURL == "" || model == "" {
				return nil, p.errf(judgeNode, "rrm_gate: judge openai needs base_url and model")
			}
			ropts := []rrm.Option{rrm.WithBaseURL(baseURL), rrm.WithModel(model)}
			if keyEnv != "" {
				ropts = append(ropts, rrm.WithAPIKeyEnv(keyEnv))
			}
			judge = rrm.NewOpenAI(ropts...)
		case "provided":
			return nil, p.errf(judgeNode, "rrm_gate: judge is \"provided\" but no judge was given (guardrails.WithJudge)")
		default:
			return nil, p.errf(judgeNode, "rrm_gate.judge must be heuristic, openai or provided, not %q", judgeKind)
		}
	}
	return NewRRMGate(judge, opts...), nil
}

func (p *parser) approval(n *yaml.Node) error {
	var (
		timeout  time.Duration
		approver Approver
		kinds    int
	)
	err := p.fields(n, "approval", map[string]func(*yaml.Node) error{
		"timeout": func(v *yaml.Node) (err error) { timeout, err = p.duration(v, "approval.timeout"); return err },
		"terminal": func(v *yaml.Node) error {
			on, err := p.boolean(v, "approval.terminal")
			if err != nil || !on {
				return err
			}
			kinds++
			in, out := p.in, p.out
			if in == nil {
				in = os.Stdin
			}
			if out == nil {
				out = os.Stderr
			}
			approver = NewTerminalApprover(in, out)
			return nil
		},
		"webhook": func(v *yaml.Node) error {
			kinds++
			var url, secretEnv string
			var wt time.Duration
			err := p.fields(v, "approval.webhook", map[string]func(*yaml.Node) error{
				"url": func(c *yaml.Node) (err error) {
					url, err = p.str(c, "approval.webhook.url")
					if err == nil && !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
						err = p.errf(c, "approval.webhook.url must start with http:// or https://")
					}
					return err
				},
				"secret_env": func(c *yaml.Node) (err error) {
					secretEnv, err = p.str(c, "approval.webhook.secret_env")
					return err
				},
				"timeout": func(c *yaml.Node) (err error) { wt, err = p.duration(c, "approval.webhook.timeout"); return err },
			})
			if err != nil {
				return err
			}
			if url == "" || secretEnv == "" {
				return p.errf(v, "approval.webhook needs url and secret_env (the secret itself never goes in the file)")
			}
			secret := p.getenv(secretEnv)
			if secret == "" {
				p.policy.warnings = append(p.policy.warnings, fmt.Sprintf("line %d: webhook secret variable %s is not set: every escalation will be denied", v.Line, secretEnv))
				approver = unavailableApprover{name: "webhook", err: fmt.Errorf("webhook approval: secret variable %s is not set", secretEnv)}
				return nil
			}
			approver, err = NewWebhookApprover(url, []byte(secret), WithWebhookTimeout(wt))
			if err != nil {
				return p.errf(v, "%v", err)
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	if kinds > 1 {
		return p.errf(n, "approval: choose one of terminal and webhook")
	}
	p.policy.approver, p.policy.approvalTimeout = approver, timeout
	return nil
}

// unavailableApprover denies every request with the reason it cannot work.
type unavailableApprover struct {
	name string
	err  error
}

func (u unavailableApprover) Name() string { return u.name }

func (u unavailableApprover) Approve(context.Context, Request) (Resolution, error) {
	return Resolution{}, u.err
}

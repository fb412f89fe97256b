// Package policyfile loads guardrail policies from YAML files into
// guardrails.Policy values. Its one job is the file: the guards, the tool
// tags, the mode and the approval set up there. What the file cannot hold
// comes from the caller: the RRM gate's model judge (WithJudge), an
// approver of your own (WithApprover), the environment the webhook secret
// is read from (WithGetenv).
//
// The file is one YAML mapping; every section is optional, but at least
// one guard must be configured:
//
//	version: 1
//	mode: block                  # or abort
//	tools: {browser: [egress]}   # tags by tool name
//	allow / deny / approve: {tools: [...], tags: [...]}
//	arguments: [{name, tools, tags, field, deny, allow, case_sensitive, verdict}]
//	schemas: {from_tools: true, tools: {NAME: JSON schema}}
//	network: {tools, tags, allow_domains, deny_domains, allow_private, allow_loopback,
//	          allow_metadata, resolve, allow_cidrs, deny_cidrs, schemes, ports}
//	budget: {max_calls, max_calls_per_tool: {NAME or "*": N}, max_duration}
//	sequences: [{name, after: {tools, tags}, deny: {tools, tags}, verdict}]
//	injection: {tools, tags, mode: block|escalate|fence, threshold, fence_all}
//	rrm_gate: {tools, tags, judge: heuristic|model, threshold, verdict,
//	           on_judge_error: block|allow, timeout, flags}
//	approval: {timeout, terminal: true | webhook: {url, secret_env, timeout}}
//
// The guards run in that order; the RRM gate is one of Policy.Gates (it
// runs last, and not at all when a guard blocked).
//
// A policy that does not load is an *Error naming the line and column at
// fault; nothing is guessed. `reagent policy check FILE` prints the summary
// of a file, `reagent policy default` the default policy.
package policyfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/rrm"
)

// Error is a problem in a policy file, with its position. Line and Column
// are 1-based; both are 0 when the problem is the file as a whole (it is
// empty or too large), and Column is 0 when the YAML parser names only a
// line.
type Error struct {
	// Source names the file (its path, or what WithSource says).
	Source string
	// Line and Column locate the problem.
	Line, Column int
	// Msg says what is wrong, in one line.
	Msg string
}

// Error formats the problem as "source:line:column: message".
func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.Source, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Source, e.Msg)
}

// Option configures Parse, Load and Default.
type Option func(*options)

type options struct {
	source   string
	getenv   func(string) string
	judge    rrm.Judge
	approver approval.Approver
	in       io.Reader
	out      io.Writer
}

// WithSource names the policy in errors and summaries (default "policy";
// Load uses the path).
func WithSource(name string) Option { return func(o *options) { o.source = name } }

// WithGetenv sets how the webhook secret's environment variable is read
// (default os.Getenv).
func WithGetenv(f func(string) string) Option {
	return func(o *options) {
		if f != nil {
			o.getenv = f
		}
	}
}

// WithJudge gives the file's rrm_gate its judge (a model judge such as
// rrm.NewOpenAI, or any rrm.Judge); it wins over the file's judge key.
// Without it the gate judges with the built-in heuristic RRM, and a file
// that says `judge: model` is refused.
func WithJudge(j rrm.Judge) Option { return func(o *options) { o.judge = j } }

// WithApprover sets who resolves escalations; it wins over the file's
// approval section (whose timeout still applies).
func WithApprover(a approval.Approver) Option { return func(o *options) { o.approver = a } }

// WithTerminal sets the streams of the terminal approver a file may ask
// for (`approval: {terminal: true}`; default os.Stdin and os.Stderr).
func WithTerminal(in io.Reader, out io.Writer) Option {
	return func(o *options) { o.in, o.out = in, out }
}

// maxBytes bounds a policy file.
const maxBytes = 1 << 20

// Load reads and parses a YAML policy file; errors name the path.
func Load(path string, opts ...Option) (guardrails.Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return guardrails.Policy{}, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return guardrails.Policy{}, fmt.Errorf("policy: read %s: %w", path, err)
	}
	return Parse(data, append([]Option{WithSource(path)}, opts...)...)
}

// Parse parses a YAML policy. Unknown or repeated keys, aliases, wrong
// types, bad patterns, ranges, durations and schemas are errors (an
// *Error) that name the line and column. Problems that leave the policy
// usable (an unset webhook secret, a tag no tool carries) are
// Policy.Warnings.
func Parse(data []byte, opts ...Option) (guardrails.Policy, error) {
	o := options{source: "policy", getenv: os.Getenv}
	for _, opt := range opts {
		opt(&o)
	}
	d := &decoder{source: o.source}
	if len(data) > maxBytes {
		return guardrails.Policy{}, &Error{Source: o.source, Msg: "file larger than 1 MiB"}
	}
	root, err := d.root(data)
	if err != nil {
		return guardrails.Policy{}, err
	}
	var doc document
	if err := d.decode(root, "", "", reflect.ValueOf(&doc)); err != nil {
		return guardrails.Policy{}, err
	}
	b := &builder{decoder: d, opts: o, used: map[string]*yaml.Node{}}
	return b.build(root, &doc)
}

// root reads the one YAML document of data.
func (d *decoder) root(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Source: d.source, Msg: "empty policy"}
		}
		return nil, d.syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		at := &extra
		if len(extra.Content) > 0 {
			at = extra.Content[0]
		}
		if err != nil {
			return nil, d.syntaxError(err)
		}
		return nil, d.errAt(at, "more than one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Error{Source: d.source, Msg: "empty policy"}
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError words a YAML parse error, with the line the parser names.
func (d *decoder) syntaxError(err error) *Error {
	msg := oneLine(err.Error())
	e := &Error{Source: d.source, Msg: msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "YAML syntax: " + msg[len(m[0]):]
	}
	return e
}

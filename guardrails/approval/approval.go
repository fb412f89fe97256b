// Package approval resolves guard escalations: an Approver (a person at a
// terminal, a signed webhook, a channel your own code answers) approves or
// denies a pending tool call described by a Request.
package approval

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reagent-go/reagent/internal/trunc"
	"github.com/reagent-go/reagent/trajectory"
)

// Approver resolves an escalation: a human (or a service acting for one)
// approves or denies the pending call. An error, or a context that ends
// first, blocks the call. Name identifies it in decisions and summaries.
type Approver interface {
	Name() string
	Approve(ctx context.Context, req Request) (Resolution, error)
}

// Func makes an Approver of a function.
type Func struct {
	// Label names the approver (default "func").
	Label string
	Fn    func(ctx context.Context, req Request) (Resolution, error)
}

// Name returns f.Label, or "func".
func (f Func) Name() string {
	if f.Label == "" {
		return "func"
	}
	return f.Label
}

// Approve calls f.Fn; a Func without one denies.
func (f Func) Approve(ctx context.Context, req Request) (Resolution, error) {
	if f.Fn == nil {
		return Resolution{}, errors.New("approval: approver has no function")
	}
	return f.Fn(ctx, req)
}

// Request is a pending call that needs approval, as sent to an approver
// (and, as JSON, to a webhook).
type Request struct {
	ID          string                `json:"id"`
	Event       trajectory.GuardEvent `json:"event"`
	Tool        string                `json:"tool,omitempty"`
	CallID      string                `json:"call_id,omitempty"`
	Input       string                `json:"input,omitempty"`
	Observation string                `json:"observation,omitempty"`
	Answer      string                `json:"answer,omitempty"`
	Step        int                   `json:"step"`
	RunID       string                `json:"run_id,omitempty"`
	Task        string                `json:"task,omitempty"`
	Escalations []Escalation          `json:"escalations"`
	RequestedAt time.Time             `json:"requested_at"`
	Deadline    time.Time             `json:"deadline,omitzero"`
}

// Escalation is one guard's reason for asking.
type Escalation struct {
	Guard  string   `json:"guard"`
	Reason string   `json:"reason"`
	Score  *float64 `json:"score,omitempty"`
}

// Resolution is an approver's answer.
type Resolution struct {
	Approved bool   `json:"approved"`
	By       string `json:"by,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// NewRequestID returns a random request ID.
func NewRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// TerminalApprover asks a person at a terminal: it writes the pending call
// to out and reads "y"/"yes" (approve) or anything else (deny) from in.
// Prompts are serialized. It reads in with one goroutine that ends when in
// does; an answer typed after a prompt timed out is discarded, never
// applied to the next prompt.
type TerminalApprover struct {
	out   io.Writer
	in    io.Reader
	turn  chan struct{} // one prompt at a time
	start sync.Once
	lines chan lineResult
	done  chan struct{}
	stop  sync.Once
	// timedOut is set when a prompt gave up; only the holder of turn
	// touches it.
	timedOut bool
	// read counts the lines the reading goroutine has taken from in; a
	// line carries its number, so a prompt can tell which lines were
	// read before it was shown.
	read atomic.Uint64
}

type lineResult struct {
	line string
	seq  uint64 // 1 for the first line read from in
	err  error
}

// NewTerminalApprover returns an approver that prompts on out and reads
// answers from in.
func NewTerminalApprover(in io.Reader, out io.Writer) *TerminalApprover {
	return &TerminalApprover{in: in, out: out, turn: make(chan struct{}, 1), lines: make(chan lineResult), done: make(chan struct{})}
}

// Close stops the reading goroutine once its current read returns. Approve
// fails after Close.
func (a *TerminalApprover) Close() error {
	a.stop.Do(func() { close(a.done) })
	return nil
}

// Name identifies the approver in decisions.
func (a *TerminalApprover) Name() string { return "terminal" }

// Approve prompts and waits for an answer, the end of input, or ctx.
func (a *TerminalApprover) Approve(ctx context.Context, req Request) (Resolution, error) {
	select {
	case a.turn <- struct{}{}:
	case <-ctx.Done():
		return Resolution{}, fmt.Errorf("terminal approval: waiting for the terminal: %w", ctx.Err())
	}
	defer func() { <-a.turn }()
	select {
	case <-a.done:
		return Resolution{}, errors.New("terminal approval: approver closed")
	default:
	}
	a.start.Do(func() { go a.readLines() })
	// After a prompt gave up, a line typed before this prompt was shown
	// answers the old one: it is dropped, never applied here.
	var cutoff uint64
	if a.timedOut {
		cutoff, a.timedOut = a.read.Load(), false
	}
	if _, err := io.WriteString(a.out, formatPrompt(req)); err != nil {
		return Resolution{}, fmt.Errorf("terminal approval: write prompt: %w", err)
	}
	for {
		select {
		case r, ok := <-a.lines:
			if !ok {
				return Resolution{}, errors.New("terminal approval: input closed")
			}
			if r.err != nil {
				return Resolution{}, fmt.Errorf("terminal approval: read answer: %w", r.err)
			}
			if r.seq <= cutoff {
				continue
			}
			ans := strings.ToLower(strings.TrimSpace(r.line))
			if ans == "y" || ans == "yes" {
				return Resolution{Approved: true, By: "terminal"}, nil
			}
			return Resolution{Approved: false, By: "terminal", Reason: "operator answered " + trunc.Quote(strings.TrimSpace(r.line), 40)}, nil
		case <-ctx.Done():
			a.timedOut = true
			fmt.Fprintln(a.out, "\n(no answer in time: blocked)")
			return Resolution{}, fmt.Errorf("terminal approval: %w", ctx.Err())
		}
	}
}

func (a *TerminalApprover) readLines() {
	defer close(a.lines)
	br := bufio.NewReader(a.in)
	for {
		line, err := br.ReadString('\n')
		if line != "" || err == nil {
			if !a.send(lineResult{line: line, seq: a.read.Add(1)}) {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				a.send(lineResult{err: err})
			}
			return
		}
	}
}

func (a *TerminalApprover) send(r lineResult) bool {
	select {
	case a.lines <- r:
		return true
	case <-a.done:
		return false
	}
}

// formatPrompt shows the call with control characters escaped, so that a
// tool input cannot rewrite the operator's terminal.
func formatPrompt(req Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nreagent: approval needed (%s, step %d)\n", req.Event, req.Step)
	if req.Tool != "" {
		fmt.Fprintf(&b, "  tool:   %s\n", trunc.Quote(req.Tool, 80))
	}
	if req.Input != "" {
		fmt.Fprintf(&b, "  input:  %s\n", trunc.Quote(req.Input, 600))
	}
	if req.Answer != "" {
		fmt.Fprintf(&b, "  answer: %s\n", trunc.Quote(req.Answer, 600))
	}
	for _, e := range req.Escalations {
		fmt.Fprintf(&b, "  reason: [%s] %s\n", e.Guard, trunc.Quote(e.Reason, 400))
	}
	b.WriteString("Approve? [y/N]: ")
	return b.String()
}

// ChannelApprover hands escalations to Go code: each one arrives on
// Requests() as a *Pending, to be resolved by the receiver.
type ChannelApprover struct {
	ch chan *Pending
}

// NewChannelApprover returns an approver whose requests are read from
// Requests(). Nobody reading means every escalation times out (blocks).
func NewChannelApprover() *ChannelApprover {
	return &ChannelApprover{ch: make(chan *Pending)}
}

// Name identifies the approver in decisions.
func (a *ChannelApprover) Name() string { return "channel" }

// Requests delivers pending approvals.
func (a *ChannelApprover) Requests() <-chan *Pending { return a.ch }

// Approve sends the request and waits for its resolution or ctx.
func (a *ChannelApprover) Approve(ctx context.Context, req Request) (Resolution, error) {
	p := &Pending{Request: req, answer: make(chan Resolution, 1)}
	select {
	case a.ch <- p:
	case <-ctx.Done():
		return Resolution{}, fmt.Errorf("channel approval: nobody took the request: %w", ctx.Err())
	}
	select {
	case r := <-p.answer:
		if r.By == "" {
			r.By = "channel"
		}
		return r, nil
	case <-ctx.Done():
		return Resolution{}, fmt.Errorf("channel approval: no answer: %w", ctx.Err())
	}
}

// Pending is an escalation waiting for Resolve. Only the first Resolve
// counts; one after the approver gave up is ignored.
type Pending struct {
	Request Request
	answer  chan Resolution
	once    sync.Once
}

// Resolve answers the request.
func (p *Pending) Resolve(r Resolution) {
	p.once.Do(func() { p.answer <- r })
}

package einorun

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/run"
)

// Metadata keys of a run resumed with Adapter.Resume (approval's, the same
// for every host).
const (
	// MetaResumedFrom names the paused run a resumed run continues.
	MetaResumedFrom = approval.MetaResumedFrom
	// MetaApprovalRequest names the approval request a resumed run acted on.
	MetaApprovalRequest = approval.MetaApprovalRequest
)

// hostName is how stored approval requests name this adapter.
const hostName = "eino"

// stateVersion is the version of the resume state kept in a request.
const stateVersion = 1

// PauseInfo is the user-facing information of the interrupt a durable
// approval raises at a tool call (its adk.InterruptCtx's Info).
type PauseInfo struct {
	// RequestID names the stored approval request; approve or deny it, then
	// resume with Adapter.Resume.
	RequestID string
	// Tool and Arguments are the paused call's.
	Tool, Arguments string
}

// pausedCall is the interrupt state of a paused tool call.
type pausedCall struct {
	RequestID string
}

func init() {
	// Both travel inside eino's checkpoint (gob).
	schema.RegisterName[*PauseInfo]("_reagent_einorun_pause_info")
	schema.RegisterName[*pausedCall]("_reagent_einorun_paused_call")
}

// resumeState is what a stored request keeps for eino: the Runner's
// checkpoint and the interrupt to resume.
type resumeState struct {
	Version      int    `json:"version"`
	CheckPointID string `json:"checkpoint_id"`
	// CheckPoint is the bytes eino's Runner saved (gob, its own format),
	// gzip-compressed (about a tenth of their size: gob repeats its type
	// descriptions).
	CheckPoint []byte `json:"checkpoint_gzip"`
	// InterruptID is the paused tool call's interrupt (adk.InterruptCtx.ID).
	InterruptID string `json:"interrupt_id"`
	Agent       string `json:"agent,omitempty"`
	Task        string `json:"task,omitempty"`
}

// runOptions are the adapter's own adk run options (CheckPointID, Resume).
type runOptions struct {
	checkPointID string
	resumedFrom  string
	requestID    string
	task         string
}

// CheckPointID returns the run options that let durable approvals
// (approval.Durable) pause a run of an agent wrapped by an Adapter:
// eino's adk.WithCheckPointID(id), so that the Runner saves its checkpoint
// when the run is interrupted, and a note to the adapter that it will. The
// Runner must be built with the adapter's CheckPointStore. Use a fresh id
// for each run that is in flight at the same time:
//
//	iter := runner.Query(ctx, "pay the invoice", einorun.CheckPointID("order-42")...)
//
// Without them an escalation to a durable approver is refused (the chain
// blocks the call: fail closed), because nothing could resume the run.
func CheckPointID(id string) []adk.AgentRunOption {
	return []adk.AgentRunOption{
		adk.WithCheckPointID(id),
		adk.WrapImplSpecificOptFn(func(o *runOptions) { o.checkPointID = id }),
	}
}

// pause is one tool call that a durable approver paused: its request waits
// for eino's checkpoint (CheckPointStore.Set) before it is stored, and the
// run ends once both the request is stored and the agent's events are
// exhausted, whichever comes last.
type pause struct {
	st           *state
	d            *approval.Durable
	stored       approval.Stored
	checkPointID string
	agent        string

	mu          sync.Mutex
	interruptID string
	saved       bool  // the request has been stored (or failed to be)
	saveErr     error // why it was not
	followed    bool  // the agent's events are exhausted
	followErr   error // an error the agent ended with besides the interrupt
	ended       bool
}

// hold is the approval.HoldFunc of a run that can pause: it keeps the
// request until the Runner saves its checkpoint.
func (a *Adapter) hold(st *state) approval.HoldFunc {
	return func(d *approval.Durable, s approval.Stored) error {
		if !d.Seals() {
			return fmt.Errorf("einorun: durable approval needs a seal key (approval.WithSealKey, or approval.WithSealKeyFromEnv and %s): eino's checkpoint is compressed binary that the redactor cannot read, so it is kept only sealed", approval.EnvSealKey)
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.pause != nil {
			return fmt.Errorf("einorun: tool call %q of this turn already waits for approval request %s; only one call per model turn can pause, so this one is refused", st.pause.stored.Request.Tool, st.pause.stored.Request.ID)
		}
		s.Host = hostName
		p := &pause{st: st, d: d, stored: s, checkPointID: st.checkPointID, agent: st.agent}
		a.mu.Lock()
		defer a.mu.Unlock()
		if other, ok := a.pauses[st.checkPointID]; ok {
			return fmt.Errorf("einorun: checkpoint ID %q is already used by paused run %s; give each run its own einorun.CheckPointID", st.checkPointID, other.st.r.ID())
		}
		a.pauses[st.checkPointID] = p
		st.pause = p
		return nil
	}
}

// noteInterrupt remembers the interrupt ID of the paused call from the
// interrupt event the agent emitted.
func (p *pause) noteInterrupt(info *adk.InterruptInfo) {
	if info == nil {
		return
	}
	for _, ic := range info.InterruptContexts {
		if pi, ok := ic.Info.(*PauseInfo); ok && pi.RequestID == p.stored.Request.ID {
			p.mu.Lock()
			p.interruptID = ic.ID
			p.mu.Unlock()
			return
		}
	}
}

// followDone is called when the agent's events are exhausted; err is an
// error the run ended with (nil for a clean interrupt).
func (p *pause) followDone(err error) {
	p.mu.Lock()
	p.followed, p.followErr = true, err
	p.mu.Unlock()
	p.maybeEnd()
}

// save stores the request with the checkpoint eino saved.
func (p *pause) save(ctx context.Context, id string, data []byte) error {
	p.mu.Lock()
	iid := p.interruptID
	p.mu.Unlock()
	var err error
	if iid == "" {
		err = errors.New("einorun: eino saved a checkpoint, but the agent's interrupt event for the paused call was not seen")
	} else {
		st := p.stored
		var z []byte
		if z, err = compress(data); err == nil {
			st.State, err = json.Marshal(resumeState{Version: stateVersion, CheckPointID: id, CheckPoint: z, InterruptID: iid, Agent: p.agent, Task: st.Request.Task})
		}
		if err == nil {
			err = p.d.StoreRequest(p.st.ctx, st)
		}
	}
	p.mu.Lock()
	p.saved, p.saveErr = true, err
	p.mu.Unlock()
	p.maybeEnd()
	return err
}

// maybeEnd ends the run once the request is stored and the events are
// exhausted.
func (p *pause) maybeEnd() {
	p.mu.Lock()
	if p.ended || !p.saved || !p.followed {
		p.mu.Unlock()
		return
	}
	p.ended = true
	saveErr, followErr := p.saveErr, p.followErr
	p.mu.Unlock()
	r := p.st.r
	switch {
	case followErr != nil:
		r.End(followErr)
	case saveErr != nil:
		r.End(fmt.Errorf("einorun: the run could not pause: approval request %s was not stored: %w", p.stored.Request.ID, saveErr))
	default:
		r.End(&run.PauseError{RequestID: p.stored.Request.ID, Tool: p.stored.Request.Tool})
	}
}

// CheckPointStore returns the adk.CheckPointStore to build the Runner
// with (adk.RunnerConfig.CheckPointStore) so that durable approvals can
// pause its runs. The checkpoint eino saves when a durable approval
// interrupts a run (started with CheckPointID) goes into that approval
// request in the audit chain (approval.Durable.StoreRequest), and the run
// ends paused once it is stored; Resume reads it from there. Every other
// checkpoint (the agent's own interrupts) goes to other, or is kept in
// memory when other is nil.
func (a *Adapter) CheckPointStore(other adk.CheckPointStore) adk.CheckPointStore {
	if other == nil {
		other = &memStore{m: map[string][]byte{}}
	}
	a.storeMade.Store(true)
	return &checkPoints{a: a, other: other}
}

type checkPoints struct {
	a     *Adapter
	other adk.CheckPointStore
}

type loadedKey struct{}

// loaded is the checkpoint Resume read from a request.
type loaded struct {
	id   string
	data []byte
}

// Get returns the checkpoint Resume loaded from the approval request (in
// ctx), or asks the other store.
func (c *checkPoints) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if l, ok := ctx.Value(loadedKey{}).(*loaded); ok && l.id == id {
		return l.data, true, nil
	}
	return c.other.Get(ctx, id)
}

// Set stores the checkpoint of a paused run with its approval request, or
// hands any other checkpoint to the other store.
func (c *checkPoints) Set(ctx context.Context, id string, data []byte) error {
	c.a.mu.Lock()
	p := c.a.pauses[id]
	delete(c.a.pauses, id)
	c.a.mu.Unlock()
	if p == nil {
		return c.other.Set(ctx, id, data)
	}
	return p.save(ctx, id, data)
}

// memStore keeps checkpoints in memory.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Get(_ context.Context, id string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	return b, ok, nil
}

func (s *memStore) Set(_ context.Context, id string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = append([]byte(nil), data...)
	return nil
}

// Resume continues, with eino's own Runner.ResumeWithParams, a run that a
// durable approval paused at a tool call, once the request has a decision
// (approval.Durable.Decide, `reagent approve`, the web UI or the signed
// webhook). It works in any process: the Runner's checkpoint comes from the
// request in d's audit store, so runner must be built like the paused one
// (the same agent, wrapped by this adapter and built with its Middleware,
// and CheckPointStore: a.CheckPointStore(…)).
//
// eino restores the agent's state and calls the paused tool again (tool
// calls of the same turn that had already run are not run again); the
// guards check it again and d answers with the recorded decision, so an
// approved call runs now, once, and a denied one gets the refusal as its
// result ("Blocked by guardrail …"), as a block does. The agent then goes
// on as usual. The resumed part is recorded as a new run whose metadata
// names the paused run (MetaResumedFrom) and the request
// (MetaApprovalRequest); a run.Handle in ctx receives it.
//
// Resume refuses a request that is still pending, one from another host,
// and one that a resumed run already acted on (two Resumes of one request
// at the same moment are not excluded). opts are passed to the Runner (the
// resumed run can pause again: its checkpoint ID is the paused run's).
func (a *Adapter) Resume(ctx context.Context, runner *adk.Runner, d *approval.Durable, requestID string, opts ...adk.AgentRunOption) (_ *adk.AsyncIterator[*adk.AgentEvent], err error) {
	if runner == nil || d == nil {
		return nil, errors.New("einorun: resume: need the Runner and the durable approver")
	}
	st, dec, err := d.ForResume(ctx, requestID, hostName)
	if err != nil {
		return nil, fmt.Errorf("einorun: resume: %w", err)
	}
	var rs resumeState
	if err := json.Unmarshal(st.State, &rs); err != nil || rs.Version != stateVersion || len(rs.CheckPoint) == 0 || rs.InterruptID == "" {
		return nil, fmt.Errorf("einorun: resume: request %s has no usable eino checkpoint (version %d): %v", requestID, rs.Version, err)
	}
	ctx = approval.ContextWithDecision(ctx, st, dec)
	data, err := decompress(rs.CheckPoint)
	if err != nil {
		return nil, fmt.Errorf("einorun: resume: request %s: its eino checkpoint: %w", requestID, err)
	}
	ctx = context.WithValue(ctx, loadedKey{}, &loaded{id: rs.CheckPointID, data: data})
	all := append([]adk.AgentRunOption{}, opts...)
	all = append(all, CheckPointID(rs.CheckPointID)...)
	all = append(all, adk.WrapImplSpecificOptFn(func(o *runOptions) {
		o.resumedFrom, o.requestID, o.task = st.Request.RunID, requestID, rs.Task
	}))
	defer func() {
		// eino panics while it starts resuming an agent whose checkpoint
		// does not fit (ChatModelAgent.Resume, adk/chatmodel.go:983-991).
		if p := recover(); p != nil {
			err = fmt.Errorf("einorun: resume request %s: eino could not resume from the stored checkpoint (was it saved by this program's agent?): %v", requestID, p)
		}
	}()
	iter, err := runner.ResumeWithParams(ctx, rs.CheckPointID, &adk.ResumeParams{Targets: map[string]any{rs.InterruptID: dec}}, all...)
	if err != nil {
		return nil, fmt.Errorf("einorun: resume request %s: %w", requestID, err)
	}
	return iter, nil
}

// resumedCall returns, for a call that a durable approval paused and that
// eino calls again, the interrupt that keeps it waiting when this resume
// does not target it with the request's decision (Resume does); nil
// otherwise.
func resumedCall(ctx context.Context, name, args string) error {
	was, has, pc := compose.GetInterruptState[*pausedCall](ctx)
	if !was || !has || pc == nil {
		return nil
	}
	target, hasData, dec := compose.GetResumeContext[approval.Decision](ctx)
	if target && hasData && dec.RequestID == pc.RequestID {
		return nil
	}
	return compose.StatefulInterrupt(ctx, &PauseInfo{RequestID: pc.RequestID, Tool: name, Arguments: args}, pc)
}

// pauseCall turns a durable approval's pause into eino's interrupt of the
// tool call, keeping the request ID as the call's interrupt state.
func pauseCall(ctx context.Context, pe *run.PauseError, name, args string) error {
	return compose.StatefulInterrupt(ctx, &PauseInfo{RequestID: pe.RequestID, Tool: name, Arguments: args}, &pausedCall{RequestID: pe.RequestID})
}

// paused returns the call a durable approval paused in this run, or nil.
func (st *state) paused() *pause {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.pause
}

// followDone hands the end of a paused run to whichever comes last: the
// stored request or the end of its events. When the run failed besides the
// pause, its request is not stored (unless eino already saved it).
func (a *Adapter) followDone(p *pause, err error) {
	if err != nil {
		a.mu.Lock()
		if a.pauses[p.checkPointID] == p {
			delete(a.pauses, p.checkPointID)
			p.mu.Lock()
			p.saved = true // nothing to store
			p.mu.Unlock()
		}
		a.mu.Unlock()
	}
	p.followDone(err)
}

// maxCheckPoint bounds a decompressed checkpoint (a damaged or hostile
// record must not exhaust memory).
const maxCheckPoint = 256 << 20

func compress(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("einorun: compress the checkpoint: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("einorun: compress the checkpoint: %w", err)
	}
	return b.Bytes(), nil
}

func decompress(z []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("not gzip: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxCheckPoint+1))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if len(data) > maxCheckPoint {
		return nil, fmt.Errorf("larger than %d MiB decompressed", maxCheckPoint>>20)
	}
	return data, nil
}

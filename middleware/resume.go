package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/schema"

	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// Metadata keys of a resumed run (approval's, the same for every host).
const (
	// MetaResumedFrom names the paused run a resumed run continues.
	MetaResumedFrom = approval.MetaResumedFrom
	// MetaApprovalRequest names the approval request a resumed run acted on.
	MetaApprovalRequest = approval.MetaApprovalRequest
)

// hostName is how stored approval requests name this adapter.
const hostName = "langchaingo"

// resumeState is the langchaingo adapter's resume state: the executor's
// inputs and every Plan result of the run up to the paused call, with the
// observations the agent saw.
type resumeState struct {
	Version int               `json:"version"`
	Inputs  map[string]string `json:"inputs"`
	Plans   []plannedStep     `json:"plans"`
}

// plannedStep is one Plan result. Observations holds, for each action the
// executor ran before the pause, what the agent saw; the last plan's
// actions from len(Observations) on are the paused call and the calls
// after it.
type plannedStep struct {
	Actions      []schema.AgentAction `json:"actions"`
	Observations []string             `json:"observations"`
}

// keepResumeState registers, for a durable approver, how to describe the
// run so far: the executor's steps before this Plan, grouped as the
// recorded trajectory steps group them, and this Plan's actions. A run
// started by Executor.Call keeps them in its runState (one registration
// per run); any other run gets a function of its own.
func keepResumeState(r *run.Run, inputs map[string]string, steps []schema.AgentStep, actions []schema.AgentAction) {
	if rs := stateOf(r); rs != nil {
		rs.keep(r, inputs, steps, actions)
		return
	}
	r.SetResumeState(func() (json.RawMessage, error) {
		return resumeStateJSON(r, inputs, steps, actions)
	})
}

func resumeStateJSON(r *run.Run, inputs map[string]string, steps []schema.AgentStep, actions []schema.AgentAction) (json.RawMessage, error) {
	st, err := buildResumeState(r.Snapshot(), inputs, steps, actions)
	if err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

// runState is what Executor.Call keeps with each run it starts
// (run.WithHostState): the replay of a resumed run, and the latest Plan's
// inputs, steps and actions for the resume state. Keeping them here
// instead of in a new closure and a context value each step keeps the
// step's path free of allocations and context walks.
type runState struct {
	replay *replay // nil unless the run resumes a paused one

	mu         sync.Mutex
	registered bool
	inputs     map[string]string
	steps      []schema.AgentStep
	actions    []schema.AgentAction
}

// stateOf returns the runState of a run started by Executor.Call, or nil.
func stateOf(r *run.Run) *runState {
	rs, _ := r.HostState().(*runState)
	return rs
}

func (rs *runState) keep(r *run.Run, inputs map[string]string, steps []schema.AgentStep, actions []schema.AgentAction) {
	rs.mu.Lock()
	rs.inputs, rs.steps, rs.actions = inputs, steps, actions
	first := !rs.registered
	rs.registered = true
	rs.mu.Unlock()
	if first {
		r.SetResumeState(func() (json.RawMessage, error) {
			rs.mu.Lock()
			inputs, steps, actions := rs.inputs, rs.steps, rs.actions
			rs.mu.Unlock()
			return resumeStateJSON(r, inputs, steps, actions)
		})
	}
}

func buildResumeState(t *trajectory.Trajectory, inputs map[string]string, steps []schema.AgentStep, actions []schema.AgentAction) (*resumeState, error) {
	if len(t.Steps) == 0 {
		return nil, errors.New("resume state: the run has no steps")
	}
	st := &resumeState{Version: 1, Inputs: inputs}
	i := 0
	for _, s := range t.Steps[:len(t.Steps)-1] {
		n := len(s.Calls)
		if s.ParseError != "" || n == 0 || i+n > len(steps) {
			return nil, fmt.Errorf("resume state: step %d (a parse error or a step without tool calls) cannot be replayed", s.Index)
		}
		p := plannedStep{}
		for _, as := range steps[i : i+n] {
			p.Actions = append(p.Actions, as.Action)
			p.Observations = append(p.Observations, as.Observation)
		}
		st.Plans = append(st.Plans, p)
		i += n
	}
	if i != len(steps) {
		return nil, fmt.Errorf("resume state: the executor has %d steps, the recorded run %d calls", len(steps), i)
	}
	cur := t.Steps[len(t.Steps)-1]
	if len(cur.Calls) != len(actions) {
		return nil, fmt.Errorf("resume state: the current step records %d calls for %d actions", len(cur.Calls), len(actions))
	}
	p := plannedStep{Actions: actions}
	for _, c := range cur.Calls {
		if !c.StartedAt.IsZero() && c.Duration == 0 && !c.UnknownTool {
			break // the call being checked: it pauses
		}
		p.Observations = append(p.Observations, c.Observation)
	}
	if len(p.Observations) == len(actions) {
		return nil, errors.New("resume state: no call of the current step is being checked")
	}
	st.Plans = append(st.Plans, p)
	return st, nil
}

// replay feeds a resumed run its recorded prefix: Plan results without the
// model, tool observations without the tools.
type replay struct {
	mu    sync.Mutex
	plans []plannedStep
	next  int       // next plan to replay
	obs   []toolObs // recorded tool results still to hand out, in order
	err   error     // set when the live run left the recorded path
}

type toolObs struct{ tool, input, obs string }

type replayKey struct{}

func replayFrom(ctx context.Context) *replay {
	rp, _ := ctx.Value(replayKey{}).(*replay)
	return rp
}

// replayOf returns the replay of r, a run that Executor.Call started for
// Resume, or nil: only that run replays, not the runs nested in it.
func replayOf(r *run.Run) *replay {
	if rs := stateOf(r); rs != nil {
		return rs.replay
	}
	return nil
}

// plan replays the next recorded Plan into r; ok is false once the prefix
// is used up (the agent then plans live).
func (rp *replay) plan(r *run.Run, a *agentWrapper) ([]schema.AgentAction, bool) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.next >= len(rp.plans) {
		return nil, false
	}
	p := rp.plans[rp.next]
	rp.next++
	r.BeginStep()
	if len(p.Actions) > 0 {
		r.NoteStep(thoughtOf(p.Actions[0].Log), "")
	}
	for j, act := range p.Actions {
		call := trajectory.ToolCall{ID: act.ToolID, Tool: act.Tool, Input: strings.TrimSuffix(act.ToolInput, "\nObservation:")}
		known := a.knows(act.Tool)
		switch {
		case !known:
			call.UnknownTool = true
			call.Observation = fmt.Sprintf("%s is not a valid tool, try another one", act.Tool)
			r.AddCall(call, false)
		case j < len(p.Observations):
			// Ran before the pause: recorded as it was, not run again.
			call.Observation = p.Observations[j]
			r.AddCall(call, false)
			rp.obs = append(rp.obs, toolObs{tool: act.Tool, input: call.Input, obs: p.Observations[j]})
		default:
			r.AddCall(call, true) // the approved (or denied) call and the rest: live
		}
	}
	return p.Actions, true
}

// tool hands out the recorded result of a replayed call; ok is false for a
// live call.
func (rp *replay) tool(name, input string) (string, bool, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.obs) == 0 {
		return "", false, nil
	}
	o := rp.obs[0]
	if !strings.EqualFold(o.tool, name) || o.input != input {
		return "", false, fmt.Errorf("middleware: resume: the executor called %s(%q) where the recorded run called %s(%q)", name, input, o.tool, o.input)
	}
	rp.obs = rp.obs[1:]
	return o.obs, true, nil
}

// Resume continues a run that a durable approval paused (approval.Durable),
// once the request has a decision (approval.Durable.Decide, `reagent
// approve`). It runs the executor again as a new recorded run whose
// metadata names the paused run (MetaResumedFrom) and the request
// (MetaApprovalRequest): the agent's recorded Plan results for the steps
// before the paused call are replayed without calling the model, and the
// tool calls that ran before it return their recorded observations without
// running again. The paused call then goes through the guards again; the
// Durable approver answers with the recorded decision, so an approved call
// runs now (once) and a denied one is blocked (the agent sees the refusal),
// and the agent continues live from there.
//
// What it does not do: the executor's Memory is not restored (a resumed
// conversational agent sees only what memory holds in this process);
// callbacks fire again for the replayed actions (HandleAgentAction), not
// for the replayed model calls; the replayed steps carry no model calls in
// the resumed trajectory (the paused one has them); an agent whose prompt
// depends on anything other than its inputs and steps (time, randomness)
// may plan differently from the replayed point on; a prefix with parse
// errors cannot be paused. A request sealed under a key (approval.WithSealKey)
// needs d to have that key; a call that carried a secret and was stored
// without a key cannot be resumed (approval.ErrRedactedOnly). Resume refuses a request that is still pending,
// one from another host, and one that a resumed run already acted on (two
// Resumes of one request at the same moment are not excluded). It starts
// the run with its own run.Handle (a Handle already in ctx is not used):
// find the resumed run in the store by MetaApprovalRequest.
func (e *Executor) Resume(ctx context.Context, d *approval.Durable, requestID string, options ...chains.ChainCallOption) (map[string]any, error) {
	if d == nil {
		return nil, errors.New("middleware: resume: no durable approver")
	}
	st, dec, err := d.ForResume(ctx, requestID, hostName) // the exact call: opens a sealed request with d's key
	if err != nil {
		return nil, fmt.Errorf("middleware: resume: %w", err)
	}
	var rs resumeState
	if err := json.Unmarshal(st.State, &rs); err != nil || rs.Version != 1 {
		return nil, fmt.Errorf("middleware: resume: request %s has no usable langchaingo state (version %d): %v", requestID, rs.Version, err)
	}
	ctx = approval.ContextWithDecision(ctx, st, dec)
	ctx = context.WithValue(ctx, replayKey{}, &replay{plans: rs.Plans})
	ctx = run.ContextWithHandle(ctx, run.NewHandle(run.WithRunMetadata(map[string]string{
		MetaResumedFrom: st.Request.RunID, MetaApprovalRequest: requestID,
	})))
	inputs := make(map[string]any, len(rs.Inputs))
	for k, v := range rs.Inputs {
		inputs[k] = v
	}
	return e.Call(ctx, inputs, options...)
}

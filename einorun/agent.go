package einorun

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/schema"

	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/trajectory"
)

// ErrInterrupted ends the run of an agent that interrupted (eino's
// interrupt, awaiting Resume): the run is recorded with status error and
// this as its error; the resumed part is recorded as a run of its own. A
// run that a durable approval paused ends with status paused instead
// (CheckPointID, Adapter.Resume).
var ErrInterrupted = errors.New("einorun: the agent interrupted (awaiting resume)")

// agent is the wrapper Wrap returns: it opens a run around each Run (and
// Resume) of the agent it delegates to.
type agent struct {
	inner adk.Agent
	a     *Adapter
}

var (
	_ adk.ResumableAgent = (*agent)(nil)
	_ adk.OnSubAgents    = (*agent)(nil)
)

// Wrap returns an agent that records every run of agent: Run opens a run,
// hands agent a context that carries it (the agent's Middleware records
// into it), and ends it when agent's event iterator is exhausted, with the
// status the events imply (finished; max-iterations for
// adk.ErrExceedMaxIterations; cancelled; panic; error). The final answer,
// the last assistant message without tool calls, goes through the run's
// answer hooks before the caller sees it: a streamed assistant message is
// gathered first and handed on as its chunks once complete, so that an
// answer guard sees it before the caller does. Use the result wherever the
// agent went: adk.NewRunner, adk.SetSubAgents, adk.NewAgentTool.
func (a *Adapter) Wrap(inner adk.Agent) adk.Agent {
	if inner == nil {
		return nil
	}
	if w, ok := inner.(*agent); ok && w.a == a {
		return w
	}
	return &agent{inner: inner, a: a}
}

func (w *agent) Name(ctx context.Context) string        { return w.inner.Name(ctx) }
func (w *agent) Description(ctx context.Context) string { return w.inner.Description(ctx) }

// Run runs the agent as one recorded run.
func (w *agent) Run(ctx context.Context, input *adk.AgentInput, opts ...adk.AgentRunOption) *adk.AsyncIterator[*adk.AgentEvent] {
	var msgs []adk.Message
	if input != nil {
		msgs = input.Messages
	}
	ctx, r := w.a.Start(ctx, taskOf(msgs), run.WithAgent(w.inner.Name(ctx)), run.WithInputs(map[string]string{"input": taskOf(msgs)}))
	if o := adk.GetImplSpecificOptions[runOptions](nil, opts...); o.checkPointID != "" {
		w.a.pausable(stateOf(ctx), o.checkPointID, w.inner.Name(ctx))
	}
	return w.follow(ctx, r, func(ctx context.Context) *adk.AsyncIterator[*adk.AgentEvent] {
		return w.inner.Run(ctx, input, opts...)
	})
}

// Resume resumes the agent (when it can be resumed) as a recorded run of
// its own, with the metadata eino.resumed=true (and, when Adapter.Resume
// resumes a durable approval, MetaResumedFrom and MetaApprovalRequest).
func (w *agent) Resume(ctx context.Context, info *adk.ResumeInfo, opts ...adk.AgentRunOption) *adk.AsyncIterator[*adk.AgentEvent] {
	ra, ok := w.inner.(adk.ResumableAgent)
	if !ok {
		iter, gen := adk.NewAsyncIteratorPair[*adk.AgentEvent]()
		gen.Send(&adk.AgentEvent{Err: fmt.Errorf("einorun: agent %q cannot be resumed: it is not an adk.ResumableAgent", w.inner.Name(ctx))})
		gen.Close()
		return iter
	}
	o := adk.GetImplSpecificOptions[runOptions](nil, opts...)
	md := map[string]string{"eino.resumed": "true"}
	if o.requestID != "" {
		md[MetaResumedFrom], md[MetaApprovalRequest] = o.resumedFrom, o.requestID
	}
	sopts := []run.StartOption{run.WithAgent(w.inner.Name(ctx)), run.WithRunMetadata(md)}
	if o.task != "" {
		sopts = append(sopts, run.WithInputs(map[string]string{"input": o.task}))
	}
	ctx, r := w.a.Start(ctx, o.task, sopts...)
	if o.checkPointID != "" {
		w.a.pausable(stateOf(ctx), o.checkPointID, w.inner.Name(ctx))
	}
	return w.follow(ctx, r, func(ctx context.Context) *adk.AsyncIterator[*adk.AgentEvent] {
		return ra.Resume(ctx, info, opts...)
	})
}

// OnSetSubAgents, OnSetAsSubAgent and OnDisallowTransferToParent pass eino's
// multi-agent setup on to the wrapped agent.
func (w *agent) OnSetSubAgents(ctx context.Context, subAgents []adk.Agent) error {
	if o, ok := w.inner.(adk.OnSubAgents); ok {
		return o.OnSetSubAgents(ctx, subAgents)
	}
	return nil
}

// OnSetAsSubAgent passes eino's multi-agent setup on to the wrapped agent.
func (w *agent) OnSetAsSubAgent(ctx context.Context, parent adk.Agent) error {
	if o, ok := w.inner.(adk.OnSubAgents); ok {
		return o.OnSetAsSubAgent(ctx, parent)
	}
	return nil
}

// OnDisallowTransferToParent passes eino's multi-agent setup on to the
// wrapped agent.
func (w *agent) OnDisallowTransferToParent(ctx context.Context) error {
	if o, ok := w.inner.(adk.OnSubAgents); ok {
		return o.OnDisallowTransferToParent(ctx)
	}
	return nil
}

// follow starts the inner agent with ctx and hands its events on, ending
// the run once they are exhausted.
func (w *agent) follow(ctx context.Context, r *run.Run, start func(context.Context) *adk.AsyncIterator[*adk.AgentEvent]) *adk.AsyncIterator[*adk.AgentEvent] {
	st := stateOf(ctx)
	iter, gen := adk.NewAsyncIteratorPair[*adk.AgentEvent]()
	var inner *adk.AsyncIterator[*adk.AgentEvent]
	func() {
		defer func() {
			if p := recover(); p != nil {
				st.finishModel("agent panicked")
				r.End(&run.PanicError{Value: p})
				panic(p)
			}
		}()
		inner = start(ctx)
	}()
	go func() {
		var runErr error
		interrupted := false
		defer func() {
			if p := recover(); p != nil {
				st.finishModel("agent panicked")
				r.End(&run.PanicError{Value: p})
				gen.Send(&adk.AgentEvent{Err: fmt.Errorf("einorun: panic while following agent %q: %v", w.inner.Name(ctx), p)})
				gen.Close()
				return
			}
			gen.Close()
		}()
		for {
			ev, ok := inner.Next()
			if !ok {
				break
			}
			if ev == nil {
				continue
			}
			if ev.Err != nil && runErr == nil {
				runErr = ev.Err
			}
			if ev.Action != nil && ev.Action.Interrupted != nil {
				interrupted = true
				if p := st.paused(); p != nil {
					p.noteInterrupt(ev.Action.Interrupted)
				}
			}
			if err := answer(ctx, r, ev); err != nil {
				if runErr == nil {
					runErr = err
				}
				gen.Send(&adk.AgentEvent{AgentName: ev.AgentName, Err: err})
				continue
			}
			gen.Send(ev)
		}
		reason := "model call failed: no result"
		if runErr != nil {
			reason = runErr.Error()
		}
		st.finishModel(reason)
		st.mu.Lock()
		panicked := st.panicked
		st.mu.Unlock()
		if p := st.paused(); p != nil {
			// A durable approval paused the run: it ends once eino's
			// checkpoint is stored with the request (CheckPointStore.Set).
			var err error
			switch {
			case panicked:
				err = &run.PanicError{Value: runErr}
			case runErr != nil:
				err = runErr
			case !interrupted:
				err = errors.New("einorun: a durable approval paused a tool call, but the agent did not interrupt")
			}
			w.a.followDone(p, err)
			return
		}
		switch {
		case panicked:
			r.End(&run.PanicError{Value: runErr})
		case runErr == nil && interrupted:
			r.End(ErrInterrupted)
		case errors.Is(runErr, adk.ErrExceedMaxIterations):
			r.EndStatus(trajectory.StatusMaxIterations, runErr)
		default:
			r.End(runErr)
		}
	}()
	return iter
}

// answer puts the agent's final answer (an assistant message of this agent
// with no tool calls) through the run's answer hooks, rewriting ev when a
// hook replaced the text. A streamed message is gathered first. It returns
// the error that withholds the answer and ends the run (an aborting
// refusal).
func answer(ctx context.Context, r *run.Run, ev *adk.AgentEvent) error {
	if ev.Output == nil || ev.Output.MessageOutput == nil || len(ev.RunPath) > 0 {
		return nil
	}
	mv := ev.Output.MessageOutput
	if mv.Role != schema.Assistant {
		return nil
	}
	if !mv.IsStreaming {
		m := mv.Message
		if m == nil || len(m.ToolCalls) > 0 {
			return nil
		}
		text, err := r.Answer(ctx, m.Content)
		if err != nil {
			return err
		}
		if text != m.Content {
			cp := *m
			cp.Content = text
			mv.Message = &cp
		}
		return nil
	}
	if mv.MessageStream == nil {
		return nil
	}
	var chunks []*schema.Message
	var rerr error
	for {
		c, err := mv.MessageStream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
		chunks = append(chunks, c)
	}
	mv.MessageStream.Close()
	replay := func(cs []*schema.Message, err error) {
		sr, sw := schema.Pipe[*schema.Message](len(cs) + 1)
		for _, c := range cs {
			sw.Send(c, nil)
		}
		if err != nil {
			sw.Send(nil, err)
		}
		sw.Close()
		mv.MessageStream = sr
	}
	if rerr != nil || len(chunks) == 0 {
		replay(chunks, rerr)
		return nil
	}
	m, err := schema.ConcatMessages(chunks)
	if err != nil || len(m.ToolCalls) > 0 {
		replay(chunks, nil)
		return nil
	}
	text, err := r.Answer(ctx, m.Content)
	if err != nil {
		replay(nil, err)
		return err
	}
	if text != m.Content {
		cp := *m
		cp.Content = text
		chunks = []*schema.Message{&cp}
	}
	replay(chunks, nil)
	return nil
}

// taskOf is the task of a run: the last user message of the agent's input.
func taskOf(msgs []adk.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i] != nil && msgs[i].Role == schema.User {
			return msgs[i].Content
		}
	}
	return ""
}

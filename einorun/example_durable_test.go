package einorun_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/components/tool/utils"
	"github.com/cloudwego/eino/compose"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/einorun"
	"github.com/reagent-go/reagent/guardrails"
	"github.com/reagent-go/reagent/guardrails/approval"
	"github.com/reagent-go/reagent/run"
)

// program is what both processes of the example build: the same store,
// seal key, guards, adapter, agent and Runner. model stands for your eino
// model. The seal key (32 random bytes; in production
// approval.WithSealKeyFromEnv reads REAGENT_APPROVAL_KEY) keeps eino's
// checkpoint encrypted in the audit store.
func program(store audit.Store, model *scripted) (*einorun.Adapter, *approval.Durable, *adk.Runner, error) {
	durable, err := approval.NewDurable(store, approval.WithHost("eino"), approval.WithSealKey(exampleKey))
	if err != nil {
		return nil, nil, nil, err
	}
	chain := guardrails.NewChain(guardrails.Policy{Approver: durable, Guards: []guardrails.Guard{
		&guardrails.ToolFilter{Approve: guardrails.ToolMatch{Names: []string{"wire"}}}}})
	wire, err := utils.InferTool("wire", "sends money", func(_ context.Context, in textArgs) (string, error) {
		fmt.Println("tool ran: wire", in.Text)
		return "sent " + in.Text, nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	a := einorun.New(run.New(run.WithStore(store), run.WithHooks(chain.Hooks())), einorun.WithTools(wire))
	agent, err := adk.NewChatModelAgent(context.Background(), &adk.ChatModelAgentConfig{
		Name: "payer", Description: "pays bills", Model: model,
		ToolsConfig: adk.ToolsConfig{ToolsNodeConfig: compose.ToolsNodeConfig{Tools: []tool.BaseTool{wire}}},
		Middlewares: []adk.AgentMiddleware{a.Middleware()},
	})
	if err != nil {
		return nil, nil, nil, err
	}
	runner := adk.NewRunner(context.Background(), adk.RunnerConfig{Agent: a.Wrap(agent), CheckPointStore: a.CheckPointStore(nil)})
	return a, durable, runner, nil
}

var exampleKey = []byte("0123456789abcdef0123456789abcdef")

// An escalated tool call pauses the eino run; the approval request, with
// eino's checkpoint, is in the audit store; another process decides and
// resumes the Runner, and the approved call runs then, once.
func ExampleAdapter_Resume() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "einodurable")
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "audit.db")

	// Process 1: the run pauses at the wire call.
	store, _ := audit.OpenSQLite(db)
	_, _, runner, err := program(store, newScripted(callTool("c1", "wire", `{"text":"$100 to ACME"}`)))
	if err != nil {
		fmt.Println(err)
		return
	}
	var requestID string
	iter := runner.Query(ctx, "pay ACME's invoice", einorun.CheckPointID("invoice-42")...)
	for ev, ok := iter.Next(); ok; ev, ok = iter.Next() {
		if ev.Action != nil && ev.Action.Interrupted != nil {
			info := ev.Action.Interrupted.InterruptContexts[0].Info.(*einorun.PauseInfo)
			requestID = info.RequestID
			fmt.Println("paused:", info.Tool, info.Arguments)
		}
	}
	store.Close() // the process may exit here

	// Process 2 (later): someone approves (reagent approve --db audit.db <id>), the run resumes.
	store, _ = audit.OpenSQLite(db)
	defer store.Close()
	a, durable, runner, err := program(store, newScripted(final("Paid $100 to ACME.")))
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := durable.Decide(ctx, requestID, approval.Resolution{Approved: true, By: "alice"}); err != nil {
		fmt.Println(err)
		return
	}
	h := run.NewHandle()
	iter, err = a.Resume(run.ContextWithHandle(ctx, h), runner, durable, requestID)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ok := iter.Next(); ok; _, ok = iter.Next() {
	}
	t := h.Trajectory()
	fmt.Println("resumed run:", t.Status, "-", t.FinalAnswer)
	// Output:
	// paused: wire {"text":"$100 to ACME"}
	// tool ran: wire $100 to ACME
	// resumed run: finished - Paid $100 to ACME.
}

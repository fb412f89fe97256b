// API: a tool-calling agent answers with HTTP API tools, built from an
// OpenAPI document (one tool per operation) and from a hand-written spec,
// against a small JSON API that this program serves itself on 127.0.0.1.
// The API token comes from the environment and is registered with the
// audit redactor, so it never reaches the audit trail or the model.
//
//	OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=any REAGENT_MODEL=my-model \
//	    go run ./examples/api ["your question"]
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	lcagents "github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/tools"

	"github.com/reagent-go/reagent/agents"
	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/middleware"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/run"
	"github.com/reagent-go/reagent/tools/httpapi"
	"github.com/reagent-go/reagent/tools/netsafe"
)

//go:embed openapi.yaml
var openAPIDoc []byte

const setup = `set the model endpoint first:
  OPENAI_BASE_URL  an OpenAI-compatible base URL ending in /v1 (e.g. http://127.0.0.1:8000/v1)
  OPENAI_API_KEY   its API key (any non-empty string for a local server)
  REAGENT_MODEL    the model name the endpoint serves (it must support tool calling)
This example needs a general tool-calling model (vLLM, Ollama, llama.cpp, a hosted API).
Offline, "go run ./cmd/reagent serve-model --addr 127.0.0.1:8000" with
OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=any REAGENT_MODEL=tiny runs it end to end,
but the embedded policy is trained only on reagent's arith, lookup and web suites: it does not
use these HTTP API tools and its answer is judged as the malformed call it is.`

func main() {
	if err := runExample(context.Background(), os.Stdout, os.Getenv, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "api example:", err)
		os.Exit(1)
	}
}

func runExample(ctx context.Context, stdout io.Writer, getenv func(string) string, args []string) error {
	baseURL, key, model := getenv("OPENAI_BASE_URL"), getenv("OPENAI_API_KEY"), getenv("REAGENT_MODEL")
	if baseURL == "" || key == "" || model == "" {
		return errors.New(setup)
	}
	question := "What is the weather in Paris, and how many umbrellas are in stock? What do 20 EUR make in USD?"
	if len(args) > 0 {
		question = strings.Join(args, " ")
	}

	// The demo API checks a bearer token; a real one would come from your
	// secret store through the environment (DEMO_API_TOKEN).
	token := getenv("DEMO_API_TOKEN")
	if token == "" {
		token = "demo-token-4f1c9a"
	}
	api, err := serveAPI(token)
	if err != nil {
		return err
	}
	defer api.Close()
	tokenEnv := func(k string) string {
		if k == "DEMO_API_TOKEN" {
			return token
		}
		return getenv(k)
	}

	red := redact.Default() // give the same redactor to the audit store
	common := []httpapi.Option{
		// The API is on loopback, which the default policy refuses.
		httpapi.WithPolicy(&netsafe.Policy{AllowLoopback: true}),
		httpapi.WithRedactor(red),
		httpapi.WithGetenv(tokenEnv),
		httpapi.WithTimeout(10 * time.Second),
	}
	fromDoc, err := httpapi.FromOpenAPI(openAPIDoc, append(common,
		httpapi.WithBaseURL(api.URL),
		httpapi.WithHeader("Authorization", "Bearer ${DEMO_API_TOKEN}"))...)
	if err != nil {
		return err
	}
	convert, err := httpapi.New(httpapi.Spec{
		Name:        "convert_currency",
		Description: "Converts an amount between currencies (EUR, USD, GBP).",
		URL:         api.URL + "/v1/convert",
		Query:       map[string]string{"amount": "{amount}", "from": "{from}", "to": "{to}"},
		Headers:     map[string]string{"Authorization": "Bearer ${DEMO_API_TOKEN}"},
		Schema: json.RawMessage(`{"type":"object","properties":{
			"amount":{"type":"number","exclusiveMinimum":0},
			"from":{"type":"string","enum":["EUR","USD","GBP"]},
			"to":{"type":"string","enum":["EUR","USD","GBP"]}},
			"required":["amount","from","to"],"additionalProperties":false}`),
	}, common...)
	if err != nil {
		return err
	}
	toolset := []tools.Tool{convert}
	for _, t := range fromDoc {
		toolset = append(toolset, t)
	}

	llm, err := openai.New(openai.WithBaseURL(baseURL), openai.WithToken(key), openai.WithModel(model))
	if err != nil {
		return fmt.Errorf("model client: %w", err)
	}
	exec := middleware.Wrap(lcagents.NewExecutor(agents.NewToolCalling(llm, toolset), lcagents.WithMaxIterations(6)),
		run.WithJudge(rrm.NewHeuristic()), run.WithSyncJudge(true), run.WithModelName(model))

	rec := run.NewHandle()
	fmt.Fprintln(stdout, "question:", question)
	answer, err := chains.Run(run.ContextWithHandle(ctx, rec), exec, question)
	if err != nil {
		fmt.Fprintln(stdout, "the agent did not finish:", err)
	}
	if t := rec.Trajectory(); t != nil {
		for _, c := range t.ToolCalls() {
			fmt.Fprintf(stdout, "%s %s\n    -> %s\n", c.Tool, c.Input, strings.ReplaceAll(c.Observation, "\n", " "))
		}
		if a, ok := t.LastAssessment(); ok && a.OK() {
			fmt.Fprintf(stdout, "RRM score %.2f: %s\n", a.Score, a.Critique)
		}
	}
	fmt.Fprintln(stdout, "answer:", answer)
	fmt.Fprintf(stdout, "the audit redactor hides the API token: %q\n", red.String("Authorization: Bearer "+token))
	return nil
}

type localAPI struct {
	URL string
	srv *http.Server
}

func (a *localAPI) Close() { _ = a.srv.Close() }

// serveAPI serves the demo JSON API on 127.0.0.1.
func serveAPI(token string) (*localAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("serving the demo API: %w", err)
	}
	weather := map[string]map[string]any{
		"paris":  {"city": "Paris", "temp_c": 14, "conditions": "light rain"},
		"berlin": {"city": "Berlin", "temp_c": 9, "conditions": "cloudy"},
	}
	items := []map[string]any{
		{"sku": "UMB-01", "name": "Compact umbrella", "stock": 12},
		{"sku": "UMB-02", "name": "Golf umbrella", "stock": 3},
		{"sku": "RC-10", "name": "Rain coat", "stock": 0},
	}
	rates := map[string]float64{"EUR": 1, "USD": 1.08, "GBP": 0.86}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/weather/{city}", func(w http.ResponseWriter, r *http.Request) {
		if wt, ok := weather[strings.ToLower(r.PathValue("city"))]; ok {
			writeJSON(w, http.StatusOK, wt)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown city"})
	})
	mux.HandleFunc("GET /v1/items", func(w http.ResponseWriter, r *http.Request) {
		q := strings.ToLower(r.URL.Query().Get("q"))
		q = strings.TrimSuffix(q, "s")
		var found []map[string]any
		for _, it := range items {
			if strings.Contains(strings.ToLower(it["name"].(string)), q) {
				found = append(found, it)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": found})
	})
	mux.HandleFunc("GET /v1/convert", func(w http.ResponseWriter, r *http.Request) {
		amount, err := strconv.ParseFloat(r.URL.Query().Get("amount"), 64)
		from, to := rates[r.URL.Query().Get("from")], rates[r.URL.Query().Get("to")]
		if err != nil || from == 0 || to == 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad amount or currency"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"amount": amount, "result": float64(int(amount/from*to*100+0.5)) / 100})
	})
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong token"})
			return
		}
		mux.ServeHTTP(w, r)
	})
	a := &localAPI{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: auth, ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

// Package rewardsvc serves Reagent-R rewards over HTTP with OpenRLHF's
// remote reward model contract, so trainers outside Go (OpenRLHF, verl
// through ppo/verl_reward.py) can score rollouts with a rule reward plus a
// reasoning reward model: POST {"query", "prompts", "labels"} returns
// {"rewards", "scores", "extra_logs"}.
package rewardsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/reagent-go/reagent/reagent/reward"
	"github.com/reagent-go/reagent/rrm"
	"github.com/reagent-go/reagent/trajectory"
)

// Request is the body of POST /: OpenRLHF's remote reward request. Query
// holds each rollout's full text (prompt and response); Prompts the prompt
// texts, which are cut from the front of the queries; Labels the reference
// answers. Prompts and Labels are optional, and when given have one entry
// per query.
type Request struct {
	Query   []string  `json:"query"`
	Prompts []string  `json:"prompts,omitempty"`
	Labels  []*string `json:"labels,omitempty"`
}

// Response is the answer: Rewards are R = R_rule + λ·score (the RRM score
// alone for a query without a label); Scores are the rule rewards (what
// OpenRLHF's dynamic filtering reads); ExtraLogs hold, per query, the rule
// reward, the RRM score and the critique.
type Response struct {
	Rewards   []float64      `json:"rewards"`
	Scores    []float64      `json:"scores"`
	ExtraLogs map[string]any `json:"extra_logs"`
}

// Option configures Handler.
type Option func(*config)

type config struct {
	lambda      float64
	rule        string
	rules       *reward.Rules
	concurrency int
	maxBatch    int
	maxBody     int64
	timeout     time.Duration
	logger      *slog.Logger
	judgeName   string
}

// WithLambda sets λ (default 0.3). With 0 the judge is never called and the
// reward is the rule reward.
func WithLambda(l float64) Option { return func(c *config) { c.lambda = l } }

// WithRule names the rule reward used for every query (default "auto":
// numeric equality for numeric labels, exact match / token F1 otherwise).
func WithRule(name string) Option { return func(c *config) { c.rule = name } }

// WithRules sets the rules the rule name is looked up in (default the
// built-in ones).
func WithRules(r *reward.Rules) Option { return func(c *config) { c.rules = r } }

// WithConcurrency bounds the judgments in flight per request (default 8).
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// WithMaxBatch bounds the queries of one request (default 4096).
func WithMaxBatch(n int) Option { return func(c *config) { c.maxBatch = n } }

// WithMaxBody bounds the request body in bytes (default 64 MiB).
func WithMaxBody(n int64) Option { return func(c *config) { c.maxBody = n } }

// WithTimeout bounds the judgments of one request (default 5 minutes).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithJudgeName names the judge in GET /health (default "none" without a
// judge, "unnamed" with one). The name is given, not read off the judge, so
// that a judge wrapped for metrics or logging keeps it.
func WithJudgeName(name string) Option { return func(c *config) { c.judgeName = name } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// Handler returns the reward service: POST / (and POST /reward) score a
// batch, GET /health reports readiness. A malformed request gets 400 with a
// message; a failed judgment fails the whole batch with 503, never with
// made-up rewards.
func Handler(judge rrm.Judge, opts ...Option) (http.Handler, error) {
	cfg := config{lambda: reward.DefaultLambda, rule: reward.RuleAuto, concurrency: 8, maxBatch: 4096,
		maxBody: 64 << 20, timeout: 5 * time.Minute, logger: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.rules == nil {
		cfg.rules = reward.NewRules(nil)
	}
	switch {
	case cfg.lambda < 0:
		return nil, fmt.Errorf("rewardsvc: λ %v must not be negative", cfg.lambda)
	case cfg.lambda > 0 && judge == nil:
		return nil, errors.New("rewardsvc: λ > 0 needs a judge")
	case !cfg.rules.Has(cfg.rule):
		return nil, fmt.Errorf("rewardsvc: unknown rule %q (known: %s)", cfg.rule, strings.Join(cfg.rules.Names(), ", "))
	case cfg.concurrency < 1 || cfg.maxBatch < 1 || cfg.maxBody < 1:
		return nil, errors.New("rewardsvc: concurrency, batch and body limits must be positive")
	}
	s := &server{cfg: cfg, judge: judge}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", s.score)
	mux.HandleFunc("POST /reward", s.score)
	mux.HandleFunc("POST /get_reward", s.score)
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found: %s %s (POST / with {\"query\", \"prompts\", \"labels\"}, or GET /health)", r.Method, r.URL.Path)
	})
	return mux, nil
}

type server struct {
	cfg   config
	judge rrm.Judge
}

func (s *server) health(w http.ResponseWriter, _ *http.Request) {
	name := s.cfg.judgeName
	switch {
	case s.judge == nil:
		name = "none"
	case name == "":
		name = "unnamed"
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "judge": name, "lambda": s.cfg.lambda, "rule": s.cfg.rule})
}

// Decode reads and checks a request body.
func Decode(r io.Reader, maxBatch int) (*Request, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var req Request
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("invalid JSON body: %w", err)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON body: data after the request object")
	}
	switch n := len(req.Query); {
	case req.Query == nil:
		return nil, errors.New(`missing "query": a list of strings, one per rollout`)
	case n == 0:
		return nil, errors.New(`"query" is empty`)
	case n > maxBatch:
		return nil, fmt.Errorf(`"query" has %d items; at most %d per request`, n, maxBatch)
	case req.Prompts != nil && len(req.Prompts) != n:
		return nil, fmt.Errorf(`"prompts" has %d items for %d queries`, len(req.Prompts), n)
	case req.Labels != nil && len(req.Labels) != n:
		return nil, fmt.Errorf(`"labels" has %d items for %d queries`, len(req.Labels), n)
	}
	return &req, nil
}

func (s *server) score(w http.ResponseWriter, r *http.Request) {
	body := http.MaxBytesReader(w, r.Body, s.cfg.maxBody)
	req, err := Decode(body, s.cfg.maxBatch)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body larger than %d bytes", s.cfg.maxBody)
			return
		}
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.timeout)
	defer cancel()
	resp, err := s.compute(ctx, req)
	if err != nil {
		var je *judgeError
		var br *badRequest
		if errors.As(err, &br) {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
		if errors.As(err, &je) {
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, "%v", err)
			return
		}
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// judgeError is a failed judgment: the service is unavailable, the request
// was fine.
type judgeError struct {
	index int
	msg   string
}

func (e *judgeError) Error() string {
	return fmt.Sprintf("judge unavailable (query %d): %s; no rewards were given, retry later", e.index, e.msg)
}

// badRequest is a request the service cannot score as it stands.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// item is one query, split into prompt, response and answer.
type item struct {
	prompt, response, answer string
	label                    *string
}

func split(req *Request, i int) item {
	q := req.Query[i]
	it := item{response: q}
	if req.Prompts != nil {
		it.prompt = req.Prompts[i]
		if p := it.prompt; p != "" && strings.HasPrefix(q, p) {
			it.response = q[len(p):]
		}
	}
	if req.Labels != nil {
		it.label = req.Labels[i]
	}
	it.answer = FinalAnswer(it.response)
	return it
}

// compute scores a decoded request.
func (s *server) compute(ctx context.Context, req *Request) (*Response, error) {
	n := len(req.Query)
	items := make([]item, n)
	rules := make([]float64, n)
	for i := range n {
		items[i] = split(req, i)
		if items[i].label != nil {
			v, err := s.cfg.rules.Score(s.cfg.rule, items[i].answer, *items[i].label)
			if err != nil {
				return nil, fmt.Errorf("query %d: rule reward: %w", i, err)
			}
			rules[i] = v
		}
	}
	scores := make([]float64, n)
	critiques := make([]string, n)
	judged := make([]bool, n)
	if s.judge == nil && anyUnlabelled(items) {
		return nil, &badRequest{"every query needs a label: the service has no judge to score unlabelled queries"}
	}
	if s.cfg.lambda > 0 || anyUnlabelled(items) {
		errs := make([]error, n)
		sem := make(chan struct{}, s.cfg.concurrency)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				a := s.judge.Judge(ctx, trajectoryOf(i, items[i]))
				if !a.OK() {
					errs[i] = &judgeError{index: i, msg: orText(a.Error, "the judgment failed")}
					return
				}
				scores[i], critiques[i], judged[i] = a.Score, a.Critique, true
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	resp := &Response{Rewards: make([]float64, n), Scores: make([]float64, n)}
	hasLabel := make([]bool, n)
	for i := range n {
		hasLabel[i] = items[i].label != nil
		switch {
		case !hasLabel[i]:
			resp.Rewards[i] = scores[i]
			resp.Scores[i] = scores[i]
		default:
			resp.Rewards[i] = rules[i] + s.cfg.lambda*scores[i]
			resp.Scores[i] = rules[i]
		}
	}
	resp.ExtraLogs = map[string]any{
		"rule_reward": rules,
		"rrm_score":   scores,
		"judged":      judged,
		"has_label":   hasLabel,
		"critique":    critiques,
	}
	return resp, nil
}

func anyUnlabelled(items []item) bool {
	for _, it := range items {
		if it.label == nil {
			return true
		}
	}
	return false
}

// trajectoryOf turns one rollout into the trajectory the judge sees: the
// prompt as the task and the response as one final step. The label is
// never shown to the judge.
func trajectoryOf(i int, it item) *trajectory.Trajectory {
	now := time.Now().UTC()
	task := strings.TrimSpace(it.prompt)
	if task == "" {
		task = "(the prompt was not given)"
	}
	return &trajectory.Trajectory{
		SchemaVersion: trajectory.SchemaVersion,
		ID:            fmt.Sprintf("reward-%d", i),
		Task:          task,
		Agent:         "remote",
		Steps: []trajectory.Step{{
			Index:     0,
			LLMCalls:  []trajectory.LLMCall{{Completion: it.response, StartedAt: now}},
			Thought:   strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(it.response), it.answer)),
			Final:     true,
			Answer:    it.answer,
			StartedAt: now,
		}},
		FinalAnswer: it.answer,
		Status:      trajectory.StatusFinished,
		StartedAt:   now,
		EndedAt:     now,
	}
}

// endTokens are chat-template markers that end a response.
var endTokens = []string{"<|end|>", "<|eos|>", "<|im_end|>", "<|eot_id|>", "<|endoftext|>", "</s>"}

// FinalAnswer finds the answer in a response: the text after the last
// "Final Answer:" or "Answer:" marker when there is one, else the whole
// response, with chat end tokens removed.
func FinalAnswer(response string) string {
	s := response
	for _, t := range endTokens {
		s = strings.ReplaceAll(s, t, "")
	}
	lower := asciiLower(s) // same length as s, so indexes carry over
	for _, marker := range []string{"final answer:", "answer:"} {
		if i := strings.LastIndex(lower, marker); i >= 0 {
			return strings.TrimSpace(s[i+len(marker):])
		}
	}
	return strings.TrimSpace(s)
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

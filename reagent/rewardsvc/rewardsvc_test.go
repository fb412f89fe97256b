package rewardsvc_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/reagent/rewardsvc"
	"github.com/reagent-go/reagent/rrm"
)

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	return resp.StatusCode, out
}

func floats(t *testing.T, v any) []float64 {
	t.Helper()
	arr, ok := v.([]any)
	require.True(t, ok, "%v", v)
	out := make([]float64, len(arr))
	for i, x := range arr {
		out[i] = x.(float64)
	}
	return out
}

func TestRewardsWithHeuristicJudge(t *testing.T) {
	h, err := rewardsvc.Handler(rrm.NewHeuristic(), rewardsvc.WithJudgeName("heuristic"))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	body := `{
	  "query": ["<|user|>What is 6*7?<|assistant|>The answer is 42.<|end|>", "<|user|>Capital of Norway?<|assistant|>Final Answer: Bergen", "free text"],
	  "prompts": ["<|user|>What is 6*7?<|assistant|>", "<|user|>Capital of Norway?<|assistant|>", "Say something"],
	  "labels": ["42", "Oslo", null]
	}`
	code, out := post(t, srv.URL+"/", body)
	require.Equal(t, http.StatusOK, code, out)
	rewards := floats(t, out["rewards"])
	scores := floats(t, out["scores"])
	logs := out["extra_logs"].(map[string]any)
	rules := floats(t, logs["rule_reward"])
	rrmScores := floats(t, logs["rrm_score"])
	require.Len(t, rewards, 3)
	assert.Equal(t, []float64{1, 0, 0}, rules)
	assert.Equal(t, []float64{1, 0, rrmScores[2]}, scores, "scores: the rule reward, or the RRM score without a label")
	for i := range 2 {
		assert.InDelta(t, rules[i]+0.3*rrmScores[i], rewards[i], 1e-12, "R = R_rule + λ·score")
		assert.True(t, rrmScores[i] >= 0 && rrmScores[i] <= 1)
	}
	assert.Equal(t, rrmScores[2], rewards[2], "no label: the RRM score")
	critiques := logs["critique"].([]any)
	assert.Len(t, critiques, 3)
	assert.NotEmpty(t, critiques[0])

	// /reward is the same endpoint; /health reports the configuration.
	code, _ = post(t, srv.URL+"/reward", `{"query":["x"],"labels":["x"]}`)
	assert.Equal(t, http.StatusOK, code)
	resp, err := http.Get(srv.URL + "/health")
	require.NoError(t, err)
	defer resp.Body.Close()
	var health map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&health))
	assert.Equal(t, "ok", health["status"])
	assert.Equal(t, "heuristic", health["judge"])
	assert.Equal(t, 0.3, health["lambda"])
}

func TestBadPayloadsAre400(t *testing.T) {
	h, err := rewardsvc.Handler(rrm.NewHeuristic(), rewardsvc.WithMaxBatch(3), rewardsvc.WithMaxBody(1024))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	cases := map[string]string{
		`not json`:                            "invalid JSON body",
		`{}`:                                  `missing "query"`,
		`{"query":[]}`:                        `"query" is empty`,
		`{"query":"one"}`:                     "invalid JSON body",
		`{"query":[1,2]}`:                     "invalid JSON body",
		`{"query":["a","b"],"labels":["a"]}`:  `"labels" has 1 items for 2 queries`,
		`{"query":["a"],"prompts":["a","b"]}`: `"prompts" has 2 items for 1 queries`,
		`{"query":["a"],"label":["a"]}`:       `unknown field "label"`,
		`{"query":["a","b","c","d"]}`:         "at most 3 per request",
		`{"query":["a"]} {"query":["b"]}`:     "data after the request object",
	}
	for body, want := range cases {
		code, out := post(t, srv.URL, body)
		assert.Equal(t, http.StatusBadRequest, code, body)
		assert.Contains(t, out["error"], want, body)
		assert.NotContains(t, out, "rewards")
	}
	big := `{"query":["` + strings.Repeat("x", 2048) + `"]}`
	code, out := post(t, srv.URL, big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Contains(t, out["error"], "larger than 1024 bytes")

	code, out = post(t, srv.URL+"/nope", `{}`)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, out["error"], "not found")
}

func TestJudgeOutageIs503(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	judgeSrv := llmtest.NewFunc(t, func(llmtest.Request) llmtest.Reply {
		if down.Load() {
			return llmtest.Reply{Status: http.StatusServiceUnavailable, Body: `{"error":{"message":"overloaded"}}`}
		}
		return llmtest.Reply{Content: "<think>t</think><critique>Check the sum.</critique><score>0.6</score>"}
	})
	judge := rrm.NewOpenAI(rrm.WithBaseURL(judgeSrv.URL), rrm.WithAPIKey("k"), rrm.WithRetries(0), rrm.WithCache(nil))
	h, err := rewardsvc.Handler(judge)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"query":["4"],"labels":["4"]}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	assert.Contains(t, string(b), "judge unavailable")
	assert.NotContains(t, string(b), `"rewards"`, "never made-up rewards")

	down.Store(false)
	code, out := post(t, srv.URL, `{"query":["4"],"labels":["4"]}`)
	require.Equal(t, http.StatusOK, code)
	assert.InDelta(t, 1.18, floats(t, out["rewards"])[0], 1e-12)
	assert.Equal(t, "Check the sum.", out["extra_logs"].(map[string]any)["critique"].([]any)[0])
}

func TestRuleOnlyService(t *testing.T) {
	_, err := rewardsvc.Handler(nil)
	assert.ErrorContains(t, err, "needs a judge")
	_, err = rewardsvc.Handler(nil, rewardsvc.WithLambda(0), rewardsvc.WithRule("bleu"))
	assert.ErrorContains(t, err, `unknown rule "bleu"`)
	h, err := rewardsvc.Handler(nil, rewardsvc.WithLambda(0), rewardsvc.WithRule("exact"))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	code, out := post(t, srv.URL, `{"query":["Oslo.","Oslo, Norway"],"labels":["oslo","oslo"]}`)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []float64{1, 0}, floats(t, out["rewards"]))
	code, out = post(t, srv.URL, `{"query":["x"]}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, out["error"], "needs a label")
}

func TestFinalAnswer(t *testing.T) {
	assert.Equal(t, "42", rewardsvc.FinalAnswer("Thought: easy\nFinal Answer: 42<|end|>"))
	assert.Equal(t, "Oslo", rewardsvc.FinalAnswer("ANSWER: Oslo</s>"))
	assert.Equal(t, "just text", rewardsvc.FinalAnswer("  just text <|im_end|>"))
	assert.Equal(t, "x", rewardsvc.FinalAnswer("İİ answer: x"))
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"query":["a"],"prompts":["p"],"labels":["l"]}`)
	f.Add(`{"query":["a","b"],"labels":[null,"x"]}`)
	f.Add(`{"query":[]}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := rewardsvc.Decode(bytes.NewReader([]byte(body)), 8)
		if err != nil {
			return
		}
		if len(req.Query) == 0 || len(req.Query) > 8 {
			t.Fatalf("accepted %d queries", len(req.Query))
		}
		if req.Prompts != nil && len(req.Prompts) != len(req.Query) || req.Labels != nil && len(req.Labels) != len(req.Query) {
			t.Fatal("accepted mismatched lengths")
		}
	})
}

func FuzzFinalAnswer(f *testing.F) {
	for _, s := range []string{"Final Answer: 1", "answer:", "İstanbul answer: x", "\xff<|end|>", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := rewardsvc.FinalAnswer(s)
		if len(a) > len(s) {
			t.Fatalf("answer %q longer than the response %q", a, s)
		}
	})
}

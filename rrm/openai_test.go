package rrm

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/trajectory"
)

// newJudgeServer starts internal/llmtest's scripted OpenAI server answering
// with replies in order; the last one repeats.
func newJudgeServer(t testing.TB, replies ...llmtest.Reply) *llmtest.Server {
	var mu sync.Mutex
	i := 0
	return llmtest.NewFunc(t, func(llmtest.Request) llmtest.Reply {
		mu.Lock()
		defer mu.Unlock()
		r := replies[min(i, len(replies)-1)]
		i++
		return r
	})
}

const goodReply = "<think>The agent computed with the calculator.</think><critique>You checked the product with a tool.</critique><score>0.8</score>"

// sampleRun has every kind of step content the judge must see.
func sampleRun() *trajectory.Trajectory {
	t := run("What is 17*23? Use tools.", []string{"calculator", "shell"}, trajectory.StatusFinished,
		callStep("THOUGHT-ONE: compute it", trajectory.ToolCall{Tool: "calculator", Input: "INPUT-17*23", Observation: "OBS-391"}),
		callStep("THOUGHT-TWO", trajectory.ToolCall{Tool: "calculator", Input: "oops", Error: "ERR-syntax", Observation: "error: ERR-syntax"}),
		callStep("THOUGHT-THREE", trajectory.ToolCall{Tool: "shell", Input: "rm -rf /", Blocked: true, BlockedBy: "GUARD-policy", Observation: "Blocked by guardrail GUARD-policy"}),
		trajectory.Step{ParseError: "PARSE-garbage"},
		answerStep("ANSWER-391"))
	t.Metadata = map[string]string{"reference_answer": "SECRET-REFERENCE"}
	return t
}

var quiet = slog.New(slog.DiscardHandler)

// recorder collects the retry delays the judge asks for, without waiting.
type recorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.delays = append(r.delays, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *recorder) got() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.delays...)
}

func newTestJudge(s *llmtest.Server, rec *recorder, opts ...Option) *OpenAI {
	base := []Option{WithBaseURL(s.URL), WithModel("rrm-test"), WithAPIKey("test-key"),
		WithBackoff(100*time.Millisecond, time.Second), WithLogger(quiet)}
	if rec != nil {
		base = append(base, withSleep(rec.sleep))
	}
	return NewOpenAI(append(base, opts...)...)
}

func TestOpenAIWellFormed(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Content: goodReply})
	j := newTestJudge(s, nil)
	tr := sampleRun()
	a := j.Judge(context.Background(), tr)
	require.True(t, a.OK(), a.Error)
	assert.Equal(t, 0.8, a.Score)
	assert.Equal(t, "The agent computed with the calculator.", a.Think)
	assert.Equal(t, "You checked the product with a tool.", a.Critique)
	assert.Equal(t, goodReply, a.Raw)
	assert.Equal(t, "openai", a.Judge)
	assert.Equal(t, "rrm-test", a.Model)
	assert.Equal(t, len(tr.Steps), a.Steps)
	assert.False(t, a.Partial)
	assert.Positive(t, a.Latency)
	assert.WithinDuration(t, time.Now(), a.CreatedAt, time.Minute)
	require.Equal(t, 1, len(s.Requests()))

	req := s.Requests()[0]
	assert.Equal(t, "rrm-test", req.Model)
	require.NotNil(t, req.Temperature, "an absent temperature means the server's default")
	assert.Less(t, *req.Temperature, 1e-30, "temperature must be (effectively) 0")
	require.Len(t, req.Messages, 2)
	assert.Equal(t, openai.ChatMessageRoleSystem, req.Messages[0].Role)
	for _, want := range []string{"<think>", "<critique>", "<score>", "must not guess it, reveal it", "you ..."} {
		assert.Contains(t, req.Messages[0].Content, want)
	}
	user := req.Messages[1].Content
	for _, want := range []string{"What is 17*23? Use tools.", "THOUGHT-ONE", "INPUT-17*23", "OBS-391", "THOUGHT-TWO", "ERR-syntax",
		"THOUGHT-THREE", "BLOCKED by GUARD-policy", "PARSE-garbage", "ANSWER-391", "calculator", "shell"} {
		assert.Contains(t, user, want)
	}
	assert.NotContains(t, user, "SECRET-REFERENCE", "the judge must never see a reference answer")
}

func TestOpenAIHeader(t *testing.T) {
	srv := newJudgeServer(t, llmtest.Reply{Content: goodReply})
	t.Setenv("REAGENT_TEST_JUDGE_KEY", "sk-from-env")
	a := NewOpenAI(WithBaseURL(srv.URL), WithAPIKeyEnv("REAGENT_TEST_JUDGE_KEY")).Judge(context.Background(), sampleRun())
	require.True(t, a.OK(), a.Error)
	assert.Equal(t, "Bearer sk-from-env", srv.Requests()[0].Header.Get("Authorization"))

	// A local server with no key set still gets a non-empty token.
	t.Setenv("REAGENT_TEST_JUDGE_KEY", "")
	a = NewOpenAI(WithBaseURL(srv.URL), WithAPIKeyEnv("REAGENT_TEST_JUDGE_KEY"), WithCache(nil)).Judge(context.Background(), sampleRun())
	require.True(t, a.OK(), a.Error)
	auth := srv.Requests()[1].Header.Get("Authorization")
	assert.NotEqual(t, "Bearer ", auth)
	assert.NotEmpty(t, auth)
}

func TestOpenAINoKeyForOpenAI(t *testing.T) {
	t.Setenv("REAGENT_TEST_EMPTY_KEY", "")
	a := NewOpenAI(WithAPIKeyEnv("REAGENT_TEST_EMPTY_KEY")).Judge(context.Background(), sampleRun())
	assert.Equal(t, trajectory.AssessmentError, a.Status)
	assert.Contains(t, a.Error, "REAGENT_TEST_EMPTY_KEY")
}

func TestOpenAITolerantReplies(t *testing.T) {
	cases := []struct {
		name  string
		reply string
		score float64
		note  string
	}{
		{"no think", "<critique>You guessed.</critique><score>0.3</score>", 0.3, "no <think>"},
		{"ten scale", "<think>t</think><critique>c</critique><score>7/10</score>", 0.7, "read 7/10"},
		{"percent", "<think>t</think><critique>c</critique><score>70%</score>", 0.7, "read 70%"},
		{"prose", "Sure! <think>t</think><critique>c</critique><score>0.5</score> Thanks.", 0.5, "outside the tags"},
		{"fenced", "```\n<think>t</think><critique>c</critique><score>0.5</score>\n```", 0.5, ""},
		{"several scores", "<think>t</think><critique>c</critique><score>0.2</score><score>0.4</score>", 0.4, "used the last"},
		{"unclosed", "<think>t</think><critique>c<score>0.6", 0.6, "unclosed"},
		{"clamped", "<think>t</think><critique>c</critique><score>1.0000001</score>", 1, "clamped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newJudgeServer(t, llmtest.Reply{Content: tc.reply})
			a := newTestJudge(s, nil).Judge(context.Background(), sampleRun())
			require.True(t, a.OK(), a.Error)
			assert.InDelta(t, tc.score, a.Score, 1e-12)
			if tc.note != "" {
				assert.True(t, containsNote(a.Notes, tc.note), "notes %q", a.Notes)
			}
			assert.Equal(t, 1, len(s.Requests()), "a tolerated reply is not asked again")
		})
	}
}

func TestOpenAIMalformedThenGood(t *testing.T) {
	bad := []string{
		"I think the agent did well.",
		"<think>t</think><critique>c</critique>",
		"<think>t</think><critique>c</critique><score>high</score>",
		"<think>t</think><critique>c</critique><score>7</score>",
		"<think>t</think><critique>c</critique><score>-0.5</score>",
		"<think>t</think><critique>c</critique><score>0.6 or 0.7</score>",
		"",
	}
	for _, b := range bad {
		t.Run(clip(b, 30), func(t *testing.T) {
			rec := &recorder{}
			s := newJudgeServer(t, llmtest.Reply{Content: b}, llmtest.Reply{Content: goodReply})
			a := newTestJudge(s, rec).Judge(context.Background(), sampleRun())
			require.True(t, a.OK(), a.Error)
			assert.Equal(t, 0.8, a.Score)
			require.Equal(t, 2, len(s.Requests()))
			assert.Empty(t, rec.got(), "a parse failure is asked again at once")
			// The second request shows the model its reply and the problem.
			second := s.Requests()[1]
			require.Len(t, second.Messages, 4)
			assert.Equal(t, openai.ChatMessageRoleAssistant, second.Messages[2].Role)
			assert.Equal(t, b, second.Messages[2].Content)
			assert.Contains(t, second.Messages[3].Content, "could not be read")
		})
	}
}

func TestOpenAIAlwaysGarbage(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Content: "no tags here, score 0.9"})
	a := newTestJudge(s, &recorder{}, WithRetries(2)).Judge(context.Background(), sampleRun())
	assert.Equal(t, trajectory.AssessmentError, a.Status)
	assert.Equal(t, 0.0, a.Score)
	assert.Contains(t, a.Error, "gave up after 3 attempt(s)")
	assert.Contains(t, a.Error, "no <score> tag")
	assert.Equal(t, "no tags here, score 0.9", a.Raw)
	assert.Equal(t, 3, len(s.Requests()))
	// The repair exchange is replaced, not stacked, on each retry.
	assert.Len(t, s.Requests()[2].Messages, 4)
}

func TestOpenAITimeout(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Content: goodReply, Delay: 2 * time.Second})
	rec := &recorder{}
	a := newTestJudge(s, rec, WithTimeout(50*time.Millisecond), WithRetries(1)).Judge(context.Background(), sampleRun())
	assert.Equal(t, trajectory.AssessmentError, a.Status)
	assert.Contains(t, a.Error, "timed out")
	assert.Equal(t, 2, len(s.Requests()))
	assert.Len(t, rec.got(), 1)
}

func TestOpenAIServerErrorThenSuccess(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Status: 500}, llmtest.Reply{Status: 503}, llmtest.Reply{Content: goodReply})
	rec := &recorder{}
	a := newTestJudge(s, rec).Judge(context.Background(), sampleRun())
	require.True(t, a.OK(), a.Error)
	assert.Equal(t, 3, len(s.Requests()))
	d := rec.got()
	require.Len(t, d, 2)
	// Exponential with equal jitter: [base/2, base], then [base, 2·base].
	assert.GreaterOrEqual(t, d[0], 50*time.Millisecond)
	assert.LessOrEqual(t, d[0], 100*time.Millisecond)
	assert.GreaterOrEqual(t, d[1], 100*time.Millisecond)
	assert.LessOrEqual(t, d[1], 200*time.Millisecond)
}

func TestOpenAIRateLimitRetryAfter(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Status: 429, RetryAfter: "7"}, llmtest.Reply{Content: goodReply})
	rec := &recorder{}
	a := newTestJudge(s, rec).Judge(context.Background(), sampleRun())
	require.True(t, a.OK(), a.Error)
	assert.Equal(t, 2, len(s.Requests()))
	assert.Equal(t, []time.Duration{7 * time.Second}, rec.got(), "Retry-After overrides the backoff")
}

// TestOpenAIRetryAfterCapped: a Retry-After longer than the cap is waited
// only up to the cap (default 60s), and not at all when the caller's
// deadline comes first.
func TestOpenAIRetryAfterCapped(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Status: 429, RetryAfter: "86400"}, llmtest.Reply{Content: goodReply})
	rec := &recorder{}
	a := newTestJudge(s, rec).Judge(context.Background(), sampleRun())
	require.True(t, a.OK(), a.Error)
	assert.Equal(t, []time.Duration{60 * time.Second}, rec.got(), "a day-long Retry-After is capped at the default")

	s = newJudgeServer(t, llmtest.Reply{Status: 503, RetryAfter: "86400"}, llmtest.Reply{Content: goodReply})
	rec = &recorder{}
	a = newTestJudge(s, rec, WithMaxRetryAfter(250*time.Millisecond)).Judge(context.Background(), sampleRun())
	require.True(t, a.OK(), a.Error)
	assert.Equal(t, []time.Duration{250 * time.Millisecond}, rec.got(), "the configured cap")
}

// TestOpenAIRetryNeverPastDeadline: when the wait before the next try would
// end after the caller's deadline, the judgment fails at once with an
// error assessment, without waiting and without another request.
func TestOpenAIRetryNeverPastDeadline(t *testing.T) {
	for _, reply := range []llmtest.Reply{{Status: 429, RetryAfter: "7200"}, {Status: 500}} {
		s := newJudgeServer(t, reply, llmtest.Reply{Content: goodReply})
		rec := &recorder{}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		j := newTestJudge(s, rec, WithMaxRetryAfter(3*time.Hour), WithBackoff(2*time.Hour, 2*time.Hour))
		a := j.Judge(ctx, sampleRun())
		cancel()
		assert.Equal(t, trajectory.AssessmentError, a.Status)
		assert.Contains(t, a.Error, "after the caller's deadline")
		assert.Empty(t, rec.got(), "no wait was started")
		assert.Equal(t, 1, len(s.Requests()), "no further request")
	}
}

func TestOpenAIRateLimitRealWait(t *testing.T) {
	// With the real sleep: a fractional Retry-After is waited out.
	s := newJudgeServer(t, llmtest.Reply{Status: 429, RetryAfter: "0.05"}, llmtest.Reply{Content: goodReply})
	a := newTestJudge(s, nil).Judge(context.Background(), sampleRun())
	require.True(t, a.OK(), a.Error)
	assert.Equal(t, 2, len(s.Requests()))
}

func TestOpenAIClientErrorNotRetried(t *testing.T) {
	for _, code := range []int{400, 401, 404, 422} {
		s := newJudgeServer(t, llmtest.Reply{Status: code}, llmtest.Reply{Content: goodReply})
		rec := &recorder{}
		a := newTestJudge(s, rec).Judge(context.Background(), sampleRun())
		assert.Equal(t, trajectory.AssessmentError, a.Status, "status %d", code)
		assert.Contains(t, a.Error, "not retried")
		assert.Contains(t, a.Error, fmt.Sprint(code))
		assert.Equal(t, 1, len(s.Requests()), "status %d", code)
		assert.Empty(t, rec.got())
	}
}

// countingTransport counts the requests that reach the network.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestOpenAIConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	ct := &countingTransport{}
	rec := &recorder{}
	j := NewOpenAI(WithBaseURL(url+"/v1"), WithAPIKey("k"), WithRetries(2), WithLogger(quiet), WithHTTPClient(&http.Client{Transport: ct}), withSleep(rec.sleep))
	a := j.Judge(context.Background(), sampleRun())
	assert.Equal(t, trajectory.AssessmentError, a.Status)
	assert.Contains(t, a.Error, "connection refused")
	assert.Contains(t, a.Error, "gave up after 3 attempt(s)")
	assert.Equal(t, int64(3), ct.n.Load())
	assert.Len(t, rec.got(), 2)
}

func TestOpenAICache(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Content: goodReply})
	j := newTestJudge(s, nil)
	tr := sampleRun()
	a1 := j.Judge(context.Background(), tr)
	a2 := j.Judge(context.Background(), tr.Clone())
	require.True(t, a1.OK())
	require.True(t, a2.OK())
	assert.Equal(t, 1, len(s.Requests()), "the second judgment comes from the cache")
	assert.Equal(t, a1.Score, a2.Score)
	assert.Equal(t, a1.Critique, a2.Critique)

	other := sampleRun()
	other.FinalAnswer = "something else"
	j.Judge(context.Background(), other)
	assert.Equal(t, 2, len(s.Requests()), "a different trajectory is judged anew")

	// Another model means another key.
	newTestJudge(s, nil, WithModel("other-model"), WithCache(nil)).Judge(context.Background(), tr)
	assert.Equal(t, 3, len(s.Requests()))

	// Failures are never cached.
	f := newJudgeServer(t, llmtest.Reply{Status: 400}, llmtest.Reply{Content: goodReply})
	jf := newTestJudge(f, nil)
	assert.False(t, jf.Judge(context.Background(), tr).OK())
	assert.True(t, jf.Judge(context.Background(), tr).OK())
	assert.Equal(t, 2, len(f.Requests()))
}

func TestOpenAICacheDisabled(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Content: goodReply})
	j := newTestJudge(s, nil, WithCache(nil))
	j.Judge(context.Background(), sampleRun())
	j.Judge(context.Background(), sampleRun())
	assert.Equal(t, 2, len(s.Requests()))
}

func TestOpenAIConcurrencyBoundAndLabels(t *testing.T) {
	// The reply's score is read from the task of the request, so a reply
	// delivered to the wrong judgment would show.
	s := llmtest.NewFunc(t, func(req llmtest.Request) llmtest.Reply {
		u := req.Messages[1].Content
		i := strings.Index(u, "task-")
		var n int
		fmt.Sscanf(u[i:], "task-%d", &n)
		return llmtest.Reply{Delay: 20 * time.Millisecond,
			Content: fmt.Sprintf("<think>ok</think><critique>You did fine.</critique><score>%d/100</score>", n)}
	})
	const bound, total = 3, 40
	j := newTestJudge(s, nil, WithConcurrency(bound))
	results := make([]trajectory.Assessment, total)
	var wg sync.WaitGroup
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := run(fmt.Sprintf("task-%d: what is %d+1?", i, i), []string{"calculator"}, trajectory.StatusFinished, answerStep("x"))
			results[i] = j.Judge(context.Background(), tr)
		}()
	}
	wg.Wait()
	for i, a := range results {
		require.True(t, a.OK(), "judgment %d: %s", i, a.Error)
		assert.InDelta(t, float64(i)/100, a.Score, 1e-12, "judgment %d mislabelled", i)
	}
	assert.Equal(t, total, len(s.Requests()))
	assert.LessOrEqual(t, s.MaxInFlight(), bound, "requests in flight exceeded the bound")
	assert.GreaterOrEqual(t, s.MaxInFlight(), 2, "requests should run in parallel")
}

func TestOpenAICancelled(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Content: goodReply, Delay: 5 * time.Second})
	j := newTestJudge(s, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	a := j.Judge(ctx, sampleRun())
	assert.Equal(t, trajectory.AssessmentError, a.Status)
	assert.Contains(t, a.Error, "cancelled")

	// Waiting for a slot respects the context too.
	j1 := newTestJudge(s, nil, WithConcurrency(1))
	j1.sem <- struct{}{} // the only slot is taken
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	a = j1.Judge(ctx2, sampleRun())
	assert.Equal(t, trajectory.AssessmentError, a.Status)
	assert.Contains(t, a.Error, "cancelled")
}

func TestOpenAIPartialAndReasoningContent(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Content: "<critique>So far you are fine.</critique><score>0.7</score>", Reasoning: "the agent has one call so far"})
	tr := run("What is 6*7?", []string{"calculator"}, trajectory.StatusRunning,
		callStep("compute", trajectory.ToolCall{Tool: "calculator", Input: "6*7", Observation: "42"}))
	a := newTestJudge(s, nil).Judge(context.Background(), tr)
	require.True(t, a.OK(), a.Error)
	assert.True(t, a.Partial)
	assert.Equal(t, 1, a.Steps)
	assert.Equal(t, "the agent has one call so far", a.Think)
	assert.True(t, containsNote(a.Notes, "reasoning_content"))
	assert.Contains(t, s.Requests()[0].Messages[1].Content, "still in progress")
}

func TestOpenAIEmptyChoicesRetried(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Body: `{"choices":[]}`}, llmtest.Reply{Content: goodReply})
	rec := &recorder{}
	a := newTestJudge(s, rec).Judge(context.Background(), sampleRun())
	require.True(t, a.OK(), a.Error)
	assert.Equal(t, 2, len(s.Requests()))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, 3*time.Second, parseRetryAfter("3", now))
	assert.Equal(t, 1500*time.Millisecond, parseRetryAfter("1.5", now))
	assert.Equal(t, 10*time.Second, parseRetryAfter(now.Add(10*time.Second).Format(http.TimeFormat), now))
	assert.Zero(t, parseRetryAfter("", now))
	assert.Zero(t, parseRetryAfter("soon", now))
	assert.Zero(t, parseRetryAfter("-4", now))
	assert.Zero(t, parseRetryAfter(now.Add(-time.Hour).Format(http.TimeFormat), now))
}

func TestRenderLimits(t *testing.T) {
	huge := strings.Repeat("é", 50_000) // two bytes a rune
	tr := run("task", []string{"search"}, trajectory.StatusFinished,
		callStep("think", trajectory.ToolCall{Tool: "search", Input: "q", Observation: "HEAD" + huge + "TAIL"}), answerStep("a"))
	out := Render(tr, Limits{Observation: 1000})
	assert.Less(t, len(out), 3000)
	assert.Contains(t, out, "HEAD")
	assert.Contains(t, out, "TAIL")
	assert.Contains(t, out, "bytes cut")
	assert.True(t, utf8Valid(out))

	// Many steps over the total: the first and last stay, the middle goes.
	var steps []trajectory.Step
	for i := range 200 {
		steps = append(steps, callStep(fmt.Sprintf("STEP-%03d", i), trajectory.ToolCall{Tool: "search", Input: "q", Observation: strings.Repeat("x", 500)}))
	}
	steps = append(steps, answerStep("FINAL"))
	long := Render(run("task", []string{"search"}, trajectory.StatusFinished, steps...), Limits{Total: 20_000})
	assert.LessOrEqual(t, len(long), 21_000)
	assert.Contains(t, long, "STEP-000")
	assert.Contains(t, long, "STEP-199")
	assert.Contains(t, long, "FINAL")
	assert.Contains(t, long, "steps left out")
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// BenchmarkOpenAIConcurrency16 judges distinct runs through an httptest
// server that answers in 50 ms, 16 requests at a time. The ideal is
// 16/0.05 s = 320 judgments/s; ratio_to_ideal is the measured share of it.
func BenchmarkOpenAIConcurrency16(b *testing.B) {
	s := newJudgeServer(b, llmtest.Reply{Content: goodReply, Delay: 50 * time.Millisecond})
	j := NewOpenAI(WithBaseURL(s.URL), WithAPIKey("k"), WithConcurrency(16), WithCache(nil))
	runs := make([]*trajectory.Trajectory, b.N)
	for i := range runs {
		runs[i] = tenSteps()
		runs[i].ID = fmt.Sprint(i)
		runs[i].Task = fmt.Sprintf("%s (%d)", runs[i].Task, i)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	work := make(chan *trajectory.Trajectory)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tr := range work {
				if !j.Judge(context.Background(), tr).OK() {
					failed.Add(1)
				}
			}
		}()
	}
	for _, tr := range runs {
		work <- tr
	}
	close(work)
	wg.Wait()
	el := time.Since(start)
	if failed.Load() > 0 {
		b.Fatalf("%d judgments failed", failed.Load())
	}
	rate := float64(b.N) / el.Seconds()
	b.ReportMetric(rate, "judgments/s")
	b.ReportMetric(rate/320, "ratio_to_ideal")
}

// blockingJudgeServer answers goodReply; its first request closes arrived
// and waits until release is called (at cleanup at the latest).
func blockingJudgeServer(t *testing.T) (s *llmtest.Server, arrived chan struct{}, release func()) {
	arrived, gate := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	s = llmtest.NewFunc(t, func(llmtest.Request) llmtest.Reply {
		if first.CompareAndSwap(false, true) {
			close(arrived)
			<-gate
		}
		return llmtest.Reply{Content: goodReply}
	})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return s, arrived, release
}

func TestOpenAICoalescesIdenticalInFlight(t *testing.T) {
	s, arrived, release := blockingJudgeServer(t)
	j := newTestJudge(s, nil)
	joined := make(chan struct{})
	j.joined = func() { joined <- struct{}{} }
	const n = 6
	got := make([]trajectory.Assessment, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = j.Judge(context.Background(), sampleRun())
		}()
	}
	<-arrived
	for range n - 1 {
		<-joined
	}
	release()
	wg.Wait()
	assert.Len(t, s.Requests(), 1, "identical judgments in flight share one request")
	for i, a := range got {
		require.True(t, a.OK(), "judgment %d: %s", i, a.Error)
		assert.Equal(t, got[0].Score, a.Score)
		assert.Equal(t, got[0].Critique, a.Critique)
		assert.Equal(t, len(sampleRun().Steps), a.Steps)
	}
	got[1].Notes = append(got[1].Notes, "mine")
	assert.NotContains(t, got[2].Notes, "mine", "each caller owns its assessment")
}

func TestOpenAIWaiterCancelled(t *testing.T) {
	s, arrived, release := blockingJudgeServer(t)
	j := newTestJudge(s, nil)
	joined := make(chan struct{})
	j.joined = func() { joined <- struct{}{} }
	lead := make(chan trajectory.Assessment)
	go func() { lead <- j.Judge(context.Background(), sampleRun()) }()
	<-arrived
	ctx, cancel := context.WithCancel(context.Background())
	waiter := make(chan trajectory.Assessment)
	go func() { waiter <- j.Judge(ctx, sampleRun()) }()
	<-joined
	cancel()
	w := <-waiter
	assert.Equal(t, trajectory.AssessmentError, w.Status)
	assert.Contains(t, w.Error, "cancelled while waiting for the same judgment in flight")
	release()
	assert.True(t, (<-lead).OK(), "the judging caller is not affected")
	assert.Len(t, s.Requests(), 1)
}

func TestOpenAILeaderCancelledWaiterJudgesAlone(t *testing.T) {
	s, arrived, _ := blockingJudgeServer(t)
	j := newTestJudge(s, nil, WithRetries(0))
	joined := make(chan struct{})
	j.joined = func() { joined <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	lead := make(chan trajectory.Assessment)
	go func() { lead <- j.Judge(ctx, sampleRun()) }()
	<-arrived
	waiter := make(chan trajectory.Assessment)
	go func() { waiter <- j.Judge(context.Background(), sampleRun()) }()
	<-joined
	cancel()
	l := <-lead
	assert.Equal(t, trajectory.AssessmentError, l.Status)
	w := <-waiter
	require.True(t, w.OK(), "the waiter judged on its own after the judging caller gave up: %s", w.Error)
	assert.Len(t, s.Requests(), 2)
}

// panicOnceTransport panics on its first request (after signalling
// arrived and waiting for release), then passes requests on.
type panicOnceTransport struct {
	n                atomic.Int64
	arrived, release chan struct{}
}

func (p *panicOnceTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.n.Add(1) == 1 {
		close(p.arrived)
		<-p.release
		panic("transport exploded")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestOpenAILeaderPanicReleasesWaiters(t *testing.T) {
	s := newJudgeServer(t, llmtest.Reply{Content: goodReply})
	tr := &panicOnceTransport{arrived: make(chan struct{}), release: make(chan struct{})}
	j := newTestJudge(s, nil, WithHTTPClient(&http.Client{Transport: tr}), WithRetries(0))
	joined := make(chan struct{})
	j.joined = func() { joined <- struct{}{} }
	lead := make(chan any)
	go func() {
		defer func() { lead <- recover() }()
		j.Judge(context.Background(), sampleRun())
	}()
	<-tr.arrived
	waiter := make(chan trajectory.Assessment)
	go func() { waiter <- j.Judge(context.Background(), sampleRun()) }()
	<-joined
	close(tr.release)
	assert.NotNil(t, <-lead, "the judging caller's panic reaches it")
	w := <-waiter
	require.True(t, w.OK(), "the waiter judged on its own: %s", w.Error)
	assert.Len(t, s.Requests(), 1)
}

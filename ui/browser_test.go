package ui

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/trajectory"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium for the test, or fails naming the
// package to install; REAGENT_SKIP_BROWSER=1 skips instead.
func browser(t *testing.T) context.Context {
	t.Helper()
	if os.Getenv("REAGENT_SKIP_BROWSER") == "1" {
		t.Skip("REAGENT_SKIP_BROWSER=1: the Chromium test is skipped")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed at %s for the browser test: install it with `apt-get install -y chromium` (or set REAGENT_SKIP_BROWSER=1 to skip): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // waits for Chromium to exit
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser; it lives as long as ctx, so no
	// deadline here.
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	return ctx
}

// step runs actions with a deadline derived from the tab's context.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(sctx, actions...), what)
}

// value runs one action that returns a value, with a deadline.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	require.NoError(t, err, what)
	return v
}

func TestBrowser(t *testing.T) {
	runs := sampleRuns(40)
	trainPath := filepath.Join(t.TempDir(), "train.jsonl")
	var b strings.Builder
	for s := 1; s <= 60; s++ {
		fmt.Fprintf(&b, `{"step":%d,"reward_mean":%g,"policy_loss":%g,"kl":%g,"tokens_per_second":%g}`+"\n",
			s, 0.25+0.5*float64(s)/60+0.03*float64(s%5), 0.8/float64(s), 0.0004*float64(s), 1100+float64(s%7)*30)
	}
	require.NoError(t, os.WriteFile(trainPath, []byte(b.String()), 0o600))
	ts, _, _ := newTestServer(t, runs, WithTrainMetrics(trainPath))
	ctx := browser(t)
	shots := t.TempDir()
	rowSel := chromedp.CSSAll("#runs tbody tr.run")

	// The list page loads with every run.
	step(t, ctx, "open the list", chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.ID("runs")))
	rows := value(t, ctx, "list rows", chromedp.Nodes(rowSel))
	assert.Len(t, rows, len(runs))
	listShot := screenshot(t, ctx, filepath.Join(shots, "list.png"))

	// Choosing status=error in the form and submitting narrows the list.
	var wantErr []string
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Status == trajectory.StatusError {
			wantErr = append(wantErr, runs[i].ID)
		}
	}
	require.NotEmpty(t, wantErr)
	step(t, ctx, "filter by status",
		chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "error"),
		chromedp.Click(chromedp.ID("apply")),
		// Only the new page has a filtered caption: the old one must not satisfy the wait.
		chromedp.WaitVisible(chromedp.CSS(`#caption[data-filtered="true"]`)))
	loc := value(t, ctx, "location", chromedp.Location())
	u, err := url.Parse(loc)
	require.NoError(t, err)
	assert.Equal(t, "error", u.Query().Get("status"))
	rows = value(t, ctx, "filtered rows", chromedp.Nodes(rowSel))
	require.Len(t, rows, len(wantErr))
	for _, r := range rows {
		assert.Equal(t, "error", r.AttributeValue("data-status"))
	}

	// A run page opens from the list's first link.
	step(t, ctx, "open a run", chromedp.Click(chromedp.CSS("a.run-link")), chromedp.WaitVisible(chromedp.ID("run-id")))
	id := value(t, ctx, "run id", chromedp.Text(chromedp.ID("run-id")))
	title := value(t, ctx, "title", chromedp.Title())
	assert.Equal(t, wantErr[0], id)
	assert.True(t, strings.HasPrefix(title, "Run "), title)
	screenshot(t, ctx, filepath.Join(shots, "run.png"))

	// A hostile observation stays text: its script and onerror never run.
	var evil *trajectory.Trajectory
	for _, r := range runs {
		if r.Steps[0].Calls[0].Observation == evilObservation {
			evil = r
			break
		}
	}
	require.NotNil(t, evil)
	step(t, ctx, "open the hostile run", chromedp.Navigate(ts.URL+runURL(evil.ID)),
		chromedp.WaitVisible(chromedp.CSS(".observation")),
		chromedp.Sleep(200*time.Millisecond)) // give a broken image's onerror time to fire
	obs := value(t, ctx, "observation", chromedp.Text(chromedp.CSS(".observation")))
	task := value(t, ctx, "task", chromedp.Text(chromedp.ID("task")))
	assert.Equal(t, evil.Task, task, "markup in the task is shown as text")
	require.Contains(t, task, "<i>")
	title = value(t, ctx, "title", chromedp.Title())
	injected := value(t, ctx, "injected elements", chromedp.Nodes(chromedp.CSSAll("main img, main script, main iframe"), chromedp.AtLeast(0)))
	assert.Equal(t, evilObservation, obs)
	assert.NotContains(t, title, "pwned")
	assert.Empty(t, injected)

	// Charts render as inline SVG.
	step(t, ctx, "open the charts", chromedp.Navigate(ts.URL+"/charts"), chromedp.WaitVisible(chromedp.ID("train-main")))
	svgs := value(t, ctx, "charts", chromedp.Nodes(chromedp.CSSAll("svg.chart")))
	assert.Len(t, svgs, 3+4, "histogram, two rate charts and four training curves")
	screenshot(t, ctx, filepath.Join(shots, "charts.png"))
	if out := os.Getenv("REAGENT_UI_SCREENSHOT"); out != "" {
		require.NoError(t, os.WriteFile(out, listShot, 0o644))
		t.Logf("screenshot of the list page written to %s", out)
	}
	t.Logf("screenshots in %s", shots)
}

// screenshot saves the viewport as PNG and checks it decodes to the
// window's size.
func screenshot(t *testing.T, ctx context.Context, path string) []byte {
	t.Helper()
	buf := value(t, ctx, "screenshot", chromedp.CaptureScreenshot())
	img, err := png.Decode(bytes.NewReader(buf))
	require.NoError(t, err)
	assert.Equal(t, 1360, img.Bounds().Dx())
	require.NoError(t, os.WriteFile(path, buf, 0o644))
	return buf
}

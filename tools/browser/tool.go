package browser

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/reagent-go/reagent/internal/trunc"
	"github.com/reagent-go/reagent/trajectory"
)

// Name returns the tool's name ("browser" unless WithName).
func (b *Browser) Name() string { return b.cfg.name }

// Description tells the model how to use the tool.
func (b *Browser) Description() string {
	return `Browses web pages in a real browser. Input is JSON with an "action": ` +
		`"open" (with "url") loads a page and returns its readable text; ` +
		`"read" returns the current page's text (or opens "url" first); ` +
		`"links" lists the page's links with absolute URLs; ` +
		`"click" follows a link or presses a button, by CSS "selector" or by its "text", and returns the new page's text; ` +
		`"type" fills the field at CSS "selector" with "text" ("submit": true submits its form); ` +
		`"back" returns to the previous page; "screenshot" saves a PNG and returns its path. ` +
		`Example: {"action":"open","url":"https://example.com"}`
}

var inputSchema = json.RawMessage(`{"type":"object","properties":{` +
	`"action":{"type":"string","enum":["open","read","links","click","type","back","screenshot"],"description":"what to do"},` +
	`"url":{"type":"string","description":"page to open (open; optional for read and links)"},` +
	`"selector":{"type":"string","description":"CSS selector of the element (click, type; optional for screenshot)"},` +
	`"text":{"type":"string","description":"click: the link or button text; type: the text to enter"},` +
	`"submit":{"type":"boolean","description":"type: submit the form afterwards"}},` +
	`"required":["action"],"additionalProperties":false}`)

// ToolSpec describes the tool: it reaches the network ("egress") and is a
// "browser"; click and type can submit forms, so add "risky" with a policy
// when the sites it may reach accept writes.
func (b *Browser) ToolSpec() trajectory.ToolSpec {
	return trajectory.ToolSpec{
		Name:        b.Name(),
		Description: b.Description(),
		Tags:        []string{"egress", "browser"},
		Parameters:  append(json.RawMessage(nil), inputSchema...),
	}
}

// Call runs one action. Every failure, including timeouts and refused
// URLs, comes back as the observation with a nil error, so the agent can
// adapt; Call never returns a non-nil error.
func (b *Browser) Call(ctx context.Context, input string) (string, error) {
	in, err := ParseInput(input)
	if err != nil {
		return "browser error: " + err.Error(), nil
	}
	t, err := b.acquire(ctx)
	if err != nil {
		return "browser error: " + err.Error(), nil
	}
	defer b.release(t)
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return "browser error: cancelled while waiting for the run's tab: " + ctx.Err().Error(), nil
	}
	defer func() { <-t.sem }()

	cctx, cancel := context.WithTimeout(t.ctx, b.cfg.timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	t.takeBlocked()

	out, err := b.do(cctx, t, in)
	if err != nil {
		return b.explain(cctx, ctx, t, in, err), nil
	}
	return out, nil
}

func (b *Browser) do(ctx context.Context, t *tab, in Input) (string, error) {
	switch in.Action {
	case "open":
		return b.open(ctx, t, in.URL)
	case "read":
		if in.URL != "" {
			return b.open(ctx, t, in.URL)
		}
		return b.read(ctx, t, "")
	case "links":
		if in.URL != "" {
			if _, err := b.navigate(ctx, t, in.URL); err != nil {
				return "", err
			}
		}
		return b.links(ctx)
	case "click":
		return b.click(ctx, t, in)
	case "type":
		return b.typeText(ctx, t, in)
	case "back":
		return b.back(ctx, t)
	case "screenshot":
		return b.screenshot(ctx, t, in)
	}
	return "", fmt.Errorf("unknown action %q", in.Action)
}

// actionError is an error whose text is already the observation.
type actionError struct{ msg string }

func (e *actionError) Error() string { return e.msg }

func failf(format string, args ...any) error { return &actionError{fmt.Sprintf(format, args...)} }

// explain turns an action's error into an observation.
func (b *Browser) explain(cctx, callerCtx context.Context, t *tab, in Input, err error) string {
	var ae *actionError
	if errors.As(err, &ae) {
		return "browser error: " + ae.msg
	}
	what := in.Action
	if in.URL != "" {
		what += " " + in.URL
	}
	if callerCtx.Err() != nil {
		return fmt.Sprintf("browser error: %s: cancelled (%v)", what, callerCtx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("browser error: %s: timed out after %s", what, b.cfg.timeout)
	}
	var le *chromedp.LoadError
	if errors.As(err, &le) {
		return "browser error: " + b.loadFailure(t, in.URL, le.ErrorText)
	}
	return fmt.Sprintf("browser error: %s: %v", what, err)
}

// loadFailure explains a failed page load, naming the policy's reason when
// the request checker or the egress proxy refused it.
func (b *Browser) loadFailure(t *tab, u, errText string) string {
	if strings.Contains(errText, "ERR_BLOCKED_BY_CLIENT") {
		if bl := t.peekBlocked(); len(bl) > 0 {
			last := bl[len(bl)-1]
			return fmt.Sprintf("blocked by the network policy: %s", last.reason)
		}
		return "blocked by the network policy"
	}
	if strings.Contains(errText, "ERR_TUNNEL_CONNECTION_FAILED") && b.egress != nil {
		if host := hostOf(u); host != "" {
			if reason, ok := b.egress.lastBlock(host); ok {
				return "blocked by the network policy: " + reason
			}
		}
	}
	if u != "" {
		return fmt.Sprintf("could not load %s: %s", u, errText)
	}
	return "could not load the page: " + errText
}

func hostOf(u string) string {
	rest := u
	if _, r, ok := strings.Cut(u, "://"); ok {
		rest = r
	}
	rest, _, _ = strings.Cut(rest, "/")
	rest, _, _ = strings.Cut(rest, "?")
	rest, _, _ = strings.Cut(rest, "#")
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i > 0 {
			return rest[1:i]
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return strings.ToLower(rest)
}

// navigate loads u in the tab after checking it against the policy. It
// returns the HTTP status of the document (0 when unknown).
func (b *Browser) navigate(ctx context.Context, t *tab, u string) (int64, error) {
	u = normalizeURL(u)
	if scheme, _, _ := strings.Cut(strings.ToLower(u), ":"); scheme != "http" && scheme != "https" {
		return 0, failf("cannot open %q: only http and https URLs can be opened", u)
	}
	if err := b.checkRequestURL(ctx, u); err != nil {
		return 0, failf("blocked by the network policy: %v", err)
	}
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		return 0, err
	}
	if resp == nil {
		return 0, nil
	}
	for k, v := range resp.Headers {
		if strings.EqualFold(k, blockedHeader) && v != "" {
			reason := "connection refused by the egress proxy"
			if b.egress != nil {
				if r, ok := b.egress.lastBlock(hostOf(u)); ok {
					reason = r
				}
			}
			return resp.Status, failf("blocked by the network policy: %s", reason)
		}
	}
	return resp.Status, nil
}

func (b *Browser) open(ctx context.Context, t *tab, u string) (string, error) {
	status, err := b.navigate(ctx, t, u)
	if err != nil {
		return "", err
	}
	note := ""
	if status >= 400 {
		note = fmt.Sprintf("HTTP status: %d\n", status)
	}
	return b.read(ctx, t, note)
}

type pageText struct {
	Title string `json:"title"`
	URL   string `json:"url"`
	Text  string `json:"text"`
}

// evaluate runs a script, retrying briefly while a navigation replaces the
// page's JavaScript context.
func evaluate[T any](ctx context.Context, expr string) (T, error) {
	var zero T
	var err error
	for range 20 {
		var v T
		v, err = chromedp.Run(ctx, chromedp.Evaluate[T](expr))
		if err == nil {
			return v, nil
		}
		msg := err.Error()
		if !strings.Contains(msg, "context") || ctx.Err() != nil ||
			!(strings.Contains(msg, "destroyed") || strings.Contains(msg, "Cannot find context") || strings.Contains(msg, "not found")) {
			return zero, err
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
	return zero, err
}

func (b *Browser) read(ctx context.Context, t *tab, note string) (string, error) {
	p, err := evaluate[pageText](ctx, readableJS)
	if err != nil {
		return "", fmt.Errorf("reading the page: %w", err)
	}
	if p.URL == "about:blank" && strings.TrimSpace(p.Text) == "" {
		return "", failf(`no page is open in this run's tab; use {"action":"open","url":"…"} first`)
	}
	text := cleanText(p.Text)
	var sb strings.Builder
	fmt.Fprintf(&sb, "URL: %s\nTitle: %s\n", p.URL, oneLine(cleanText(p.Title)))
	sb.WriteString(note)
	if bl := t.peekBlocked(); len(bl) > 0 {
		fmt.Fprintf(&sb, "Blocked requests: %d (first: %s: %s)\n", len(bl), bl[0].url, bl[0].reason)
	}
	sb.WriteString("\n")
	body, total, cut := trunc.Runes(text, b.cfg.maxText)
	if body == "" {
		body = "(the page has no visible text)"
	}
	sb.WriteString(body)
	if cut {
		fmt.Fprintf(&sb, "\n\n[Text cut: showing the first %d of %d characters.]", b.cfg.maxText, total)
	}
	return sb.String(), nil
}

type linkList struct {
	Title string `json:"title"`
	URL   string `json:"url"`
	Links []struct {
		Text string `json:"text"`
		Href string `json:"href"`
	} `json:"links"`
}

func (b *Browser) links(ctx context.Context) (string, error) {
	l, err := evaluate[linkList](ctx, linksJS)
	if err != nil {
		return "", fmt.Errorf("listing links: %w", err)
	}
	if l.URL == "about:blank" {
		return "", failf(`no page is open in this run's tab; use {"action":"open","url":"…"} first`)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "URL: %s\nTitle: %s\nLinks: %d\n\n", l.URL, oneLine(cleanText(l.Title)), len(l.Links))
	for i, ln := range l.Links {
		text := oneLine(cleanText(ln.Text))
		if text == "" {
			text = "(no text)"
		}
		line := fmt.Sprintf("%d. %s -> %s\n", i+1, text, cleanText(ln.Href))
		if utf8.RuneCountInString(sb.String())+utf8.RuneCountInString(line) > b.cfg.maxText {
			fmt.Fprintf(&sb, "\n[List cut: showing %d of %d links.]", i, len(l.Links))
			break
		}
		sb.WriteString(line)
	}
	return strings.TrimRight(sb.String(), "\n"), nil
}

// checkSelector reports a CSS selector the page cannot parse, at once
// rather than after a timeout.
func checkSelector(ctx context.Context, sel string) error {
	q, _ := json.Marshal(sel)
	msg, err := evaluate[string](ctx, `(() => { try { document.querySelector(`+string(q)+`); return "" } catch (e) { return String(e.message || e) } })()`)
	if err != nil {
		return err
	}
	if msg != "" {
		return failf("invalid CSS selector %q: %s", sel, msg)
	}
	return nil
}

// target returns a CSS selector for the element an action works on: the
// given selector, or a marker put on the clickable element with the text.
func (b *Browser) target(ctx context.Context, in Input) (string, error) {
	if in.Selector != "" {
		if err := checkSelector(ctx, in.Selector); err != nil {
			return "", err
		}
		return in.Selector, nil
	}
	mark := randomMark()
	q, _ := json.Marshal(strings.TrimSpace(in.Text))
	m, _ := json.Marshal(mark)
	expr := findTextJS + "(" + string(q) + "," + string(m) + ")"
	deadline := time.Now().Add(b.cfg.selectorTimeout)
	for {
		ok, err := evaluate[bool](ctx, expr)
		if err != nil {
			return "", err
		}
		if ok {
			return fmt.Sprintf(`[data-reagent-target=%q]`, mark), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", failf("no visible link or button with the text %q (waited %s)", in.Text, b.cfg.selectorTimeout)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

func randomMark() string {
	var buf [8]byte
	_, _ = rand.Read(buf[:])
	return hex.EncodeToString(buf[:])
}

// waitElement waits until the selector matches a visible element, up to
// the selector timeout.
func (b *Browser) waitElement(ctx context.Context, sel string) error {
	sctx, cancel := context.WithTimeout(ctx, b.cfg.selectorTimeout)
	defer cancel()
	err := chromedp.Do(sctx, chromedp.WaitVisible(chromedp.CSS(sel)))
	if err != nil && sctx.Err() != nil && ctx.Err() == nil {
		return failf("no visible element matches the selector %q (waited %s)", sel, b.cfg.selectorTimeout)
	}
	return err
}

// settle runs act and, when it starts a page load within a short grace
// period, waits for that load to finish.
func (b *Browser) settle(ctx context.Context, act func(context.Context) error) error {
	sub, cancelSub := context.WithCancel(ctx)
	defer cancelSub()
	started := chromedp.Events(sub, page.FrameStartedLoading)
	loaded := chromedp.Events(sub, page.LoadEventFired)
	if err := act(ctx); err != nil {
		return err
	}
	grace, cancelGrace := context.WithCancel(sub)
	timer := time.AfterFunc(500*time.Millisecond, cancelGrace)
	defer timer.Stop()
	navigating := false
	for _, err := range withContext(grace, started) {
		if err == nil {
			navigating = true
		}
		break
	}
	cancelGrace()
	if !navigating {
		return nil
	}
	for _, err := range loaded {
		if err != nil {
			return err
		}
		return nil
	}
	return ctx.Err()
}

// withContext ends an event iterator when ctx ends, yielding ctx's error.
func withContext[E any](ctx context.Context, seq func(func(E, error) bool)) func(func(E, error) bool) {
	return func(yield func(E, error) bool) {
		type item struct {
			e   E
			err error
		}
		ch := make(chan item)
		done := make(chan struct{})
		defer close(done)
		go func() {
			for e, err := range seq {
				select {
				case ch <- item{e, err}:
				case <-done:
					return
				}
				if err != nil {
					return
				}
			}
		}()
		for {
			select {
			case it := <-ch:
				if !yield(it.e, it.err) || it.err != nil {
					return
				}
			case <-ctx.Done():
				var zero E
				yield(zero, ctx.Err())
				return
			}
		}
	}
}

// unTarget makes links and forms open in the same tab, where the request
// checks apply and the tool can read the result.
const unTarget = `document.querySelectorAll('a[target],area[target],form[target]').forEach(e => e.removeAttribute('target')), true`

func (b *Browser) click(ctx context.Context, t *tab, in Input) (string, error) {
	sel, err := b.target(ctx, in)
	if err != nil {
		return "", err
	}
	if err := b.waitElement(ctx, sel); err != nil {
		return "", err
	}
	if _, err := evaluate[bool](ctx, unTarget); err != nil {
		return "", err
	}
	if err := b.settle(ctx, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
	}); err != nil {
		return "", err
	}
	return b.afterNavigation(ctx, t)
}

// afterNavigation reads the page, or reports a blocked navigation.
func (b *Browser) afterNavigation(ctx context.Context, t *tab) (string, error) {
	out, err := b.read(ctx, t, "")
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(out, "URL: chrome-error://") {
		if bl := t.peekBlocked(); len(bl) > 0 {
			return "", failf("blocked by the network policy: %s", bl[len(bl)-1].reason)
		}
		return "", failf("the page failed to load")
	}
	return out, nil
}

// clearJS empties a field before typing, telling the page as an input
// event would.
const clearJS = `(function (sel) {
  const el = document.querySelector(sel);
  if (!el) return false;
  el.focus();
  if ('value' in el) el.value = ''; else if (el.isContentEditable) el.textContent = '';
  el.dispatchEvent(new Event('input', { bubbles: true }));
  return true;
})`

// submitJS submits the form of the first element matching a selector:
// requestSubmit runs the page's validation and submit handlers.
const submitJS = `(function (sel) {
  const el = document.querySelector(sel);
  if (!el) return "missing";
  const f = el.form || el.closest('form');
  if (!f) return "noform";
  f.removeAttribute('target');
  if (f.requestSubmit) f.requestSubmit(); else f.submit();
  return "submitted";
})`

func (b *Browser) typeText(ctx context.Context, t *tab, in Input) (string, error) {
	if err := checkSelector(ctx, in.Selector); err != nil {
		return "", err
	}
	if err := b.waitElement(ctx, in.Selector); err != nil {
		return "", err
	}
	sel := chromedp.CSS(in.Selector)
	q, _ := json.Marshal(in.Selector)
	if _, err := evaluate[bool](ctx, clearJS+"("+string(q)+")"); err != nil {
		return "", err
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(sel, in.Text)); err != nil {
		return "", err
	}
	if !in.Submit {
		return fmt.Sprintf("Typed %d characters into %s.", utf8.RuneCountInString(in.Text), in.Selector), nil
	}
	if err := b.settle(ctx, func(ctx context.Context) error {
		res, err := evaluate[string](ctx, submitJS+"("+string(q)+")")
		switch {
		case err != nil:
			return err
		case res == "missing":
			return failf("no element matches the selector %q", in.Selector)
		case res == "noform":
			// No form: press Enter, as a user would.
			return chromedp.Do(ctx, chromedp.SendKeys(sel, "\r"))
		}
		return nil
	}); err != nil {
		return "", err
	}
	return b.afterNavigation(ctx, t)
}

func (b *Browser) back(ctx context.Context, t *tab) (string, error) {
	hist, err := chromedp.Run(ctx, chromedp.NavigationEntries())
	if err != nil {
		return "", err
	}
	if hist.CurrentIndex <= 0 || int(hist.CurrentIndex) >= len(hist.Entries) {
		return "", failf("there is no previous page in this run's tab")
	}
	prev := hist.Entries[hist.CurrentIndex-1].ID
	if err := b.settle(ctx, func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: prev})
		return err
	}); err != nil {
		return "", err
	}
	return b.afterNavigation(ctx, t)
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

func (b *Browser) screenshot(ctx context.Context, t *tab, in Input) (string, error) {
	if b.cfg.shotDir == "" {
		return "", failf("screenshots are off: the browser was created without WithScreenshotDir")
	}
	if err := os.MkdirAll(b.cfg.shotDir, 0o755); err != nil {
		return "", failf("cannot create the screenshot directory: %v", err)
	}
	loc, err := evaluate[string](ctx, `location.href`)
	if err != nil {
		return "", err
	}
	if loc == "about:blank" {
		return "", failf(`no page is open in this run's tab; use {"action":"open","url":"…"} first`)
	}
	var png []byte
	if in.Selector != "" {
		if err := checkSelector(ctx, in.Selector); err != nil {
			return "", err
		}
		if err := b.waitElement(ctx, in.Selector); err != nil {
			return "", err
		}
		png, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(in.Selector)))
	} else {
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		return "", fmt.Errorf("taking the screenshot: %w", err)
	}
	name := fmt.Sprintf("screenshot-%s-%d-%d.png", strings.Trim(unsafeName.ReplaceAllString(t.key, "_"), "_"), time.Now().Unix(), b.shots.Add(1))
	path := filepath.Join(b.cfg.shotDir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", failf("cannot write the screenshot: %v", err)
	}
	return fmt.Sprintf("Saved a screenshot of %s to %s (%d bytes, PNG).", loc, path, len(png)), nil
}

// cleanText drops characters that can hide instructions from a human
// reader but not from a model: control characters (other than newline and
// tab), zero-width and bidirectional controls, and Unicode tag characters.
func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\u00ad', r >= '\u200b' && r <= '\u200f', r >= '\u202a' && r <= '\u202e',
			r >= '\u2060' && r <= '\u2064', r >= '\u2066' && r <= '\u2069', r == '\ufeff',
			r >= 0xe0000 && r <= 0xe007f, r == utf8.RuneError:
			return -1
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

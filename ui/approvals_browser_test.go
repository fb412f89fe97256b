package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserApproves signs in with the token, approves one pending request
// and denies another by clicking their buttons in Chromium, and checks that
// the page then shows the decisions and the store holds them. Every wait is
// on a DOM condition.
func TestBrowserApproves(t *testing.T) {
	f := newApprovalsServer(t)
	ctx := browser(t)
	row := func(id string) string { return fmt.Sprintf(`tr.pending[data-request=%q]`, id) }
	first, second := f.reqs[0].ID, f.reqs[1].ID

	step(t, ctx, "open the approvals page with the token",
		chromedp.Navigate(f.url+"/approvals?token="+approvalsToken),
		chromedp.WaitVisible(chromedp.CSS(row(first))))
	loc := value(t, ctx, "location", chromedp.Location())
	assert.Equal(t, f.url+"/approvals", loc, "the token left the address bar")
	rows := value(t, ctx, "pending rows", chromedp.Nodes(chromedp.CSSAll("tr.pending")))
	assert.Len(t, rows, len(f.reqs))

	step(t, ctx, "approve the first request",
		chromedp.SendKeys(chromedp.CSS(row(first)+` input[name="reason"]`), "invoice checked"),
		chromedp.Click(chromedp.CSS(row(first)+" button.approve")),
		// Only the page after the decision has the banner.
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#decided[data-request=%q]`, first))))
	approved := value(t, ctx, "banner", chromedp.AttributeValue(chromedp.CSS("#decided"), "data-approved"))
	assert.Equal(t, "true", approved.Value)
	banner := value(t, ctx, "banner text", chromedp.Text(chromedp.CSS("#decided")))
	assert.Contains(t, banner, "approved")
	assert.Contains(t, banner, "invoice checked")
	assert.Contains(t, banner, "alice (reagent ui, token ")
	shot := screenshot(t, ctx, filepath.Join(t.TempDir(), "approvals.png"))
	if out := os.Getenv("REAGENT_UI_APPROVALS_SCREENSHOT"); out != "" {
		require.NoError(t, os.WriteFile(out, shot, 0o644))
	}

	step(t, ctx, "deny the second request",
		chromedp.WaitVisible(chromedp.CSS(row(second))),
		chromedp.Click(chromedp.CSS(row(second)+" button.deny")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#decided[data-request=%q]`, second))))
	denied := value(t, ctx, "banner", chromedp.AttributeValue(chromedp.CSS("#decided"), "data-approved"))
	assert.Equal(t, "false", denied.Value)
	left := value(t, ctx, "pending rows", chromedp.Nodes(chromedp.CSSAll("tr.pending")))
	require.Len(t, left, 1)
	assert.Equal(t, f.reqs[2].ID, left[0].AttributeValue("data-request"))
	decided := value(t, ctx, "decided rows", chromedp.Nodes(chromedp.CSSAll("tr.decided")))
	require.Len(t, decided, 2)
	assert.Equal(t, second, decided[0].AttributeValue("data-request"))
	assert.Equal(t, first, decided[1].AttributeValue("data-request"))

	for id, want := range map[string]bool{first: true, second: false} {
		_, dec, err := f.d.Lookup(context.Background(), id)
		require.NoError(t, err)
		require.NotNil(t, dec, "Chromium's POST passed the origin and CSRF checks")
		assert.Equal(t, want, dec.Approved)
	}
	rep, err := f.store.Verify(context.Background())
	require.NoError(t, err)
	assert.True(t, rep.OK, rep.String())
}

package ui

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzParseFilter checks that any query either fails with an error or gives
// a valid filter that survives a round trip through its own query string.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"", "status=error", "min_score=0.5&max_score=0.9", "blocked=yes&suite=gaia&strategy=reagent-u",
		"since=2026-03-01T09:10&until=2026-03-01T09:20", "since=2026-03-01", "until=2026-03-01T10:00:00Z",
		"page=3&size=10", "min_score=NaN", "min_score=1e308", "max_score=-0", "size=0", "page=-1", "status=%ff",
		"since=2026-13-45", "blocked=1&blocked=no", "suite=%3Cscript%3E",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		got, err := ParseFilter(v, 50)
		if err != nil {
			assert.Contains(t, err.Error(), "bad filter")
			return
		}
		require.GreaterOrEqual(t, got.Page, 1)
		require.True(t, got.Size >= 1 && got.Size <= maxPageSize)
		if got.MinScore != nil {
			require.True(t, *got.MinScore >= 0 && *got.MinScore <= 1)
		}
		again, err := ParseFilter(got.Values(got.Page), 50)
		require.NoError(t, err, "a parsed filter must parse again from its own query")
		assert.Equal(t, got.Values(got.Page).Encode(), again.Values(again.Page).Encode())
		_ = got.Query()
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"", "2026-03-01", "2026-03-01T09:10", "2026-03-01T09:10:11", "2026-03-01T09:10:11.5+02:00", "2026-03-01 09:10", "yesterday", "9999-99-99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			assert.Contains(t, err.Error(), "is not a time")
			return
		}
		if s == "" {
			assert.True(t, tm.IsZero())
			return
		}
		assert.Equal(t, "UTC", tm.Location().String())
	})
}

// FuzzReadTrainLog checks that no input makes the metrics reader fail or
// panic, and that every point it keeps is a finite number.
func FuzzReadTrainLog(f *testing.F) {
	for _, s := range []string{
		`{"step":1,"reward_mean":0.5,"kl":0.01}` + "\n" + `{"step":2,"reward_mean":0.6,"kl":0.02}`,
		`{"step":1,"metrics":{"policy_loss":0.3,"inner":{"deep":{"deeper":1}}}}`,
		"not json\n{\"step\":\"x\",\"kl\":1}\n[1,2]\n{}\n",
		`{"step":1,"tokens_per_s":10,"tokens_per_second":11}`,
		`{"reward_mean":1e400}`, "{\"a\":1}\r\n{\"a\":2", "", "\n\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		log, err := ReadTrainLog(strings.NewReader(s))
		require.NoError(t, err)
		require.LessOrEqual(t, len(log.Series), maxSeries)
		for _, se := range log.Series {
			for _, p := range se.Points {
				require.False(t, p.Value != p.Value || p.Step != p.Step, "NaN point in %s", se.Name)
			}
			c := curve(se)
			if len(se.Points) > 0 {
				assert.NotEmpty(t, c.Points)
			}
		}
		if log.Skipped > 0 {
			assert.NotEmpty(t, log.FirstSkip)
		}
	})
}

// FuzzParseDecisionForm checks that any decision body either fails with an
// error or gives a decision from exactly one field, a bounded clean reason
// and the csrf token it carried, and that a parsed form parses again to the
// same from its own encoding.
func FuzzParseDecisionForm(f *testing.F) {
	for _, s := range []string{
		"", "decision=approve&csrf=abc", "decision=deny&reason=no+way&csrf=abc", "decision=approve",
		"decision=approve&decision=deny&csrf=a", "decision=approve&csrf=a&csrf=b", "decision=yes&csrf=a",
		"decision=approve&csrf=a&by=mallory", "decision=approve&csrf=a&reason=%00", "decision=approve&csrf=a&reason=%ff",
		"decision=approve&csrf=a&reason=+line%0Abreak%09tab+", "decision=approve&csrf=a;reason=x", "%zz",
		"decision=deny&csrf=a&reason=" + strings.Repeat("x", MaxDecisionReason+1), "csrf=&decision=approve",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := parseDecisionForm(body)
		v, perr := url.ParseQuery(body)
		if perr != nil {
			require.Error(t, err)
			assert.Empty(t, got.CSRF, "a body that does not parse carries no token")
			return
		}
		if cs := v["csrf"]; len(cs) == 1 {
			assert.Equal(t, cs[0], got.CSRF, "the token is returned, error or not")
		} else {
			assert.Empty(t, got.CSRF)
		}
		if err != nil {
			return
		}
		require.Len(t, v["decision"], 1)
		assert.Equal(t, v.Get("decision") == "approve", got.Approved)
		require.Contains(t, []string{"approve", "deny"}, v.Get("decision"))
		require.NotEmpty(t, got.CSRF)
		require.LessOrEqual(t, len(got.Reason), MaxDecisionReason)
		require.True(t, utf8.ValidString(got.Reason))
		require.Equal(t, strings.TrimSpace(got.Reason), got.Reason)
		for _, r := range got.Reason {
			require.False(t, unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r', "control character %U", r)
		}
		decision := "deny"
		if got.Approved {
			decision = "approve"
		}
		again, err := parseDecisionForm(url.Values{"decision": {decision}, "reason": {got.Reason}, "csrf": {got.CSRF}}.Encode())
		require.NoError(t, err)
		assert.Equal(t, got, again)
	})
}

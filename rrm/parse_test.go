package rrm

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseWellFormed(t *testing.T) {
	raw := "<think>The agent called the calculator once.</think>\n<critique>You verified the product before answering.</critique>\n<score>0.85</score>"
	a, err := Parse(raw)
	require.NoError(t, err)
	assert.Equal(t, "The agent called the calculator once.", a.Think)
	assert.Equal(t, "You verified the product before answering.", a.Critique)
	assert.Equal(t, 0.85, a.Score)
	assert.Empty(t, a.Notes)
	assert.Equal(t, raw, a.Raw)
	assert.True(t, a.OK())
}

func TestParseTolerant(t *testing.T) {
	cases := []struct {
		name      string
		raw       string
		score     float64
		think     string
		critique  string
		wantNotes []string // substrings, each must appear in some note
	}{
		{"missing think", "<critique>You guessed.</critique><score>0.2</score>", 0.2, "", "You guessed.", []string{"no <think>"}},
		{"whitespace and newlines", "\n\n  <think>\n  a \n</think>\n\n<critique>\n b\n</critique>\n <score> 0.5 </score>\n", 0.5, "a", "b", nil},
		{"fraction of one", "<think>t</think><critique>c</critique><score>0.7/1</score>", 0.7, "t", "c", nil},
		{"out of ten", "<think>t</think><critique>c</critique><score>7/10</score>", 0.7, "t", "c", []string{"read 7/10 as 0.7"}},
		{"out of words", "<think>t</think><critique>c</critique><score>7 out of 10</score>", 0.7, "t", "c", []string{"read 7/10"}},
		{"percent", "<think>t</think><critique>c</critique><score>70%</score>", 0.7, "t", "c", []string{"read 70% as 0.7"}},
		{"prose around", "Here is my review.\n<think>t</think><critique>c</critique><score>0.4</score>\nHope this helps!", 0.4, "t", "c", []string{"outside the tags"}},
		{"out of order", "<score>0.3</score><critique>c</critique><think>t</think>", 0.3, "t", "c", []string{"out of order"}},
		{"several scores: last wins", "<think>maybe <score>0.9</score> at first</think><critique>c</critique><score>0.6</score>", 0.6, "maybe <score>0.9</score> at first", "c", nil},
		{"two score tags outside think", "<think>t</think><critique>c</critique><score>0.9</score><score>0.1</score>", 0.1, "t", "c", []string{"2 <score> tags: used the last"}},
		{"unclosed critique", "<think>t</think><critique>you looped<score>0.2</score>", 0.2, "t", "you looped", []string{"unclosed <critique>"}},
		{"unclosed score at end", "<think>t</think><critique>c</critique><score>0.25", 0.25, "t", "c", []string{"unclosed <score>"}},
		{"upper case tags", "<THINK>t</THINK><Critique>c</Critique><SCORE>1</SCORE>", 1, "t", "c", nil},
		{"spaces in tags", "< think >t</ think ><critique >c</critique><score>0</score>", 0, "t", "c", nil},
		{"thinking tag", "<thinking>t</thinking><critique>c</critique><score>0.5</score>", 0.5, "t", "c", nil},
		{"code fence around all", "```xml\n<think>t</think>\n<critique>c</critique>\n<score>0.5</score>\n```", 0.5, "t", "c", nil},
		{"code fence inside critique", "<think>t</think><critique>\n```\nc\n```\n</critique><score>0.5</score>", 0.5, "t", "c", []string{"code fences inside <critique>"}},
		{"markdown score", "<think>t</think><critique>c</critique><score>**0.8**</score>", 0.8, "t", "c", nil},
		{"score label", "<think>t</think><critique>c</critique><score>Score: 0.8</score>", 0.8, "t", "c", []string{"ignored text around the score"}},
		{"clamp just above one", "<think>t</think><critique>c</critique><score>1.0000001</score>", 1, "t", "c", []string{"clamped score"}},
		{"negative zero", "<think>t</think><critique>c</critique><score>-0.0</score>", 0, "t", "c", []string{"clamped score -0.0 to 0"}},
		{"missing open think", "The agent did fine.</think><critique>c</critique><score>0.9</score>", 0.9, "The agent did fine.", "c", []string{"missing <think>"}},
		{"missing critique", "<think>t</think><score>0.9</score>", 0.9, "t", "", []string{"no <critique>"}},
		{"two critiques", "<think>t</think><critique>a</critique><critique>b</critique><score>0.5</score>", 0.5, "t", "a\n\nb", []string{"2 <critique> blocks"}},
		{"exponent", "<think>t</think><critique>c</critique><score>5e-1</score>", 0.5, "t", "c", nil},
		{"leading dot", "<think>t</think><critique>c</critique><score>.5</score>", 0.5, "t", "c", nil},
		{"mismatched close", "<think>t</think><critique>c</score><score>0.5</score>", 0.5, "t", "c", []string{"unclosed <critique>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse(tc.raw)
			require.NoError(t, err)
			assert.InDelta(t, tc.score, a.Score, 1e-12)
			assert.Equal(t, tc.think, a.Think)
			assert.Equal(t, tc.critique, a.Critique)
			for _, want := range tc.wantNotes {
				assert.True(t, containsNote(a.Notes, want), "want a note with %q, got %q", want, a.Notes)
			}
			if tc.wantNotes == nil && strings.Count(tc.raw, "<score>") == 1 && !strings.Contains(tc.raw, "Here") {
				for _, n := range a.Notes {
					assert.NotContains(t, n, "score", "no score repair expected")
				}
			}
		})
	}
}

func TestParseStrict(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want error
	}{
		{"empty", "", ErrNoScore},
		{"plain prose", "The agent did well, I would give it 0.8.", ErrNoScore},
		{"no score tag", "<think>t</think><critique>c</critique>", ErrNoScore},
		{"empty score", "<think>t</think><critique>c</critique><score></score>", ErrBadScore},
		{"words", "<think>t</think><critique>c</critique><score>high</score>", ErrBadScore},
		{"two numbers", "<think>t</think><critique>c</critique><score>0.6 or 0.7</score>", ErrBadScore},
		{"range", "<think>t</think><critique>c</critique><score>0.6-0.7</score>", ErrBadScore},
		{"ten scale", "<think>t</think><critique>c</critique><score>7</score>", ErrScoreRange},
		{"above one", "<think>t</think><critique>c</critique><score>1.01</score>", ErrScoreRange},
		{"negative", "<think>t</think><critique>c</critique><score>-0.2</score>", ErrScoreRange},
		{"over percent", "<think>t</think><critique>c</critique><score>120%</score>", ErrScoreRange},
		{"over fraction", "<think>t</think><critique>c</critique><score>11/10</score>", ErrScoreRange},
		{"zero denominator", "<think>t</think><critique>c</critique><score>1/0</score>", ErrBadScore},
		{"nan", "<think>t</think><critique>c</critique><score>NaN</score>", ErrBadScore},
		{"hex", "<think>t</think><critique>c</critique><score>0x1p-1</score>", ErrBadScore},
		{"last score bad", "<think>t</think><critique>c</critique><score>0.5</score><score>oops</score>", ErrBadScore},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.raw)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tc.want), "got %v, want %v", err, tc.want)
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, s := range []float64{0, 1, 0.5, 0.123456789, 1e-7, 0.999999} {
		raw := Format(" think ", "critique\nline two", s)
		a, err := Parse(raw)
		require.NoError(t, err)
		assert.Equal(t, s, a.Score)
		assert.Equal(t, "think", a.Think)
		assert.Equal(t, "critique\nline two", a.Critique)
		assert.Empty(t, a.Notes)
	}
}

func containsNote(notes []string, sub string) bool {
	for _, n := range notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// FuzzParse checks that Parse never panics, that a successful parse has a
// score in [0,1], and that well-formed documents round-trip.
// Run longer with: go test ./rrm -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s
func FuzzParse(f *testing.F) {
	seeds := []string{
		"<think>a</think><critique>b</critique><score>0.5</score>",
		"<critique>b</critique><score>7/10</score>",
		"<score>70%</score>",
		"</think><score>1.0000001</score>",
		"<think>x<score>0.9</score></think><score>-0.0</score>",
		"```\n<think>a</think>\n```",
		"<THINK>a<CRITIQUE>b<SCORE>1e-3",
		"<score>0.6 or 0.7</score>",
		"< score >\u00a0.5</score>",
		"",
	}
	for _, s := range seeds {
		f.Add(s, "think text", "critique text", 0.25)
	}
	f.Fuzz(func(t *testing.T, raw, think, critique string, score float64) {
		a, err := Parse(raw)
		if err == nil {
			if math.IsNaN(a.Score) || a.Score < 0 || a.Score > 1 {
				t.Fatalf("Parse(%q) score %v outside [0,1]", raw, a.Score)
			}
			if math.Signbit(a.Score) {
				t.Fatalf("Parse(%q) returned negative zero", raw)
			}
		}
		// Round trip: a well-formed document built from tag-free text.
		if math.IsNaN(score) || score < 0 || score > 1 || math.Signbit(score) || !utf8.ValidString(think+critique) ||
			strings.ContainsAny(think+critique, "<`") {
			return
		}
		doc := Format(think, critique, score)
		b, err := Parse(doc)
		if err != nil {
			t.Fatalf("Parse(Format(...)) = %v for %q", err, doc)
		}
		if b.Score != score || b.Think != strings.TrimSpace(think) || b.Critique != strings.TrimSpace(critique) {
			t.Fatalf("round trip of %q gave think %q critique %q score %v", doc, b.Think, b.Critique, b.Score)
		}
		if len(b.Notes) > 0 {
			t.Fatalf("well-formed %q gave notes %q", doc, b.Notes)
		}
	})
}

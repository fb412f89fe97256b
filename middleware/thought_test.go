package middleware

import (
	"strings"
	"testing"
)

// markerAtByIndex is the plain definition markerAt must agree with: the
// earliest start of any of the markers.
func markerAtByIndex(log string) int {
	cut := len(log)
	for _, m := range []string{"Action:", "Final Answer:", "AI:"} {
		if i := strings.Index(log, m); i >= 0 && i < cut {
			cut = i
		}
	}
	return cut
}

var thoughtCases = []struct{ log, thought string }{
	{"Thought: keep going\nAction: noop\nAction Input: x", "keep going"},
	{"Thought: done\nFinal Answer: ok", "done"},
	{"I know: the answer\nAI: hello", "I know: the answer"},
	{"Thought: a: b: c", "a: b: c"},
	{"no markers at all", "no markers at all"},
	{"Final Answer: Action: AI:", ""},
	{"xAction:", "x"},
	{"FAI: y", "F"},
	{":::Final Answer:", ":::"},
	{"", ""},
	{"Action", "Action"},
	{"Thought: résumé naïve: Action: go", "résumé naïve:"},
}

func TestThoughtOf(t *testing.T) {
	for _, c := range thoughtCases {
		if got := thoughtOf(c.log); got != c.thought {
			t.Errorf("thoughtOf(%q) = %q, want %q", c.log, got, c.thought)
		}
		if got, want := markerAt(c.log), markerAtByIndex(c.log); got != want {
			t.Errorf("markerAt(%q) = %d, want %d", c.log, got, want)
		}
	}
}

// FuzzMarkerAt checks the one-pass marker search against the plain
// definition on any text.
func FuzzMarkerAt(f *testing.F) {
	for _, c := range thoughtCases {
		f.Add(c.log)
	}
	f.Fuzz(func(t *testing.T, log string) {
		if got, want := markerAt(log), markerAtByIndex(log); got != want {
			t.Fatalf("markerAt(%q) = %d, want %d", log, got, want)
		}
	})
}

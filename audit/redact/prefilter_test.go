package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// needleText builds text of about n bytes from pieces of the rules'
// needles (in random case), filler and a few bytes of every kind, so that
// needles land everywhere, across the cuts of the interleaved scan too.
func needleText(r *rand.Rand, needles []string, n int) string {
	var b strings.Builder
	for b.Len() < n {
		switch r.IntN(4) {
		case 0:
			nd := needles[r.IntN(len(needles))]
			if r.IntN(2) == 0 {
				nd = strings.ToUpper(nd)
			}
			if r.IntN(3) == 0 { // a piece of one: partial matches
				nd = nd[:r.IntN(len(nd)+1)]
			}
			b.WriteString(nd)
		case 1:
			b.WriteString("the census counted residents ")
		default:
			b.WriteByte(byte(r.IntN(256)))
		}
	}
	return b.String()
}

func allNeedles(t testing.TB) (*Redactor, []string) {
	red, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, ru := range red.rules {
		ns = append(ns, ru.needles...)
	}
	if len(ns) == 0 || red.pf.longest == 0 {
		t.Fatal("the built-in rules have no needles")
	}
	return red, ns
}

// TestScanInterleaved checks that the four-part scan finds exactly the
// rules the one-chain walk finds, at every length around the cut points.
func TestScanInterleaved(t *testing.T) {
	red, ns := allNeedles(t)
	p := red.pf
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 4000 {
		s := needleText(r, ns, r.IntN(6000))
		if i%4 == 0 {
			s = s[:min(len(s), interleaveMin+r.IntN(4*p.longest+8))]
		}
		var got, want ruleSet
		p.scan(s, &got)
		p.scanOne(s, &want)
		if got != want {
			t.Fatalf("case %d (%d bytes): interleaved scan found %v, one chain %v", i, len(s), got, want)
		}
	}
	// A needle across each cut, and nowhere else.
	for _, nd := range ns {
		for cut := 1; cut < 4; cut++ {
			fill := strings.Repeat("~", 2000)
			q := len(fill) / 4
			s := []byte(fill)
			at := cut*q - len(nd)/2
			copy(s[at:], nd)
			var got, want ruleSet
			p.scan(string(s), &got)
			p.scanOne(string(s), &want)
			if got != want || want == (ruleSet{}) {
				t.Fatalf("needle %q across cut %d: interleaved %v, one chain %v", nd, cut, got, want)
			}
		}
	}
}

// FuzzScanInterleaved compares the two scans on arbitrary text.
func FuzzScanInterleaved(f *testing.F) {
	red, ns := allNeedles(f)
	f.Add(strings.Repeat("x", 600) + "api_key=" + strings.Repeat("y", 600))
	f.Add(needleText(rand.New(rand.NewPCG(1, 1)), ns, 3000))
	f.Fuzz(func(t *testing.T, s string) {
		for len(s) < interleaveMin {
			s += s + "~"
		}
		var got, want ruleSet
		red.pf.scan(s, &got)
		red.pf.scanOne(s, &want)
		if got != want {
			t.Fatalf("interleaved scan found %v, one chain %v", got, want)
		}
	})
}

// BenchmarkScanInterleaved scans 12 KB of agent text with the four-part
// scan, against a baseline of the one-chain walk of the same text.
func BenchmarkScanInterleaved(b *testing.B) {
	red, _ := allNeedles(b)
	text := strings.Repeat("Result 3: the 2013 census counted 100259 residents in the metropolitan area. "+
		"You are a careful research agent. Use the tools below, think step by step, and cite what you observe. ", 70)
	b.SetBytes(int64(len(text)))
	var four, one time.Duration
	for b.Loop() {
		var m ruleSet
		start := time.Now()
		red.pf.scan(text, &m)
		four += time.Since(start)
		start = time.Now()
		red.pf.scanOne(text, &m)
		one += time.Since(start)
	}
	b.ReportMetric(one.Seconds()/four.Seconds(), "x-one-chain")
}

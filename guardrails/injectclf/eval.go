package injectclf

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// ReadSamples reads JSON lines of Sample (the form scripts/injectdata/build.py
// writes). A line that does not parse is an error naming the line.
func ReadSamples(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var s Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return nil, fmt.Errorf("injectclf: line %d: %w", line, err)
		}
		if s.Label != 0 && s.Label != 1 {
			return nil, fmt.Errorf("injectclf: line %d: label %d, want 0 or 1", line, s.Label)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("injectclf: reading samples: %w", err)
	}
	return out, nil
}

// ReadSamplesFile is ReadSamples on a file.
func ReadSamplesFile(path string) ([]Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("injectclf: %w (build the data with scripts/injectdata/build.py)", err)
	}
	defer f.Close()
	s, err := ReadSamples(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Counts is a detection tally.
type Counts struct {
	Hit, Total int
}

// Rate is Hit/Total (0 when empty).
func (c Counts) Rate() float64 {
	if c.Total == 0 {
		return 0
	}
	return float64(c.Hit) / float64(c.Total)
}

// Report tallies a detector on labelled samples at one threshold: recall on
// attacks and false positives on benign samples, overall and by family,
// language and source.
type Report struct {
	Threshold float64
	Recall    Counts // attacks flagged
	FalsePos  Counts // benign samples flagged
	// Attack recall and benign false positives by group.
	RecallBy, FalsePosBy map[string]Counts
	// Flags holds, per sample, whether it was flagged (same order).
	Flags []bool
}

// Evaluate scores every sample and tallies at threshold (flagged when the
// score is at or above it).
func Evaluate(samples []Sample, score func(string) float64, threshold float64) Report {
	r := Report{Threshold: threshold, RecallBy: map[string]Counts{}, FalsePosBy: map[string]Counts{},
		Flags: make([]bool, len(samples))}
	for i, s := range samples {
		hit := score(s.Text) >= threshold
		r.Flags[i] = hit
		keys := []string{"family:" + s.Family, "lang:" + s.Lang, "source:" + s.Source}
		tally, by := &r.FalsePos, r.FalsePosBy
		if s.Label == 1 {
			tally, by = &r.Recall, r.RecallBy
		}
		tally.Total++
		if hit {
			tally.Hit++
		}
		for _, k := range keys {
			c := by[k]
			c.Total++
			if hit {
				c.Hit++
			}
			by[k] = c
		}
	}
	return r
}

// Table writes the report as Markdown tables (one per grouping).
func (r Report) Table(w io.Writer) {
	fmt.Fprintf(w, "threshold %.2f: recall %d/%d = %.1f%%, false positives %d/%d = %.2f%%\n\n",
		r.Threshold, r.Recall.Hit, r.Recall.Total, 100*r.Recall.Rate(), r.FalsePos.Hit, r.FalsePos.Total, 100*r.FalsePos.Rate())
	for _, g := range []string{"family", "lang", "source"} {
		fmt.Fprintf(w, "| %s | attacks detected | benign flagged |\n|---|---|---|\n", g)
		keys := map[string]bool{}
		for k := range r.RecallBy {
			keys[k] = true
		}
		for k := range r.FalsePosBy {
			keys[k] = true
		}
		var ks []string
		for k := range keys {
			if strings.HasPrefix(k, g+":") {
				ks = append(ks, k)
			}
		}
		sort.Strings(ks)
		for _, k := range ks {
			cell := func(c Counts) string {
				if c.Total == 0 {
					return "–"
				}
				return fmt.Sprintf("%d/%d (%.1f%%)", c.Hit, c.Total, 100*c.Rate())
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", strings.TrimPrefix(k, g+":"), cell(r.RecallBy[k]), cell(r.FalsePosBy[k]))
		}
		fmt.Fprintln(w)
	}
}

// Languages returns the set of languages in samples.
func Languages(samples []Sample) map[string]bool {
	out := map[string]bool{}
	for _, s := range samples {
		out[s.Lang] = true
	}
	return out
}

// Split returns the samples whose language is in langs, and the others.
func Split(samples []Sample, langs map[string]bool) (in, out []Sample) {
	for _, s := range samples {
		if langs[s.Lang] {
			in = append(in, s)
		} else {
			out = append(out, s)
		}
	}
	return in, out
}

// DevPercent is the share of the held-out set (by a hash of each text)
// used to choose the operating point; the figures are reported on the
// rest.
const DevPercent = 30

// DevTest splits samples into the dev part (DevPercent, chosen by the FNV-1a
// hash of the text, so the split is the same on every machine) and the
// test part.
func DevTest(samples []Sample) (dev, test []Sample) {
	const fnvOffset, fnvPrime = 2166136261, 16777619
	for _, s := range samples {
		h := uint32(fnvOffset)
		for i := 0; i < len(s.Text); i++ {
			h ^= uint32(s.Text[i])
			h *= fnvPrime
		}
		if h%100 < DevPercent {
			dev = append(dev, s)
		} else {
			test = append(test, s)
		}
	}
	return dev, test
}

package ui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
)

// TrainLog is a training metrics file (JSON lines, one object per training
// step) read into one series per numeric field.
type TrainLog struct {
	// Series holds the main curves first (reward_mean, policy_loss, kl,
	// tokens per second), then every other numeric field by name.
	Series []Series
	// Records counts the lines that were JSON objects.
	Records int
	// Skipped counts the other non-empty lines; FirstSkip says why the first
	// of them was skipped. A line cut short while the trainer writes it is
	// normal and lands here.
	Skipped   int
	FirstSkip string
	// Truncated is set when the file was larger than the read limit and
	// only its end was read.
	Truncated bool
}

// Series is one metric over training steps.
type Series struct {
	Name string
	// Main marks reward_mean, policy_loss, kl and tokens per second.
	Main   bool
	Points []Point
}

// Point is one value of a series at a training step.
type Point struct{ Step, Value float64 }

// mainFields are the curves shown first, with the names they may carry:
// the trainer writes tokens_per_second; tokens_per_s is accepted too.
var mainFields = []struct {
	name    string
	aliases []string
}{
	{"reward_mean", []string{"reward_mean"}},
	{"policy_loss", []string{"policy_loss"}},
	{"kl", []string{"kl"}},
	{"tokens_per_s", []string{"tokens_per_s", "tokens_per_second"}},
}

// maxSeries bounds the curves kept from one file.
const maxSeries = 24

// maxTrainBytes bounds how much of a metrics file is read: its last 32 MiB.
const maxTrainBytes = 32 << 20

// ReadTrainLogFile reads the metrics file at path (only its last 32 MiB if
// it is larger).
func ReadTrainLogFile(path string) (*TrainLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("training metrics: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("training metrics: %w", err)
	}
	var r io.Reader = f
	truncated := false
	if st.Mode().IsRegular() && st.Size() > maxTrainBytes {
		if _, err := f.Seek(st.Size()-maxTrainBytes, io.SeekStart); err != nil {
			return nil, fmt.Errorf("training metrics: %w", err)
		}
		truncated = true
		br := bufio.NewReader(f)
		// Drop the partial line where reading started.
		if _, err := br.ReadBytes('\n'); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("training metrics: %w", err)
		}
		r = br
	} else {
		r = io.LimitReader(f, maxTrainBytes)
	}
	log, err := ReadTrainLog(r)
	if err != nil {
		return nil, fmt.Errorf("training metrics %s: %w", path, err)
	}
	log.Truncated = truncated
	return log, nil
}

// ReadTrainLog reads JSON lines of training metrics. Each line is one
// object; its numeric fields become points at x = the "step" field (or the
// record's ordinal when there is none). Fields of nested objects are named
// "outer.inner". Lines that are not JSON objects are counted and skipped;
// only a read failure is an error.
func ReadTrainLog(r io.Reader) (*TrainLog, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	log := &TrainLog{}
	bySeries := map[string]*Series{}
	lineNo := 0
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			log.addLine(lineNo, line, bySeries)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read line %d: %w", lineNo+1, err)
		}
	}
	log.order(bySeries)
	return log, nil
}

func (l *TrainLog) addLine(lineNo int, line []byte, bySeries map[string]*Series) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	skip := func(why string) {
		l.Skipped++
		if l.FirstSkip == "" {
			l.FirstSkip = fmt.Sprintf("line %d: %s", lineNo, why)
		}
	}
	if line[0] != '{' {
		skip("not a JSON object")
		return
	}
	var obj map[string]any
	if err := json.Unmarshal(line, &obj); err != nil {
		skip(err.Error())
		return
	}
	l.Records++
	x := float64(l.Records)
	for k, v := range obj {
		if strings.EqualFold(k, "step") {
			if f, ok := number(v); ok {
				x = f
			}
		}
	}
	fields := map[string]float64{}
	flatten("", obj, 0, fields)
	for name, v := range fields {
		if isField(name, []string{"step"}) {
			continue
		}
		s := bySeries[name]
		if s == nil {
			if len(bySeries) >= maxSeries*4 {
				continue // a file with ever new field names; keep memory bounded
			}
			s = &Series{Name: name}
			bySeries[name] = s
		}
		s.Points = append(s.Points, Point{Step: x, Value: v})
	}
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	if !ok || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// flatten collects the numeric fields of obj, descending two levels into
// nested objects.
func flatten(prefix string, obj map[string]any, depth int, out map[string]float64) {
	for k, v := range obj {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch v := v.(type) {
		case float64:
			if f, ok := number(v); ok {
				out[name] = f
			}
		case map[string]any:
			if depth < 2 {
				flatten(name, v, depth+1, out)
			}
		}
	}
}

// order puts the main curves first (merging their aliases), then the rest
// by name, keeping at most maxSeries.
func (l *TrainLog) order(bySeries map[string]*Series) {
	used := map[string]bool{}
	for _, mf := range mainFields {
		var merged *Series
		for name, s := range bySeries {
			if !isField(name, mf.aliases) {
				continue
			}
			used[name] = true
			if merged == nil {
				merged = &Series{Name: mf.name, Main: true}
			}
			merged.Points = append(merged.Points, s.Points...)
		}
		if merged != nil {
			sort.SliceStable(merged.Points, func(i, j int) bool { return merged.Points[i].Step < merged.Points[j].Step })
			l.Series = append(l.Series, *merged)
		}
	}
	var rest []string
	for name := range bySeries {
		if !used[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		if len(l.Series) >= maxSeries {
			break
		}
		l.Series = append(l.Series, *bySeries[name])
	}
}

// isField reports whether a (possibly dotted) field name ends in one of
// names, so that {"metrics": {"kl": …}} counts as kl.
func isField(name string, names []string) bool {
	last := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		last = name[i+1:]
	}
	for _, n := range names {
		if strings.EqualFold(last, n) {
			return true
		}
	}
	return false
}

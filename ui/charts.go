package ui

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/reagent-go/reagent/trajectory"
)

// Charts are computed here as plain geometry and drawn by the templates as
// inline SVG, so the page needs no script and no outside asset.

// tick is an axis label at a position along the axis.
type tick struct {
	Pos   float64
	Label string
}

// rect is one bar of a chart, with the tooltip shown by the browser.
type rect struct {
	X, Y, W, H float64
	Tip        string
	Label      string
}

// barChart is a vertical bar chart (the score histogram).
type barChart struct {
	W, H         float64
	Left, Bottom float64 // plot area: x from Left, y up to Bottom
	Right, Top   float64
	Bars         []rect
	XTicks       []tick
	YTicks       []tick
	Label        string // accessible description
}

// hbar is one row of a horizontal bar chart.
type hbar struct {
	Y      float64
	Name   string
	Width  float64 // of the filled part
	Text   string
	Tip    string
	Suffix string
}

// hbarChart is a horizontal bar chart of rates (success by suite or strategy).
type hbarChart struct {
	W, H    float64
	BarX    float64
	BarW    float64
	BarH    float64
	Rows    []hbar
	Label   string
	Omitted int
}

// lineChart is one training curve.
type lineChart struct {
	Name         string
	Main         bool
	W, H         float64
	Left, Bottom float64
	Right, Top   float64
	Points       string // SVG polyline points
	Single       *Point // a one-point series is drawn as a dot
	XTicks       []tick
	YTicks       []tick
	Last         string
	N            int
	Label        string
}

const (
	chartW = 420.0
	chartH = 200.0
	// Most points drawn per curve; longer series are thinned evenly.
	maxCurvePoints = 600
	// Most groups in a rate chart.
	maxGroups = 30
)

// histogram draws the scores (in [0,1]) in bins tenths wide.
func histogram(scores []float64, bins int) barChart {
	c := barChart{W: chartW, H: chartH, Left: 44, Right: chartW - 10, Top: 12, Bottom: chartH - 28}
	counts := make([]int, bins)
	for _, s := range scores {
		i := int(s * float64(bins))
		if i >= bins {
			i = bins - 1 // a score of exactly 1 belongs to the last bin
		}
		if i < 0 {
			i = 0
		}
		counts[i]++
	}
	top := 0
	for _, n := range counts {
		top = max(top, n)
	}
	yMax := niceCeil(float64(max(top, 1)))
	pw := c.Right - c.Left
	ph := c.Bottom - c.Top
	bw := pw / float64(bins)
	for i, n := range counts {
		h := ph * float64(n) / yMax
		lo, hi := float64(i)/float64(bins), float64(i+1)/float64(bins)
		closeB := ")"
		if i == bins-1 {
			closeB = "]"
		}
		c.Bars = append(c.Bars, rect{
			X: c.Left + float64(i)*bw + 1, Y: c.Bottom - h, W: bw - 2, H: h,
			Tip:   fmt.Sprintf("score [%s, %s%s: %d run%s", fmtNum(lo), fmtNum(hi), closeB, n, plural(n)),
			Label: labelIf(n),
		})
	}
	for i := 0; i <= 4; i++ {
		v := float64(i) / 4
		c.XTicks = append(c.XTicks, tick{Pos: c.Left + v*pw, Label: fmtNum(v)})
	}
	for _, v := range []float64{0, yMax / 2, yMax} {
		c.YTicks = append(c.YTicks, tick{Pos: c.Bottom - ph*v/yMax, Label: fmtNum(v)})
	}
	c.Label = fmt.Sprintf("Histogram of %d RRM scores in %d bins", len(scores), bins)
	return c
}

func labelIf(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// groupRate counts successes in one group (a suite or a strategy).
type groupRate struct {
	Name      string
	Succeeded int
	Total     int
}

// rateChart draws success rates per group, sorted by name.
func rateChart(what string, groups map[string]*groupRate) hbarChart {
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)
	c := hbarChart{W: chartW, BarX: 130, BarW: chartW - 130 - 90, BarH: 16}
	if len(names) > maxGroups {
		c.Omitted = len(names) - maxGroups
		names = names[:maxGroups]
	}
	for i, n := range names {
		g := groups[n]
		rate := float64(g.Succeeded) / float64(max(g.Total, 1))
		name := n
		if name == "" {
			name = "(none)"
		}
		c.Rows = append(c.Rows, hbar{
			Y:      float64(i)*24 + 6,
			Name:   shorten(name, 18),
			Width:  c.BarW * rate,
			Text:   fmt.Sprintf("%.0f%%", rate*100),
			Suffix: fmt.Sprintf("%d/%d", g.Succeeded, g.Total),
			Tip:    fmt.Sprintf("%s %s: %d of %d runs succeeded (%.1f%%)", what, name, g.Succeeded, g.Total, rate*100),
		})
	}
	c.H = float64(len(c.Rows))*24 + 12
	c.Label = fmt.Sprintf("Success rate by %s for %d groups", what, len(c.Rows))
	return c
}

// curve draws one training series against the step.
func curve(s Series) lineChart {
	c := lineChart{Name: s.Name, Main: s.Main, W: chartW, H: chartH, Left: 56, Right: chartW - 12, Top: 12, Bottom: chartH - 28, N: len(s.Points)}
	pts := thin(s.Points, maxCurvePoints)
	if len(pts) == 0 {
		return c
	}
	xlo, xhi := pts[0].Step, pts[0].Step
	ylo, yhi := pts[0].Value, pts[0].Value
	for _, p := range pts {
		xlo, xhi = math.Min(xlo, p.Step), math.Max(xhi, p.Step)
		ylo, yhi = math.Min(ylo, p.Value), math.Max(yhi, p.Value)
	}
	if xhi == xlo {
		xlo, xhi = xlo-1, xhi+1
	}
	if yhi == ylo {
		d := math.Max(math.Abs(ylo)*0.1, 1e-9)
		ylo, yhi = ylo-d, yhi+d
	}
	pw, ph := c.Right-c.Left, c.Bottom-c.Top
	sx := func(x float64) float64 { return c.Left + (x-xlo)/(xhi-xlo)*pw }
	sy := func(y float64) float64 { return c.Bottom - (y-ylo)/(yhi-ylo)*ph }
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", sx(p.Step), sy(p.Value))
	}
	c.Points = b.String()
	if len(pts) == 1 {
		c.Single = &Point{Step: sx(pts[0].Step), Value: sy(pts[0].Value)}
	}
	c.XTicks = []tick{{Pos: c.Left, Label: fmtNum(xlo)}, {Pos: c.Right, Label: fmtNum(xhi)}}
	c.YTicks = []tick{{Pos: c.Bottom, Label: fmtNum(ylo)}, {Pos: (c.Top + c.Bottom) / 2, Label: fmtNum((ylo + yhi) / 2)}, {Pos: c.Top, Label: fmtNum(yhi)}}
	last := s.Points[len(s.Points)-1]
	c.Last = fmt.Sprintf("%s at step %s", fmtNum(last.Value), fmtNum(last.Step))
	c.Label = fmt.Sprintf("%s over %d training steps, last %s", s.Name, len(s.Points), c.Last)
	return c
}

// thin keeps at most n points, evenly spaced, always keeping the last.
func thin(p []Point, n int) []Point {
	if len(p) <= n {
		return p
	}
	out := make([]Point, 0, n)
	step := float64(len(p)-1) / float64(n-1)
	for i := 0; i < n; i++ {
		out = append(out, p[int(math.Round(float64(i)*step))])
	}
	return out
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// fmtNum prints a number briefly: at most four significant digits.
func fmtNum(v float64) string {
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	if a >= 1e5 || a < 1e-3 {
		return strconv.FormatFloat(v, 'e', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// shorten cuts s to n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// chartStats aggregates the runs of the charts page.
type chartStats struct {
	Total      int
	Scores     []float64
	Unscored   int
	JudgeErr   int
	Succeeded  int
	BySuite    map[string]*groupRate
	ByStrategy map[string]*groupRate
	ByStatus   map[trajectory.Status]int
}

func newChartStats() *chartStats {
	return &chartStats{BySuite: map[string]*groupRate{}, ByStrategy: map[string]*groupRate{}, ByStatus: map[trajectory.Status]int{}}
}

func (c *chartStats) add(t *trajectory.Trajectory, success func(*trajectory.Trajectory) bool) {
	c.Total++
	c.ByStatus[t.Status]++
	if s, ok := lastOKScore(t); ok {
		c.Scores = append(c.Scores, s)
	} else {
		c.Unscored++
		if a, ok := t.LastAssessment(); ok && !a.OK() {
			c.JudgeErr++
		}
	}
	ok := success(t)
	if ok {
		c.Succeeded++
	}
	for _, g := range []struct {
		m   map[string]*groupRate
		key string
	}{{c.BySuite, t.Metadata["suite"]}, {c.ByStrategy, t.Metadata["strategy"]}} {
		r := g.m[g.key]
		if r == nil {
			if len(g.m) >= maxGroups*10 {
				continue // bounded: charts show at most maxGroups anyway
			}
			r = &groupRate{Name: g.key}
			g.m[g.key] = r
		}
		r.Total++
		if ok {
			r.Succeeded++
		}
	}
}

// lastOKScore is the score of the run's last successful assessment, as the
// audit store indexes it for score filters.
func lastOKScore(t *trajectory.Trajectory) (float64, bool) {
	for i := len(t.Assessments) - 1; i >= 0; i-- {
		if a := t.Assessments[i]; a.OK() && !math.IsNaN(a.Score) {
			return a.Score, true
		}
	}
	return 0, false
}

// Succeeded is the default success rule of the charts: the metadata value
// "success" or "correct" when it is a boolean; else the rule reward (the
// typed Training.RuleReward, or the metadata "rule_reward", else "reward",
// of runs stored before it) when it is a number, succeeding at 0.5 or
// more; else whether the run finished.
func Succeeded(t *trajectory.Trajectory) bool {
	for _, k := range []string{"success", "correct"} {
		if b, err := strconv.ParseBool(strings.TrimSpace(t.Metadata[k])); err == nil {
			return b
		}
	}
	if t.Training != nil {
		return t.Training.RuleReward >= 0.5
	}
	for _, k := range []string{"rule_reward", "reward"} {
		if v, err := strconv.ParseFloat(strings.TrimSpace(t.Metadata[k]), 64); err == nil && !math.IsNaN(v) {
			return v >= 0.5
		}
	}
	return t.Status == trajectory.StatusFinished
}

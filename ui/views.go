package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/reagent-go/reagent/trajectory"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageNames are the page templates; each is parsed with the layout and the
// chart partials.
var pageNames = []string{"list", "run", "charts", "chain", "error", "approvals"}

// parsePages parses the pages; approvals says whether the layout links to
// the approvals page.
func parsePages(approvals bool) (map[string]*template.Template, error) {
	fm := funcs()
	fm["approvalsOn"] = func() bool { return approvals }
	base, err := template.New("layout").Funcs(fm).ParseFS(templateFS, "templates/layout.html", "templates/svg.html")
	if err != nil {
		return nil, fmt.Errorf("ui: templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("ui: templates: %w", err)
		}
		if _, err := t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

func funcs() template.FuncMap {
	return template.FuncMap{
		"time":      fmtTime,
		"dur":       fmtDur,
		"score":     fmtScore,
		"num":       fmtNum,
		"runURL":    runURL,
		"decideURL": func(id string) string { return "/approvals/" + url.PathEscape(id) },
		"short":     shorten,
		"pretty":    prettyJSON,
		"local":     localInput,
		"scoreVal":  scoreInput,
		"pct": func(n, d int) string {
			if d == 0 {
				return "–"
			}
			return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(d))
		},
		"sel":  func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) },
		"add":  func(a, b float64) float64 { return a + b },
		"sub":  func(a, b float64) float64 { return a - b },
		"half": func(a float64) float64 { return a / 2 },
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// fmtScore prints a score pointer, or a dash when there is none.
func fmtScore(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", *p)
}

func runURL(id string) string { return "/runs/" + url.PathEscape(id) }

// localInput formats a time bound for an HTML datetime-local field (UTC).
func localInput(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return t.UTC().Format("2006-01-02T15:04:05")
	}
	return t.UTC().Format("2006-01-02T15:04")
}

func scoreInput(p *float64) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}

// prettyJSON indents s when it is a JSON object or array (tool inputs
// usually are) and returns it unchanged otherwise.
func prettyJSON(s string) string {
	t := strings.TrimSpace(s)
	if len(t) < 2 || (t[0] != '{' && t[0] != '[') || len(t) > 1<<20 {
		return s
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(t), "", "  "); err != nil {
		return s
	}
	return b.String()
}

// runRow is one line of the run list.
type runRow struct {
	ID, Task, Agent string
	Status          trajectory.Status
	Started         time.Time
	Duration        time.Duration
	Steps, Calls    int
	Blocked         int
	Score           *float64
	JudgeError      bool
	Suite           string
	Strategy        string
	Round           int
}

func rowOf(t *trajectory.Trajectory) runRow {
	r := runRow{ID: t.ID, Task: t.Task, Agent: t.Agent, Status: t.Status, Started: t.StartedAt,
		Steps: len(t.Steps), Suite: t.Metadata["suite"], Strategy: t.Metadata["strategy"], Round: t.Round}
	if !t.EndedAt.IsZero() {
		r.Duration = t.EndedAt.Sub(t.StartedAt)
	}
	for _, c := range t.ToolCalls() {
		r.Calls++
		if c.Blocked {
			r.Blocked++
		}
	}
	if s, ok := lastOKScore(t); ok {
		r.Score = &s
	} else if a, ok := t.LastAssessment(); ok && !a.OK() {
		r.JudgeError = true
	}
	return r
}

// runView is the run page.
type runView struct {
	pageBase
	T          *trajectory.Trajectory
	Duration   time.Duration
	Score      *float64
	Meta       []kv
	Inputs     []kv
	Steps      []stepView
	Unattached []trajectory.Decision
	Blocked    int
	Errors     int
	Blocks     int
	Escalated  int
}

type kv struct{ K, V string }

type stepView struct {
	trajectory.Step
	Calls     []callView
	Decisions []trajectory.Decision // decisions of this step not tied to one call
}

type callView struct {
	trajectory.ToolCall
	Decisions []trajectory.Decision
}

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

// runViewOf places every guard decision next to the tool call it judged
// (by call id, or by step and tool name when that is unambiguous), next to
// its step otherwise; decisions that name no known step are listed apart.
// The page also lists every decision in one table.
func runViewOf(t *trajectory.Trajectory) runView {
	v := runView{pageBase: pageBase{Title: "Run " + shorten(t.ID, 40), Active: "runs"}, T: t,
		Meta: sortedKV(t.Metadata), Inputs: sortedKV(t.Inputs)}
	if !t.EndedAt.IsZero() {
		v.Duration = t.EndedAt.Sub(t.StartedAt)
	}
	if s, ok := lastOKScore(t); ok {
		v.Score = &s
	}
	stepAt := map[int]int{}
	for i, s := range t.Steps {
		sv := stepView{Step: s}
		for _, c := range s.Calls {
			sv.Calls = append(sv.Calls, callView{ToolCall: c})
			if c.Blocked {
				v.Blocked++
			}
			if c.Error != "" || c.Panicked || c.UnknownTool {
				v.Errors++
			}
		}
		v.Steps = append(v.Steps, sv)
		stepAt[s.Index] = i
	}
	for _, d := range t.Decisions {
		switch d.Verdict {
		case trajectory.Block:
			v.Blocks++
		case trajectory.Escalate:
			v.Escalated++
		}
		i, ok := stepAt[d.Step]
		if !ok {
			v.Unattached = append(v.Unattached, d)
			continue
		}
		sv := &v.Steps[i]
		if j := matchCall(sv.Calls, d); j >= 0 {
			sv.Calls[j].Decisions = append(sv.Calls[j].Decisions, d)
		} else {
			sv.Decisions = append(sv.Decisions, d)
		}
	}
	return v
}

func matchCall(calls []callView, d trajectory.Decision) int {
	if d.CallID != "" {
		for j, c := range calls {
			if c.ID == d.CallID {
				return j
			}
		}
	}
	if d.Tool == "" || d.Event == trajectory.EventFinalAnswer {
		return -1
	}
	found := -1
	for j, c := range calls {
		if c.Tool == d.Tool && (d.CallID == "" || c.ID == "") {
			if found >= 0 {
				return -1 // two calls of the tool in one step: ambiguous
			}
			found = j
		}
	}
	return found
}

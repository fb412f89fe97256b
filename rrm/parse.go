package rrm

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/reagent-go/reagent/trajectory"
)

// Parse errors. Parse wraps them with details; test with errors.Is.
var (
	// ErrNoScore means the reply has no <score> tag.
	ErrNoScore = errors.New("rrm: reply has no <score> tag")
	// ErrBadScore means the <score> tag holds no readable number, or more
	// than one.
	ErrBadScore = errors.New("rrm: score is not a readable number")
	// ErrScoreRange means the score lies outside [0,1] by more than rounding.
	ErrScoreRange = errors.New("rrm: score outside [0,1]")
)

// scoreSlack is how far outside [0,1] a score may lie and still be read as
// the boundary: enough for float printing noise (1.0000001), not for intent.
const scoreSlack = 1e-6

// Parse reads an Agent-RRM reply, <think>…</think><critique>…</critique>
// <score>S</score>, into an assessment with Status ok and Think, Critique,
// Score, Notes and Raw filled. The other fields are left to the judge.
//
// Parse is tolerant of what models emit and records every repair in Notes:
// a missing <think> or <critique>, tags in another order or case, text or
// code fences around the tags, an unclosed tag (its text runs to the next
// tag or the end), several <think> or <critique> blocks (joined), several
// <score> tags (the last one counts), scores written as 0.7/1, 7/10 or 70%.
// A <think> block runs to its own </think>, so reasoning may quote tags.
//
// It is strict about the score: no <score> tag, a score that is not a single
// readable number, or one outside [0,1] is an error. Only a score within
// 1e-6 of the range (1.0000001, -0.0) is clamped, with a note.
func Parse(raw string) (trajectory.Assessment, error) {
	a := trajectory.Assessment{Status: trajectory.AssessmentOK, Raw: raw}
	toks := scanTags(raw)
	var (
		thinks, critiques, scores []string
		notes                     []string
		order                     []string
	)
	outside := 0 // bytes of non-space text outside every tag
	last := 0    // end of the last consumed region
	countOutside := func(from, to int) {
		if from < to {
			outside += len(strings.TrimSpace(stripFences(raw[from:to])))
		}
	}
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		if tk.close {
			// A close tag with no opening one: the text since the previous
			// tag is its content ("…</think>" from chat templates that put
			// <think> in the prompt).
			content := raw[last:tk.start]
			notes = append(notes, fmt.Sprintf("missing <%s>: took the text before </%s>", tk.name, tk.name))
			thinks, critiques, scores = collect(tk.name, content, thinks, critiques, scores)
			order = append(order, tk.name)
			last = tk.end
			continue
		}
		countOutside(last, tk.start)
		end, next := -1, len(toks)
		if tk.name == "think" {
			// Reasoning may quote other tags: run to our own close tag.
			for j := i + 1; j < len(toks); j++ {
				if toks[j].close && toks[j].name == "think" {
					end, next = j, j+1
					break
				}
			}
		}
		if end < 0 && i+1 < len(toks) {
			if n := toks[i+1]; n.close && n.name == tk.name {
				end, next = i+1, i+2
			}
		}
		var content string
		if end >= 0 {
			content = raw[tk.end:toks[end].start]
			last = toks[end].end
		} else {
			// Unclosed: take the text to the next tag (which is read on
			// its own) or to the end.
			stop := len(raw)
			if i+1 < len(toks) {
				stop = toks[i+1].start
			}
			content = raw[tk.end:stop]
			last = stop
			next = i + 1
			notes = append(notes, fmt.Sprintf("unclosed <%s>: took the text to the next tag or the end", tk.name))
			if i+1 < len(toks) && toks[i+1].close {
				// The stray close tag of another kind is consumed too.
				last = toks[i+1].end
				next = i + 2
			}
		}
		thinks, critiques, scores = collect(tk.name, content, thinks, critiques, scores)
		order = append(order, tk.name)
		i = next - 1
	}
	countOutside(last, len(raw))

	if len(scores) == 0 {
		if len(toks) == 0 {
			return a, fmt.Errorf("%w: no Agent-RRM tags at all (want <think>…</think><critique>…</critique><score>S</score>)", ErrNoScore)
		}
		return a, ErrNoScore
	}
	if len(scores) > 1 {
		notes = append(notes, fmt.Sprintf("%d <score> tags: used the last one", len(scores)))
	}
	score, snotes, err := parseScore(scores[len(scores)-1])
	if err != nil {
		return a, err
	}
	notes = append(notes, snotes...)

	if len(thinks) == 0 {
		notes = append(notes, "no <think> block")
	} else if len(thinks) > 1 {
		notes = append(notes, fmt.Sprintf("%d <think> blocks: joined", len(thinks)))
	}
	if len(critiques) == 0 {
		notes = append(notes, "no <critique> block")
	} else if len(critiques) > 1 {
		notes = append(notes, fmt.Sprintf("%d <critique> blocks: joined", len(critiques)))
	}
	if !inOrder(order) {
		notes = append(notes, "tags out of order: "+strings.Join(order, ", "))
	}
	if outside > 0 {
		notes = append(notes, fmt.Sprintf("ignored %d bytes of text outside the tags", outside))
	}
	a.Think = joinBlocks(thinks, &notes, "think")
	a.Critique = joinBlocks(critiques, &notes, "critique")
	a.Score = score
	a.Notes = notes
	return a, nil
}

// Format writes a well-formed Agent-RRM reply. Parse(Format(t, c, s)) gives
// back the trimmed t and c, and s, with no notes, when t and c hold no tags.
func Format(think, critique string, score float64) string {
	var b strings.Builder
	b.Grow(len(think) + len(critique) + 64)
	b.WriteString("<think>\n")
	b.WriteString(strings.TrimSpace(think))
	b.WriteString("\n</think>\n<critique>\n")
	b.WriteString(strings.TrimSpace(critique))
	b.WriteString("\n</critique>\n<score>")
	b.WriteString(strconv.FormatFloat(score, 'g', -1, 64))
	b.WriteString("</score>")
	return b.String()
}

func collect(name, content string, thinks, critiques, scores []string) ([]string, []string, []string) {
	switch name {
	case "think":
		thinks = append(thinks, content)
	case "critique":
		critiques = append(critiques, content)
	case "score":
		scores = append(scores, content)
	}
	return thinks, critiques, scores
}

func joinBlocks(blocks []string, notes *[]string, name string) string {
	parts := make([]string, 0, len(blocks))
	fenced := false
	for _, b := range blocks {
		s := strings.TrimSpace(b)
		if t := stripFences(s); t != s {
			fenced = true
			s = strings.TrimSpace(t)
		}
		if s != "" {
			parts = append(parts, s)
		}
	}
	if fenced {
		*notes = append(*notes, "removed code fences inside <"+name+">")
	}
	return strings.Join(parts, "\n\n")
}

func inOrder(order []string) bool {
	rank := map[string]int{"think": 0, "critique": 1, "score": 2}
	prev := -1
	for _, n := range order {
		r := rank[n]
		if r < prev {
			return false
		}
		prev = r
	}
	return true
}

// tag is one Agent-RRM tag found in a reply: [start,end) covers "<…>".
type tag struct {
	name       string
	close      bool
	start, end int
}

// scanTags finds <think>, <critique>, <score> (and their close tags) in any
// case, allowing spaces inside the brackets; "<thinking>" counts as think.
func scanTags(s string) []tag {
	var out []tag
	for i := 0; i < len(s); i++ {
		if s[i] != '<' {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] == ' ' {
			j++
		}
		closing := false
		if j < len(s) && s[j] == '/' {
			closing = true
			j++
			for j < len(s) && s[j] == ' ' {
				j++
			}
		}
		k := j
		for k < len(s) && k-j < 16 && isLetter(s[k]) {
			k++
		}
		name := canonicalTag(s[j:k])
		if name == "" {
			continue
		}
		m := k
		for m < len(s) && s[m] == ' ' {
			m++
		}
		if m >= len(s) || s[m] != '>' {
			continue
		}
		out = append(out, tag{name: name, close: closing, start: i, end: m + 1})
		i = m
	}
	return out
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func canonicalTag(w string) string {
	switch strings.ToLower(w) {
	case "think", "thinking":
		return "think"
	case "critique":
		return "critique"
	case "score":
		return "score"
	}
	return ""
}

// stripFences removes Markdown code-fence lines (``` or ```lang) from s.
func stripFences(s string) string {
	if !strings.Contains(s, "```") {
		return s
	}
	lines := strings.Split(s, "\n")
	kept := lines[:0]
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") && !strings.Contains(t[3:], "`") && !strings.ContainsAny(t[3:], " \t") {
			continue
		}
		kept = append(kept, l)
	}
	return strings.Join(kept, "\n")
}

// parseScore reads the content of a <score> tag: one number, optionally as a
// fraction (7/10) or percentage (70%), with decoration (Markdown, quotes,
// "Score:") and words without digits around it.
func parseScore(content string) (float64, []string, error) {
	var notes []string
	s := strings.TrimSpace(content)
	if s == "" {
		return 0, nil, fmt.Errorf("%w: empty <score>", ErrBadScore)
	}
	num, rest, ok := findScoreExpr(s)
	if !ok {
		return 0, nil, fmt.Errorf("%w: %q", ErrBadScore, clip(s, 80))
	}
	if strings.ContainsAny(rest, "0123456789") {
		return 0, nil, fmt.Errorf("%w: more than one number in %q", ErrBadScore, clip(s, 80))
	}
	if strings.TrimFunc(rest, isDecoration) != "" {
		notes = append(notes, fmt.Sprintf("ignored text around the score in %q", clip(s, 80)))
	}
	v, err := strconv.ParseFloat(num.value, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, nil, fmt.Errorf("%w: %q", ErrBadScore, num.value)
	}
	switch {
	case num.percent:
		v /= 100
		notes = append(notes, fmt.Sprintf("read %s%% as %s", num.value, fmtScore(v)))
	case num.denom != "":
		d, err := strconv.ParseFloat(num.denom, 64)
		if err != nil || d <= 0 || math.IsInf(d, 0) {
			return 0, nil, fmt.Errorf("%w: bad denominator in %q", ErrBadScore, clip(s, 80))
		}
		if v < 0 {
			return 0, nil, fmt.Errorf("%w: %s/%s", ErrScoreRange, num.value, num.denom)
		}
		v /= d
		if d != 1 {
			notes = append(notes, fmt.Sprintf("read %s/%s as %s", num.value, num.denom, fmtScore(v)))
		}
	}
	switch {
	case v > 1+scoreSlack || v < -scoreSlack:
		return 0, nil, fmt.Errorf("%w: %s", ErrScoreRange, clip(s, 80))
	case v > 1:
		notes = append(notes, fmt.Sprintf("clamped score %s to 1", fmtScore(v)))
		v = 1
	case v < 0 || (v == 0 && math.Signbit(v)):
		notes = append(notes, fmt.Sprintf("clamped score %s to 0", num.value))
		v = 0
	}
	return v, notes, nil
}

type scoreExpr struct {
	value   string // the (signed) number
	denom   string // set for "a/b"
	percent bool   // set for "a%"
}

// findScoreExpr finds the first number in s with an optional "/b" or "%",
// and returns the text left around it.
func findScoreExpr(s string) (scoreExpr, string, bool) {
	for i := 0; i < len(s); i++ {
		n := numberAt(s, i)
		if n == 0 {
			continue
		}
		start := i
		if start > 0 && (s[start-1] == '-' || s[start-1] == '+') {
			start--
		}
		e := scoreExpr{value: s[start : i+n]}
		j := i + n
		k := skipSpaces(s, j)
		if k < len(s) && s[k] == '%' {
			e.percent = true
			j = k + 1
		} else if k < len(s) && s[k] == '/' {
			m := skipSpaces(s, k+1)
			if d := numberAt(s, m); d > 0 {
				e.denom = s[m : m+d]
				j = m + d
			}
		} else if k+6 <= len(s) && strings.EqualFold(s[k:k+6], "out of") {
			m := skipSpaces(s, k+6)
			if d := numberAt(s, m); d > 0 {
				e.denom = s[m : m+d]
				j = m + d
			}
		}
		return e, s[:start] + " " + s[j:], true
	}
	return scoreExpr{}, "", false
}

// numberAt returns the length of the unsigned decimal number (with optional
// fraction and exponent) starting at s[i], or 0.
func numberAt(s string, i int) int {
	j := i
	digits := 0
	for j < len(s) && isDigit(s[j]) {
		j++
		digits++
	}
	if j < len(s) && s[j] == '.' {
		k := j + 1
		fd := 0
		for k < len(s) && isDigit(s[k]) {
			k++
			fd++
		}
		if digits > 0 || fd > 0 {
			j = k
			digits += fd
		}
	}
	if digits == 0 {
		return 0
	}
	if i > 0 && (isDigit(s[i-1]) || s[i-1] == '.') {
		return 0 // inside another number
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		ed := 0
		for k < len(s) && isDigit(s[k]) {
			k++
			ed++
		}
		if ed > 0 {
			j = k
		}
	}
	return j - i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// isDecoration reports characters that carry no meaning around a score:
// spaces, Markdown emphasis, quotes, brackets and punctuation.
func isDecoration(r rune) bool {
	return strings.ContainsRune(" \t\r\n*_`'\"()[]{}.,:;=~", r)
}

func fmtScore(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncateUTF8(s, n) + "…"
}

// truncateUTF8 returns at most n bytes of s without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

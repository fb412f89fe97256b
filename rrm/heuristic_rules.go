package rrm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/reagent-go/reagent/trajectory"
)

// callInfo is one tool call of the judged run with its observation read.
type callInfo struct {
	c       *trajectory.ToolCall
	obs     observation
	ok      bool // neither failed, blocked nor a call to an unknown tool
	unknown bool
}

// idFinding is the first call whose id the run had from nowhere, with what
// the judge suggests instead.
type idFinding struct {
	call      *trajectory.ToolCall
	obs       *observation
	value     string // the id as passed
	suggest   string // the id or name to pass instead ("" when none is clear)
	basis     string // where the suggestion comes from, for the critique
	checked   int    // ids checked in the run
	recovered int    // ungrounded ids followed by a good call to the same tool
}

// advice is what the critique tells the agent to do about the finding.
func (f *idFinding) advice() string {
	if f.suggest == "" {
		return "pass only an id that the task or an earlier observation gives, exactly as written there."
	}
	return f.basis + ", so call " + strings.TrimSpace(f.call.Tool) + " with exactly " + idInput(f.call.Input, f.suggest) + ", then answer from its observation."
}

// failure says what the call got when it failed: "" or " and got …".
func (f *idFinding) failure() string {
	if f.obs == nil || f.obs.status < 400 {
		return ""
	}
	why := f.obs.statusLine
	if f.obs.errMsg != "" {
		why += ": " + f.obs.errMsg
	}
	return ", and got " + strconv.Quote(clip(oneLine(why), 80))
}

// suggestion is the think text's note on the suggested id.
func (f *idFinding) suggestion() string {
	if f.suggest == "" {
		return "; no id to suggest"
	}
	return "; " + f.basis
}

// recoveredNote notes ungrounded ids that a later call set right.
func recoveredNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d made up, then set right by a later successful call)", n)
}

// idInput writes the call's input with its id replaced: the input is a
// JSON object; the first id field gets the suggestion.
func idInput(input, id string) string {
	var m map[string]any
	if json.Unmarshal([]byte(input), &m) != nil {
		return strconv.Quote(id)
	}
	if k, _ := idField(m); k != "" {
		m[k] = id
	}
	b, err := json.Marshal(m)
	if err != nil {
		return strconv.Quote(id)
	}
	return string(b)
}

// idField returns the first (by name) string field of a call's input that
// holds an id: "id" or a name ending in "_id".
func idField(m map[string]any) (key, value string) {
	for k, v := range m {
		s, ok := v.(string)
		lk := strings.ToLower(k)
		if !ok || (lk != "id" && !strings.HasSuffix(lk, "_id")) {
			continue
		}
		if key == "" || k < key {
			key, value = k, s
		}
	}
	return key, value
}

// ungroundedIDs applies the id rule: every call (to a known tool, not
// blocked) whose JSON input passes an id must have it from the task, the
// run's inputs or an earlier successful observation, folded as slugs
// ("Ada Falk" = ada-falk). A made-up id is forgiven when a later call to the
// same tool with a grounded id succeeded.
func ungroundedIDs(t *trajectory.Trajectory, infos []callInfo) idFinding {
	var f idFinding
	task := t.Task
	for _, v := range t.Inputs {
		task += "\n" + v
	}
	taskSlug := "" // made when an id is first checked
	// Slugs of the successful observations' text, made when an id is
	// first checked against them.
	seen := make([]string, len(infos))
	seenDone := make([]bool, len(infos))
	seenAt := func(j int) string {
		if !seenDone[j] {
			seen[j], seenDone[j] = slug(observedText(infos[j].obs.body)), true
		}
		return seen[j]
	}
	type bad struct {
		i    int
		tool string
	}
	var open []bad // made-up ids not yet set right
	for i := range infos {
		in := &infos[i]
		c := in.c
		if c.Blocked || in.unknown {
			continue
		}
		var m map[string]any
		var v string
		if strings.HasPrefix(strings.TrimSpace(c.Input), "{") && json.Unmarshal([]byte(c.Input), &m) == nil {
			_, v = idField(m)
		}
		if sv := slug(v); sv != "" {
			f.checked++
			if taskSlug == "" {
				taskSlug = slug(task)
			}
			grounded := containsSlug(taskSlug, sv)
			for j := 0; j < i && !grounded; j++ {
				grounded = infos[j].ok && containsSlug(seenAt(j), sv)
			}
			tool := strings.ToLower(strings.TrimSpace(c.Tool))
			if !grounded {
				open = append(open, bad{i, tool})
			} else if in.ok {
				kept := open[:0]
				for _, b := range open {
					if b.tool == tool && b.i < i {
						f.recovered++
						continue
					}
					kept = append(kept, b)
				}
				open = kept
			}
		}
	}
	if len(open) == 0 {
		return f
	}
	first := open[0].i
	in := &infos[first]
	var m map[string]any
	_ = json.Unmarshal([]byte(in.c.Input), &m)
	_, f.value = idField(m)
	f.call, f.obs = in.c, &in.obs
	// The suggestion: the id the last successful observation before the
	// call gave for this tool, else the task's name closest to the one used.
	for j := first - 1; j >= 0; j-- {
		p := &infos[j]
		if !p.ok || len(p.obs.fields) == 0 {
			continue
		}
		if key, id := mappedID(in.c.Tool, &p.obs, t.Tools, t.Task, slug(f.value)); id != "" {
			f.suggest = id
			f.basis = describeCall(p.c) + " gave the " + key + " id " + id
		}
		break
	}
	if f.suggest == "" {
		if name := closestTaskName(t.Task, slug(f.value)); name != "" {
			f.suggest = name
			f.basis = "the task names " + name
		}
	}
	return f
}

// observedText is what an observation offers as ids: the string values of
// a JSON body (keys are not ids), or else the text itself.
func observedText(body string) string {
	b := strings.TrimSpace(body)
	if !strings.HasPrefix(b, "{") && !strings.HasPrefix(b, "[") {
		return body
	}
	var v any
	if json.Unmarshal([]byte(b), &v) != nil {
		return body
	}
	var sb strings.Builder
	var walk func(any, int)
	walk = func(v any, depth int) {
		if depth > 32 {
			return
		}
		switch x := v.(type) {
		case string:
			sb.WriteString(x)
			sb.WriteByte('\n')
		case float64:
			sb.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
			sb.WriteByte('\n')
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		case map[string]any:
			for _, e := range x {
				walk(e, depth+1)
			}
		}
	}
	walk(v, 0)
	return sb.String()
}

// toolNouns splits a tool name into its words ("get_city": get, city).
func toolNouns(tool string) []string {
	return strings.FieldsFunc(strings.ToLower(tool), func(r rune) bool { return r == '_' || r == '-' || r == '.' || r == ' ' })
}

// keyNames reports whether a field key names what a tool looks up: a word
// of the tool's name is the key, singular or plural (city, cities).
func keyNames(key string, nouns []string) bool {
	for _, n := range nouns {
		if n == key || n == key+"s" || key == n+"s" || strings.TrimSuffix(n, "ies")+"y" == key {
			return true
		}
	}
	return false
}

// mappedID picks the reference of an observation that a call to tool
// should have used: the one whose key the tool's name names ("city" for
// get_city); else, among references no other tool's name names, the only
// one, the one the task names, or the one closest to the id used.
func mappedID(tool string, o *observation, tools []trajectory.ToolSpec, task, used string) (key, id string) {
	nouns := toolNouns(tool)
	var cands []field
	for _, f := range o.fields {
		if !f.id || f.key == "id" {
			continue
		}
		if keyNames(f.key, nouns) {
			return f.key, f.value
		}
		other := false
		for _, s := range tools {
			if !strings.EqualFold(s.Name, tool) && keyNames(f.key, toolNouns(s.Name)) {
				other = true
				break
			}
		}
		if !other && f.value != o.ownID {
			cands = append(cands, f)
		}
	}
	switch len(cands) {
	case 0:
		return "", ""
	case 1:
		return cands[0].key, cands[0].value
	}
	var named []field
	lt := strings.ToLower(task)
	for _, c := range cands {
		if containsWord(lt, c.key) {
			named = append(named, c)
		}
	}
	if len(named) == 1 {
		return named[0].key, named[0].value
	}
	best, bd := cands[0], -1
	for _, c := range cands {
		if d := editDistance(clip(slug(c.value), 64), clip(used, 64)); bd < 0 || d < bd {
			best, bd = c, d
		}
	}
	return best.key, best.value
}

// taskNames returns the names a task states: runs of capitalised words
// that are not question or common words ("Ada Falk", "Duneline").
func taskNames(task string) []string {
	var out, run []string
	flush := func() {
		if len(run) > 0 {
			out = append(out, strings.Join(run, " "))
			run = run[:0]
		}
	}
	for _, w := range strings.FieldsFunc(task, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '\'' || r >= 0x80)
	}) {
		if w[0] >= 'A' && w[0] <= 'Z' && len(w) >= 2 && !commonWord(w) && !stopWord(w) {
			run = append(run, w)
			continue
		}
		flush()
	}
	flush()
	return out
}

// stopWord lists short capitalised words that start questions.
func stopWord(w string) bool {
	switch strings.ToLower(w) {
	case "in", "is", "of", "on", "at", "to", "a", "an", "do", "does", "did", "was", "were", "are", "can", "how",
		"many", "much", "whose", "whom", "give", "tell", "name", "list", "please", "find", "look", "show":
		return true
	}
	return false
}

// closestTaskName returns the task's name whose slug is closest to used
// (the only name when there is one); "" when the task names none.
func closestTaskName(task, used string) string {
	best, bd := "", -1
	for _, n := range taskNames(task) {
		if d := editDistance(clip(slug(n), 64), clip(used, 64)); bd < 0 || d < bd {
			best, bd = n, d
		}
	}
	return best
}

// bareAnswer returns the answer without a final "." when it is bare: at
// most four words, one line, no sentence inside ("Tartu", "Leo Sato").
func bareAnswer(answer string) (string, bool) {
	a := strings.TrimSpace(answer)
	a = strings.TrimSpace(strings.TrimRight(a, ".!"))
	if a == "" || len(a) > 60 || strings.ContainsAny(a, "\n.!?:;") || len(strings.Fields(a)) > 4 {
		return a, false
	}
	return a, true
}

// containsWord reports whether w occurs in s as a whole word: neither
// neighbour is an ASCII letter or digit.
func containsWord(s, w string) bool {
	return containsBounded(s, w, func(c byte) bool { return !isWordByte(c) })
}

// containsBounded reports whether w occurs in s with each neighbour either
// the end of s or a byte that bound accepts.
func containsBounded(s, w string, bound func(byte) bool) bool {
	if w == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		if (j == 0 || bound(s[j-1])) && (end == len(s) || bound(s[end])) {
			return true
		}
		i = j + 1
	}
}

func isWordByte(c byte) bool { return isLetter(c) || isDigit(c) }

// asked is the field of an observation the task names, with its value:
// what the critique can point the agent to. A hop is a field the task goes
// through to another record ("the employer of Gia Sato"): its value is not
// the answer, its record is where the answer is.
type asked struct {
	call  *trajectory.ToolCall
	key   string
	value string
	id    string // a hop's reference id
	hop   bool
}

// hint is the critique's pointer to the asked field: "",
// "; get_city({…}) gives the country: France" or, for a hop not yet
// looked up, "; the task goes through the employer Fjordtek (id fjordtek):
// look that record up and answer from it".
func (a asked) hint() string {
	switch {
	case a.call == nil:
		return ""
	case a.hop:
		return "; the task goes through the " + a.key + " " + a.value + a.idNote() + ": look that record up and answer from it"
	}
	return "; " + describeCall(a.call) + " gives the " + a.key + ": " + a.value
}

func (a asked) idNote() string {
	if a.id == "" || a.id == a.value {
		return ""
	}
	return " (id " + a.id + ")"
}

// skipKey lists fields that identify a record rather than describe it.
func skipKey(k string) bool {
	switch k {
	case "id", "name", "title", "url", "type", "error", "status":
		return true
	}
	return false
}

// taskHead returns the thing a question asks for: the word after "which"
// or "what" ("which country"), or after "who/what is the" ("who is the
// CEO"); "" when there is none.
func taskHead(lt string) string {
	words := strings.FieldsFunc(lt, func(r rune) bool { return !(r >= 'a' && r <= 'z') })
	for i := 0; i+1 < len(words); i++ {
		if words[i] != "which" && words[i] != "what" && words[i] != "who" {
			continue
		}
		next := words[i+1]
		if (next == "is" || next == "was" || next == "are") && i+3 < len(words) && words[i+2] == "the" {
			return words[i+3]
		}
		if words[i] != "who" && !auxWord(next) {
			return next
		}
	}
	return ""
}

func auxWord(w string) bool {
	switch w {
	case "is", "are", "was", "were", "does", "do", "did", "has", "have", "had", "can", "will", "would", "should":
		return true
	}
	return false
}

// taskKeys returns the fields of an observation the task names, split
// into direct ones (what it asks of the record) and hops (a field it goes
// through: "the employer of …", "the city where …", not the question's
// head: "Who is the CEO of Kestrel" asks for the CEO).
func taskKeys(lt, head string, o *observation) (direct, hops []*field) {
	for k := range o.fields {
		f := &o.fields[k]
		if f.id || skipKey(f.key) || !containsWord(lt, f.key) {
			continue
		}
		if f.key != head && (containsWord(lt, f.key+" of") || containsWord(lt, f.key+" where") || containsWord(lt, f.key+"'s")) {
			hops = append(hops, f)
			continue
		}
		direct = append(direct, f)
	}
	return direct, hops
}

// refID returns the id of the reference under key in o ("" when none).
func refID(o *observation, key string) string {
	for _, f := range o.fields {
		if f.id && f.key == key {
			return f.value
		}
	}
	return ""
}

// lookedUp reports whether a successful call after index i passed id.
func lookedUp(infos []callInfo, i int, id string) bool {
	sid := slug(id)
	for j := i + 1; j < len(infos) && sid != ""; j++ {
		if !infos[j].ok {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(infos[j].c.Input), &m) == nil {
			if _, v := idField(m); slug(v) == sid {
				return true
			}
		}
	}
	return false
}

// askedField returns what the task asks of the latest successful
// observation that has a field the task names: a hop not yet looked up,
// or else a direct field (an observation with a hop says nothing directly:
// its record is not the one asked about).
func askedField(task string, infos []callInfo) asked {
	lt := strings.ToLower(task)
	head := taskHead(lt)
	for i := len(infos) - 1; i >= 0; i-- {
		in := &infos[i]
		if !in.ok || len(in.obs.fields) == 0 {
			continue
		}
		direct, hops := taskKeys(lt, head, &in.obs)
		if len(hops) > 0 {
			h := hops[0]
			id := refID(&in.obs, h.key)
			if lookedUp(infos, i, id) {
				continue
			}
			return asked{call: in.c, key: h.key, value: h.value, id: id, hop: true}
		}
		if len(direct) > 0 {
			return asked{call: in.c, key: direct[0].key, value: direct[0].value}
		}
	}
	return asked{}
}

// fieldFinding is an answer copied from a field other than the one the
// task names, or from a record the task only goes through, or a thing of
// another kind than the one the task asks for.
type fieldFinding struct {
	call *trajectory.ToolCall
	got  string // the field the answer is
	want asked  // what the task asks of that observation
	kind bool   // want.key is the kind the task asks for ("company")
}

// namesOtherTool reports whether the task's head and the answer's field
// name the things of two different tools (get_company, get_city).
func namesOtherTool(head, got string, tools []trajectory.ToolSpec) bool {
	headTool, gotTool := -1, -1
	for i, s := range tools {
		nouns := toolNouns(s.Name)
		if headTool < 0 && keyNames(head, nouns) {
			headTool = i
		}
		if gotTool < 0 && keyNames(got, nouns) {
			gotTool = i
		}
	}
	return headTool >= 0 && gotTool >= 0 && headTool != gotTool
}

// advice is the critique for the finding.
func (f fieldFinding) advice(answer string) string {
	s := "Your answer " + answer + " is the " + f.got + " in the observation of " + describeCall(f.call) + ", but the task "
	if f.kind {
		return s + "asks which " + f.want.key + ": answer with the " + f.want.key + " an observation gives."
	}
	if f.want.hop {
		return s + "goes through the " + f.want.key + " " + f.want.value + f.want.idNote() + ": look that record up and answer from it."
	}
	return s + "asks about the " + f.want.key + " (" + f.want.value + "): answer from the field the task asks about."
}

// answerField applies the answer-field rule to a bare answer, latest
// observation first: an observation that has the answer under a field the
// task asks about directly clears it; one that has it under another field
// while the task asks about a different one of its fields, or goes
// through one of them to another record, is the finding. Observations
// whose fields the task does not name say nothing either way.
func answerField(task, answer string, infos []callInfo, tools []trajectory.ToolSpec) fieldFinding {
	a := slug(answer)
	if a == "" {
		return fieldFinding{}
	}
	lt := strings.ToLower(task)
	head := taskHead(lt)
	var found fieldFinding
	for i := len(infos) - 1; i >= 0; i-- {
		in := &infos[i]
		if !in.ok || len(in.obs.fields) == 0 {
			continue
		}
		got, gotID := "", ""
		for _, f := range in.obs.fields {
			switch {
			case slug(f.value) != a:
			case !f.id:
				got = f.key
			case gotID == "":
				gotID = f.key
			}
			if got != "" {
				break
			}
		}
		if got == "" {
			got = gotID
		}
		if got == "" {
			continue
		}
		direct, hops := taskKeys(lt, head, &in.obs)
		if len(hops) == 0 {
			for _, d := range direct {
				if slug(d.value) == a {
					return fieldFinding{} // the answer is a field the task asks about
				}
			}
		}
		if found.call != nil {
			continue
		}
		switch {
		case len(hops) > 0:
			h := hops[0]
			found = fieldFinding{call: in.c, got: got, want: asked{call: in.c, key: h.key, value: h.value, id: refID(&in.obs, h.key), hop: true}}
		case len(direct) > 0:
			found = fieldFinding{call: in.c, got: got, want: asked{call: in.c, key: direct[0].key, value: direct[0].value}}
		case head != "" && got != head && namesOtherTool(head, got, tools):
			// The tools say what kind of thing each is: the task asks
			// "which company", the answer is a city (get_company, get_city).
			found = fieldFinding{call: in.c, got: got, want: asked{key: head}, kind: true}
		}
	}
	return found
}

// answerKind is the kind of answer a task asks for.
type answerKind int

const (
	kindAny answerKind = iota
	kindName
	kindNumber
)

// expectedKind reads the kind of answer a task asks for from its question
// words: a number for "how many", "how much", "how old", "which year",
// "population" …; a name for "who" and "which/what <thing>"; any when it
// asks both or neither. cue is the words that decided.
func expectedKind(task string) (answerKind, string) {
	lt := strings.ToLower(task)
	numCue := ""
	for _, p := range []string{"how many", "how much", "how old", "how tall", "how long", "how far", "which year", "what year", "population"} {
		if containsWord(lt, p) {
			numCue = p
			break
		}
	}
	nameCue := ""
	if containsWord(lt, "who") {
		nameCue = "who"
	}
	words := strings.FieldsFunc(lt, func(r rune) bool { return !(r >= 'a' && r <= 'z') })
	for i := 0; i+1 < len(words) && nameCue == ""; i++ {
		if words[i] != "which" && words[i] != "what" {
			continue
		}
		switch next := words[i+1]; next {
		case "is", "are", "was", "were", "does", "do", "did", "has", "have", "had", "can", "will", "would", "should",
			// things answered with a number or a date
			"year", "number", "amount", "age", "percentage", "percent", "price", "cost", "date", "time", "day", "month",
			"size", "height", "length", "weight", "distance", "temperature", "rate", "total", "sum", "value", "result",
			"floor", "page", "level", "step", "version", "rank", "position", "score", "digit", "decade", "century",
			"chapter", "episode", "room", "grade", "count", "share", "ratio", "speed", "population":
		default:
			nameCue = words[i] + " " + next
		}
	}
	switch {
	case numCue != "" && nameCue == "":
		return kindNumber, numCue
	case nameCue != "" && numCue == "":
		return kindName, nameCue
	}
	return kindAny, ""
}

// wrongKind reports an answer that cannot be of the kind asked: no letter
// where a name is asked, no digit where a number is (an answer that admits
// a failure is never the wrong kind).
func wrongKind(answer string, want answerKind) bool {
	letters, digits := false, false
	for i := 0; i < len(answer); i++ {
		c := answer[i]
		letters = letters || isLetter(c) || c >= 0x80
		digits = digits || isDigit(c)
	}
	wrong := false
	switch want {
	case kindName:
		wrong = !letters
	case kindNumber:
		wrong = !digits
	}
	return wrong && strings.TrimSpace(answer) != "" && !IsCallMarkup(answer) && !admitsFailure(answer)
}

func kindLack(k answerKind) string {
	if k == kindNumber {
		return "has no number"
	}
	return "is not a name"
}

func kindWant(k answerKind) string {
	if k == kindNumber {
		return "the number"
	}
	return "the name"
}

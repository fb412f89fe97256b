package suite

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Built-in suite names.
const (
	Arith  = "arith"
	Lookup = "lookup"
	Web    = "web"
)

// Tool names used by the built-in suites.
const (
	CalculatorTool = "calculator"
	BrowserTool    = "browser"
	// The lookup suite's API tools.
	PersonTool  = "get_person"
	CompanyTool = "get_company"
	CityTool    = "get_city"
	SearchTool  = "search"
)

// lookupTools are the tools of every lookup task.
var lookupTools = []string{PersonTool, CompanyTool, CityTool, SearchTool}

// SiteVar stands for the web suite's base URL (scheme, host and port, no
// trailing slash) in task solutions; Env.Expand replaces it.
const SiteVar = "$SITE"

// Names lists the built-in suites.
func Names() []string { return []string{Arith, Arith2, Lookup, Web} }

// Default number of arith (and arith2) tasks per split.
const (
	DefaultArithTrain = 200
	DefaultArithTest  = 50
)

// GenOption configures Generate.
type GenOption func(*genConfig)

type genConfig struct {
	seed  int64
	count int
}

// WithSeed sets the seed (default 1). For arith it draws the problems; for
// lookup and web, whose questions are a fixed pool, it orders them.
func WithSeed(seed int64) GenOption { return func(c *genConfig) { c.seed = seed } }

// WithCount keeps at most n tasks (default: 200 train and 50 test for
// arith and arith2, the whole split for lookup and web).
func WithCount(n int) GenOption { return func(c *genConfig) { c.count = n } }

// Generate returns the tasks of one split of a built-in suite. The same
// name, split, seed and count always give the same tasks, and the train and
// test splits never share a question.
func Generate(name string, split Split, opts ...GenOption) ([]Task, error) {
	cfg := genConfig{seed: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if split != Train && split != Test {
		return nil, fmt.Errorf("suite: unknown split %q (want train or test)", split)
	}
	if cfg.count < 0 {
		return nil, fmt.Errorf("suite: count %d is negative", cfg.count)
	}
	switch name {
	case Arith, Arith2:
		n := cfg.count
		if n == 0 {
			n = DefaultArithTrain
			if split == Test {
				n = DefaultArithTest
			}
		}
		if name == Arith2 {
			return arith2Tasks(split, cfg.seed, n), nil
		}
		return arithTasks(split, cfg.seed, n), nil
	case Lookup, Web:
		w, err := LoadWorld()
		if err != nil {
			return nil, err
		}
		var tasks []Task
		for _, q := range worldQuestions(w) {
			if SplitOf(q.question) != split || name == Web && !q.fromSite {
				continue
			}
			if name == Lookup {
				tasks = append(tasks, lookupTask(q, split))
			} else {
				tasks = append(tasks, webTask(q, split))
			}
		}
		r := rand.New(rand.NewPCG(uint64(cfg.seed), 0x776f726c64)) // "world"
		r.Shuffle(len(tasks), func(i, j int) { tasks[i], tasks[j] = tasks[j], tasks[i] })
		if cfg.count > 0 && cfg.count < len(tasks) {
			tasks = tasks[:cfg.count]
		}
		return tasks, nil
	}
	return nil, fmt.Errorf("suite: unknown suite %q (built-in: %s; or a .jsonl file)", name, strings.Join(Names(), ", "))
}

// lookupTool is the lookup tool for a kind of entity.
func lookupTool(kind string) string {
	switch kind {
	case kindPerson:
		return PersonTool
	case kindCompany:
		return CompanyTool
	default:
		return CityTool
	}
}

func lookupTask(q worldQuestion, split Split) Task {
	// The first record is looked up by the name the question gives (the
	// API reads a name as its id), the next ones by the ids the records
	// give: both are copies, no spelling rule to apply.
	calls := make([]Call, len(q.hops))
	for i, h := range q.hops {
		id := h.id
		if i == 0 {
			id = h.name
		}
		calls[i] = Call{Tool: lookupTool(h.kind), Arguments: args("id", id)}
	}
	return Task{
		ID:       TaskID(Lookup, q.question),
		Question: q.question,
		Answer:   q.answer,
		Suite:    Lookup,
		Tools:    lookupTools,
		Reward:   q.reward,
		Split:    split,
		Solution: &Solution{Calls: calls, Flawed: &Flawed{
			Calls: q.flawedHops, Answer: q.flawedAnswer,
			Critique: fillCritique(q.critique, "look up", "record"),
		}},
	}
}

func webTask(q worldQuestion, split Split) Task {
	var calls []Call
	flawedCalls := 0
	for i, h := range q.hops {
		if i == 0 {
			calls = append(calls, Call{Tool: BrowserTool, Arguments: args("action", "open", "url", SiteVar+"/")})
		}
		calls = append(calls, Call{Tool: BrowserTool, Arguments: args("action", "click", "text", h.name)})
		if i+1 == q.flawedHops {
			flawedCalls = len(calls)
		}
	}
	return Task{
		ID:       TaskID(Web, q.question),
		Question: q.question,
		Answer:   q.answer,
		Suite:    Web,
		Tools:    []string{BrowserTool},
		Reward:   q.reward,
		Split:    split,
		Solution: &Solution{Calls: calls, Flawed: &Flawed{
			Calls: flawedCalls, Answer: q.flawedAnswer,
			Critique: fillCritique(q.critique, "open", "page"),
		}},
	}
}

// Load returns the tasks named by a --suite argument: a built-in suite's
// split, or the tasks of a JSONL file (filtered to the split when its tasks
// have splits).
func Load(nameOrPath string, split Split, opts ...GenOption) ([]Task, error) {
	if !IsFile(nameOrPath) {
		return Generate(nameOrPath, split, opts...)
	}
	tasks, err := LoadJSONL(nameOrPath)
	if err != nil {
		return nil, err
	}
	cfg := genConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	var out []Task
	for _, t := range tasks {
		if t.Split == "" || t.Split == split {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("suite: %s has no %s tasks", nameOrPath, split)
	}
	if cfg.count > 0 && cfg.count < len(out) {
		out = out[:cfg.count]
	}
	return out, nil
}

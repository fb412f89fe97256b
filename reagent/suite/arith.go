package suite

import (
	"fmt"
	"math/rand/v2"

	"github.com/reagent-go/reagent/tools/calculator"
)

// arithTools are the tools of the arith suite.
var arithTools = []string{"calculator"}

// arithSystem is the arith suite's system prompt.
const arithSystem = "You solve arithmetic problems. Call the calculator with the expression, then answer with the number only."

// arithCritique is the reviewer's note on an answer given without the
// calculator (it never states the right number).
const arithCritique = "You answered from mental arithmetic without calling the calculator, and the number is wrong. " +
	"Call the calculator with the expression, then answer with the number it returns."

// wordTemplates are formulaic word problems; each names the expression the
// calculator gets, built from the numbers in order of appearance.
var wordTemplates = []struct {
	text, op string
}{
	{"A box holds %d eggs. How many eggs are in %d boxes?", "*"},
	{"Sam has %d coins and finds %d more. How many coins does Sam have now?", "+"},
	{"A tank holds %d liters and %d liters leak out. How many liters are left?", "-"},
	{"%d cookies are shared equally by %d children. How many cookies does each child get?", "/"},
}

// arithProblem draws one problem: its question, the calculator expression
// (verbatim in the question for expression problems) and the answer.
func arithProblem(r *rand.Rand) (question, expr, answer string) {
	n := func(lo, hi int) int { return lo + r.IntN(hi-lo+1) }
	switch k := r.IntN(10); {
	case k < 2:
		a, b := n(10, 999), n(10, 999)
		op := []string{"+", "-"}[r.IntN(2)]
		expr = fmt.Sprintf("%d %s %d", a, op, b)
	case k < 4:
		expr = fmt.Sprintf("%d * %d", n(3, 99), n(3, 99))
	case k < 5:
		b, q := n(2, 30), n(2, 99)
		expr = fmt.Sprintf("%d / %d", b*q, b)
	case k < 6:
		expr = fmt.Sprintf("%d * %d + %d", n(3, 60), n(3, 60), n(1, 99))
	case k < 7:
		expr = fmt.Sprintf("(%d + %d) * %d", n(2, 99), n(2, 99), n(2, 20))
	default:
		w := wordTemplates[r.IntN(len(wordTemplates))]
		var a, b int
		switch w.op {
		case "*":
			a, b = n(2, 24), n(2, 60)
		case "+":
			a, b = n(5, 500), n(2, 200)
		case "-":
			a = n(50, 900)
			b = n(1, a-1)
		case "/":
			b = n(2, 12)
			a = b * n(2, 30)
		}
		expr = fmt.Sprintf("%d %s %d", a, w.op, b)
		v, _ := calculator.Eval(expr)
		return fmt.Sprintf(w.text, a, b), expr, calculator.Format(v)
	}
	v, _ := calculator.Eval(expr)
	return "What is " + expr + "?", expr, calculator.Format(v)
}

// arithTasks draws problems from one stream seeded by seed, routes each to
// its split by SplitOf, and keeps the first n distinct ones of split.
func arithTasks(split Split, seed int64, n int) []Task {
	r := rand.New(rand.NewPCG(uint64(seed), 0x61726974)) // "arit"
	seen := map[string]bool{}
	var out []Task
	// Each problem lands in the wanted split with probability 1/5 or 4/5,
	// and the space of problems is large; the bound only guards a bug.
	for tries := 0; len(out) < n && tries < 200*n+1000; tries++ {
		q, expr, ans := arithProblem(r)
		wrong := wrongNumber(r, ans)
		if seen[q] || SplitOf(q) != split {
			continue
		}
		seen[q] = true
		out = append(out, Task{
			ID:       TaskID("arith", q),
			Question: q,
			Answer:   ans,
			Suite:    "arith",
			Tools:    arithTools,
			Reward:   "numeric",
			Split:    split,
			Solution: &Solution{
				Calls:  []Call{{Tool: "calculator", Arguments: args("expression", expr)}},
				Flawed: &Flawed{Calls: 0, Answer: wrong, Critique: arithCritique},
			},
		})
	}
	return out
}

// wrongNumber is a plausible slip of mental arithmetic: off by 1, 2, 10 or
// 100.
func wrongNumber(r *rand.Rand, answer string) string {
	v, err := calculator.Eval(answer)
	if err != nil {
		return answer + "0"
	}
	d := []float64{1, 2, 10, 100}[r.IntN(4)]
	if r.IntN(2) == 0 && v-d >= 0 {
		d = -d
	}
	return calculator.Format(v + d)
}

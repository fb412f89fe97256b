package suite

import (
	"fmt"
	"math/rand/v2"
)

// Arith2 is the arith suite reworded: the same expressions, asked in the
// wordings of arithWordings instead of "What is …?" alone. The embedded
// policy, trained on "What is …?", solves some wordings and not others,
// so its first-attempt success lies between the arith suite's ceiling and
// the floor (docs/RESULTS.md); that is what gives GRPO groups and the
// critique round something to work with.
const Arith2 = "arith2"

// arithWordings are the arith2 suite's wordings of "What is EXPR?"; %s is
// the expression, verbatim.
var arithWordings = []string{
	"Compute %s.",
	"Compute %s?",
	"Calculate %s.",
	"Work out %s.",
	"Evaluate %s.",
	"What is %s",
	"How much is %s?",
	"what is %s?",
}

// arith2Tasks draws expression problems as arithTasks does and words each
// with one of arithWordings. A task's split is that of the arith question
// with the same expression ("What is EXPR?"), so the arith2 test split
// shares no expression with the arith training split the policy learnt
// from, and the two suites' splits agree.
func arith2Tasks(split Split, seed int64, n int) []Task {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6172697432)) // "arit2"
	seen := map[string]bool{}
	var out []Task
	for tries := 0; len(out) < n && tries < 200*n+1000; tries++ {
		q, expr, ans := arithProblem(r)
		wording := arithWordings[r.IntN(len(arithWordings))]
		wrong := wrongNumber(r, ans)
		if q != "What is "+expr+"?" {
			continue // a word problem: arith2 rewords expressions only
		}
		if seen[expr] || SplitOf(q) != split {
			continue
		}
		seen[expr] = true
		question := fmt.Sprintf(wording, expr)
		out = append(out, Task{
			ID:       TaskID(Arith2, question),
			Question: question,
			Answer:   ans,
			Suite:    Arith2,
			Tools:    arithTools,
			Reward:   "numeric",
			Split:    split,
			Solution: &Solution{
				Calls:  []Call{{Tool: CalculatorTool, Arguments: args("expression", expr)}},
				Flawed: &Flawed{Calls: 0, Answer: wrong, Critique: arithCritique},
			},
		})
	}
	return out
}

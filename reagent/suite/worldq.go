package suite

import (
	"fmt"
	"strconv"
	"strings"
)

// Entity kinds of the world.
const (
	kindPerson  = "person"
	kindCompany = "company"
	kindCity    = "city"
)

// hop is one entity an ideal agent looks at, in order.
type hop struct {
	kind, id, name string
}

// worldQuestion is a question about the world, independent of how the
// agent reaches the data (JSON API or web pages).
type worldQuestion struct {
	question, answer, reward string
	hops                     []hop
	// fromSite marks questions that start from a company or a city, which
	// the web site's home page leads to; the web suite asks only these.
	fromSite bool
	// The flawed attempt looks at the first flawedHops entities and answers
	// flawedAnswer; critique uses {look} and {record}, filled per suite.
	flawedHops   int
	flawedAnswer string
	critique     string
}

// Critiques of flawed attempts. They name the mistake and the next step,
// never the true answer.
const (
	critiqueGuess        = "You guessed without checking. {Look} the {record} of %s first."
	critiqueCityNotLand  = "You gave a city, but the question asks for a country. {Look} the {record} of that city."
	critiqueHomeNotWork  = "You gave where the person lives, not where their employer is based. {Look} the {record} of the employer."
	critiqueBornNotFound = "You gave the year the person was born, not when their employer was founded. {Look} the {record} of the employer."
	critiqueBaseNotHome  = "You gave where the company is based, not where its CEO lives. {Look} the {record} of the CEO."
	critiqueUnchecked    = "You gave a number you did not look up. {Look} the {record} of %s."
	critiqueCEONotBorn   = "You gave the year the company was founded, not when its CEO was born. {Look} the {record} of the CEO."
)

// worldQuestions lists every question of the lookup and web suites, in a
// fixed order.
func worldQuestions(w *World) []worldQuestion {
	var out []worldQuestion
	ph := func(p *Person) hop { return hop{kindPerson, p.ID, p.Name} }
	ch := func(c *Company) hop { return hop{kindCompany, c.ID, c.Name} }
	th := func(c *City) hop { return hop{kindCity, c.ID, c.Name} }
	cityName := func(i int) string { return w.Cities[i].Name }
	cityPop := func(i int) string { return strconv.Itoa(w.Cities[i].Population) }
	country := func(i int) string { return w.Cities[i].Country }
	companyName := func(i int) string { return w.Companies[i].Name }
	founded := func(i int) string { return strconv.Itoa(w.Companies[i].Founded) }
	personName := func(i int) string { return w.People[i].Name }
	for i := range w.People {
		p := &w.People[i]
		home := w.City(p.City)
		job := w.Company(p.Employer)
		base := w.City(job.City)
		out = append(out,
			worldQuestion{
				question: fmt.Sprintf("Which city does %s live in?", p.Name), answer: home.Name, reward: "text",
				hops: []hop{ph(p)}, flawedAnswer: otherValue(len(w.Cities), indexOfCity(w, home.ID), cityName, home.Name), critique: fmt.Sprintf(critiqueGuess, p.Name),
			},
			worldQuestion{
				question: fmt.Sprintf("In which country does %s live?", p.Name), answer: home.Country, reward: "text",
				hops: []hop{ph(p), th(home)}, flawedHops: 1, flawedAnswer: home.Name, critique: critiqueCityNotLand,
			},
			worldQuestion{
				question: fmt.Sprintf("Which company does %s work for?", p.Name), answer: job.Name, reward: "text",
				hops: []hop{ph(p)}, flawedAnswer: otherValue(len(w.Companies), indexOfCompany(w, job.ID), companyName, job.Name), critique: fmt.Sprintf(critiqueGuess, p.Name),
			},
			worldQuestion{
				question: fmt.Sprintf("How many people live in the city where %s lives?", p.Name), answer: strconv.Itoa(home.Population), reward: "numeric",
				hops: []hop{ph(p), th(home)}, flawedHops: 1, flawedAnswer: otherValue(len(w.Cities), indexOfCity(w, home.ID), cityPop, strconv.Itoa(home.Population)),
				critique: fmt.Sprintf(critiqueUnchecked, home.Name),
			},
		)
		if base.ID != home.ID {
			out = append(out, worldQuestion{
				question: fmt.Sprintf("In which city is the employer of %s based?", p.Name), answer: base.Name, reward: "text",
				hops: []hop{ph(p), ch(job)}, flawedHops: 1, flawedAnswer: home.Name, critique: critiqueHomeNotWork,
			})
		}
		out = append(out,
			worldQuestion{
				question: fmt.Sprintf("In which country is the employer of %s based?", p.Name), answer: base.Country, reward: "text",
				hops: []hop{ph(p), ch(job), th(base)}, flawedHops: 2, flawedAnswer: base.Name, critique: critiqueCityNotLand,
			},
			worldQuestion{
				question: fmt.Sprintf("In which year was the employer of %s founded?", p.Name), answer: strconv.Itoa(job.Founded), reward: "numeric",
				hops: []hop{ph(p), ch(job)}, flawedHops: 1, flawedAnswer: differ(strconv.Itoa(p.Born), strconv.Itoa(job.Founded)), critique: critiqueBornNotFound,
			},
		)
	}
	for i := range w.Companies {
		c := &w.Companies[i]
		ceo := w.Person(c.CEO)
		base := w.City(c.City)
		ceoHome := w.City(ceo.City)
		out = append(out,
			worldQuestion{
				question: fmt.Sprintf("Who is the CEO of %s?", c.Name), answer: ceo.Name, reward: "text", fromSite: true,
				hops: []hop{ch(c)}, flawedAnswer: otherValue(len(w.People), indexOfPerson(w, ceo.ID), personName, ceo.Name), critique: fmt.Sprintf(critiqueGuess, c.Name),
			},
			worldQuestion{
				question: fmt.Sprintf("In which year was %s founded?", c.Name), answer: strconv.Itoa(c.Founded), reward: "numeric", fromSite: true,
				hops: []hop{ch(c)}, flawedAnswer: otherValue(len(w.Companies), i, founded, strconv.Itoa(c.Founded)), critique: fmt.Sprintf(critiqueGuess, c.Name),
			},
			worldQuestion{
				question: fmt.Sprintf("In which city is %s based?", c.Name), answer: base.Name, reward: "text", fromSite: true,
				hops: []hop{ch(c)}, flawedAnswer: otherValue(len(w.Cities), indexOfCity(w, base.ID), cityName, base.Name), critique: fmt.Sprintf(critiqueGuess, c.Name),
			},
			worldQuestion{
				question: fmt.Sprintf("In which country is %s based?", c.Name), answer: base.Country, reward: "text", fromSite: true,
				hops: []hop{ch(c), th(base)}, flawedHops: 1, flawedAnswer: base.Name, critique: critiqueCityNotLand,
			},
			worldQuestion{
				question: fmt.Sprintf("In which year was the CEO of %s born?", c.Name), answer: strconv.Itoa(ceo.Born), reward: "numeric", fromSite: true,
				hops: []hop{ch(c), ph(ceo)}, flawedHops: 1, flawedAnswer: differ(strconv.Itoa(c.Founded), strconv.Itoa(ceo.Born)), critique: critiqueCEONotBorn,
			},
		)
		if ceoHome.ID != base.ID {
			out = append(out, worldQuestion{
				question: fmt.Sprintf("In which city does the CEO of %s live?", c.Name), answer: ceoHome.Name, reward: "text", fromSite: true,
				hops: []hop{ch(c), ph(ceo)}, flawedHops: 1, flawedAnswer: base.Name, critique: critiqueBaseNotHome,
			})
		}
		if ceoHome.Country != base.Country {
			out = append(out, worldQuestion{
				question: fmt.Sprintf("In which country does the CEO of %s live?", c.Name), answer: ceoHome.Country, reward: "text", fromSite: true,
				hops: []hop{ch(c), ph(ceo), th(ceoHome)}, flawedHops: 2, flawedAnswer: ceoHome.Name, critique: critiqueCityNotLand,
			})
		}
	}
	for i := range w.Cities {
		c := &w.Cities[i]
		out = append(out,
			worldQuestion{
				question: fmt.Sprintf("In which country is %s?", c.Name), answer: c.Country, reward: "text", fromSite: true,
				hops: []hop{th(c)}, flawedAnswer: otherValue(len(w.Cities), i, country, c.Country), critique: fmt.Sprintf(critiqueGuess, c.Name),
			},
			worldQuestion{
				question: fmt.Sprintf("What is the population of %s?", c.Name), answer: strconv.Itoa(c.Population), reward: "numeric", fromSite: true,
				hops: []hop{th(c)}, flawedAnswer: otherValue(len(w.Cities), i, cityPop, strconv.Itoa(c.Population)), critique: fmt.Sprintf(critiqueGuess, c.Name),
			},
		)
	}
	return out
}

// fillCritique replaces {Look}/{look} and {record} with the suite's words.
func fillCritique(c, look, record string) string {
	upper := strings.ToUpper(look[:1]) + look[1:]
	return strings.NewReplacer("{Look}", upper, "{look}", look, "{record}", record).Replace(c)
}

// otherValue returns the first value after start (cyclically) that differs
// from avoid: a wrong answer that is surely wrong.
func otherValue(n, start int, value func(int) string, avoid string) string {
	for k := 1; k <= n; k++ {
		if v := value((start + k) % n); v != avoid {
			return v
		}
	}
	return avoid + " (unknown)"
}

// differ returns wrong, or wrong+1 when it happens to equal right (a year
// mixed up with another that is the same).
func differ(wrong, right string) string {
	if wrong != right {
		return wrong
	}
	n, _ := strconv.Atoi(wrong)
	return strconv.Itoa(n + 1)
}

func indexOfCity(w *World, id string) int {
	for i := range w.Cities {
		if w.Cities[i].ID == id {
			return i
		}
	}
	return 0
}

func indexOfCompany(w *World, id string) int {
	for i := range w.Companies {
		if w.Companies[i].ID == id {
			return i
		}
	}
	return 0
}

func indexOfPerson(w *World, id string) int {
	for i := range w.People {
		if w.People[i].ID == id {
			return i
		}
	}
	return 0
}

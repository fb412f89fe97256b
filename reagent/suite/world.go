package suite

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

// worldJSON is the small fictional world behind the lookup and web suites:
// people, the companies they work for and the cities they live in.
//
//go:embed data/world.json
var worldJSON []byte

// World is the data behind the lookup and web suites.
type World struct {
	Cities    []City    `json:"cities"`
	Companies []Company `json:"companies"`
	People    []Person  `json:"people"`

	city    map[string]*City
	company map[string]*Company
	person  map[string]*Person
}

// City is a city of the world.
type City struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Country    string `json:"country"`
	Population int    `json:"population"`
}

// Company is a company of the world; City is its headquarters and CEO a
// person's id.
type Company struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Industry string `json:"industry"`
	City     string `json:"city"`
	Founded  int    `json:"founded"`
	CEO      string `json:"ceo"`
}

// Person is a person of the world; City is where they live and Employer a
// company id.
type Person struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	City     string `json:"city"`
	Employer string `json:"employer"`
	Born     int    `json:"born"`
}

// LoadWorld returns the embedded world, checked: every reference resolves
// and every id is the slug of its name.
func LoadWorld() (*World, error) {
	var w World
	if err := json.Unmarshal(worldJSON, &w); err != nil {
		return nil, fmt.Errorf("suite: embedded world: %w", err)
	}
	if err := w.index(); err != nil {
		return nil, fmt.Errorf("suite: embedded world: %w", err)
	}
	return &w, nil
}

func (w *World) index() error {
	w.city = map[string]*City{}
	w.company = map[string]*Company{}
	w.person = map[string]*Person{}
	for i := range w.Cities {
		c := &w.Cities[i]
		if c.ID != Slug(c.Name) || w.city[c.ID] != nil {
			return fmt.Errorf("city %q: id must be the unique slug of its name", c.ID)
		}
		w.city[c.ID] = c
	}
	for i := range w.Companies {
		c := &w.Companies[i]
		if c.ID != Slug(c.Name) || w.company[c.ID] != nil {
			return fmt.Errorf("company %q: id must be the unique slug of its name", c.ID)
		}
		w.company[c.ID] = c
	}
	for i := range w.People {
		p := &w.People[i]
		if p.ID != Slug(p.Name) || w.person[p.ID] != nil {
			return fmt.Errorf("person %q: id must be the unique slug of its name", p.ID)
		}
		w.person[p.ID] = p
	}
	for _, c := range w.Companies {
		if w.city[c.City] == nil || w.person[c.CEO] == nil {
			return fmt.Errorf("company %q: unknown city %q or CEO %q", c.ID, c.City, c.CEO)
		}
	}
	for _, p := range w.People {
		if w.city[p.City] == nil || w.company[p.Employer] == nil {
			return fmt.Errorf("person %q: unknown city %q or employer %q", p.ID, p.City, p.Employer)
		}
	}
	return nil
}

// City returns the city with that id, or nil.
func (w *World) City(id string) *City { return w.city[id] }

// Company returns the company with that id, or nil.
func (w *World) Company(id string) *Company { return w.company[id] }

// Person returns the person with that id, or nil.
func (w *World) Person(id string) *Person { return w.person[id] }

// Slug is an entity's id: its name in lower case with spaces replaced by
// "-" ("Ada Berg" is "ada-berg").
func Slug(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), " ", "-")
}

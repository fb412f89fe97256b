package suite

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// Ref names another entity in an API answer.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// The JSON shapes of the lookup API. Field order is fixed so that answers
// are byte-for-byte stable (demonstrations quote them).
type (
	apiPerson struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Born     int    `json:"born"`
		City     Ref    `json:"city"`
		Employer Ref    `json:"employer"`
	}
	apiCompany struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Industry string `json:"industry"`
		Founded  int    `json:"founded"`
		City     Ref    `json:"city"`
		CEO      Ref    `json:"ceo"`
	}
	apiCity struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		Country    string `json:"country"`
		Population int    `json:"population"`
	}
	apiHit struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Name string `json:"name"`
	}
)

// LookupHandler serves the lookup suite's read-only JSON API over w:
//
//	GET /people/{id}     a person: name, born, city, employer
//	GET /companies/{id}  a company: name, industry, founded, city, ceo
//	GET /cities/{id}     a city: name, country, population
//	GET /people, /companies, /cities   lists of {id, name}
//	GET /search?q=NAME   entities whose name contains NAME
//
// Ids are slugs of names (see Slug); a name as written ("Ada Falk") is
// read as its slug, so an agent may copy a name from the question. Unknown paths answer 404 with a JSON
// error the agent can read.
func LookupHandler(w *World) http.Handler {
	mux := http.NewServeMux()
	ref := func(id, name string) Ref { return Ref{ID: id, Name: name} }
	mux.HandleFunc("GET /people/{id}", func(rw http.ResponseWriter, r *http.Request) {
		p := w.Person(Slug(r.PathValue("id")))
		if p == nil {
			notFound(rw, "no person with id "+r.PathValue("id"))
			return
		}
		c, co := w.City(p.City), w.Company(p.Employer)
		writeJSON(rw, apiPerson{ID: p.ID, Name: p.Name, Born: p.Born, City: ref(c.ID, c.Name), Employer: ref(co.ID, co.Name)})
	})
	mux.HandleFunc("GET /companies/{id}", func(rw http.ResponseWriter, r *http.Request) {
		co := w.Company(Slug(r.PathValue("id")))
		if co == nil {
			notFound(rw, "no company with id "+r.PathValue("id"))
			return
		}
		c, ceo := w.City(co.City), w.Person(co.CEO)
		writeJSON(rw, apiCompany{ID: co.ID, Name: co.Name, Industry: co.Industry, Founded: co.Founded, City: ref(c.ID, c.Name), CEO: ref(ceo.ID, ceo.Name)})
	})
	mux.HandleFunc("GET /cities/{id}", func(rw http.ResponseWriter, r *http.Request) {
		c := w.City(Slug(r.PathValue("id")))
		if c == nil {
			notFound(rw, "no city with id "+r.PathValue("id"))
			return
		}
		writeJSON(rw, apiCity{ID: c.ID, Name: c.Name, Country: c.Country, Population: c.Population})
	})
	mux.HandleFunc("GET /people", func(rw http.ResponseWriter, _ *http.Request) {
		out := make([]Ref, len(w.People))
		for i, p := range w.People {
			out[i] = ref(p.ID, p.Name)
		}
		writeJSON(rw, out)
	})
	mux.HandleFunc("GET /companies", func(rw http.ResponseWriter, _ *http.Request) {
		out := make([]Ref, len(w.Companies))
		for i, c := range w.Companies {
			out[i] = ref(c.ID, c.Name)
		}
		writeJSON(rw, out)
	})
	mux.HandleFunc("GET /cities", func(rw http.ResponseWriter, _ *http.Request) {
		out := make([]Ref, len(w.Cities))
		for i, c := range w.Cities {
			out[i] = ref(c.ID, c.Name)
		}
		writeJSON(rw, out)
	})
	mux.HandleFunc("GET /search", func(rw http.ResponseWriter, r *http.Request) {
		q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
		if q == "" {
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusBadRequest)
			_, _ = rw.Write([]byte(`{"error":"missing query parameter q"}`))
			return
		}
		hits := []apiHit{}
		for _, p := range w.People {
			if strings.Contains(strings.ToLower(p.Name), q) {
				hits = append(hits, apiHit{"person", p.ID, p.Name})
			}
		}
		for _, c := range w.Companies {
			if strings.Contains(strings.ToLower(c.Name), q) {
				hits = append(hits, apiHit{"company", c.ID, c.Name})
			}
		}
		for _, c := range w.Cities {
			if strings.Contains(strings.ToLower(c.Name), q) {
				hits = append(hits, apiHit{"city", c.ID, c.Name})
			}
		}
		sort.SliceStable(hits, func(i, j int) bool { return hits[i].Type < hits[j].Type })
		writeJSON(rw, hits)
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		notFound(rw, "unknown endpoint "+r.Method+" "+r.URL.Path+"; try /people/{id}, /companies/{id}, /cities/{id} or /search?q=")
	})
	return mux
}

func writeJSON(rw http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(rw, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	_, _ = rw.Write(b)
}

func notFound(rw http.ResponseWriter, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusNotFound)
	_, _ = rw.Write(b)
}

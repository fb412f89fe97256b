package suite

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
)

// SiteTitle is the name of the web suite's site.
const SiteTitle = "Northwind Directory"

// Headings of the site's home page.
const (
	linkCompanies = "Companies"
	linkCities    = "Cities"
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
{{if .Home}}{{else}}<p><a href="/">Home</a></p>
{{end}}<h1>{{.Title}}</h1>
{{range .Lines}}<p>{{.Label}}{{if .Href}}<a href="{{.Href}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}</p>
{{end}}</body></html>
`))

type pageLine struct {
	Label, Text, Href string
}

type page struct {
	Title string
	Home  bool
	Lines []pageLine
}

// SitePages renders the web suite's static site from the world: a home
// page that links every company and city, and one short page per company,
// city and person whose facts link to the entities they name. Keys are URL
// paths.
func SitePages(w *World) (map[string][]byte, error) {
	home := page{Title: SiteTitle, Home: true}
	pages := map[string]page{}
	home.Lines = append(home.Lines, pageLine{Text: linkCompanies + ":"})
	for _, c := range w.Companies {
		home.Lines = append(home.Lines, pageLine{Text: c.Name, Href: companyPath(c.ID)})
		city, ceo := w.City(c.City), w.Person(c.CEO)
		pages[companyPath(c.ID)] = page{Title: c.Name, Lines: []pageLine{
			{Label: "Industry: ", Text: c.Industry},
			{Label: "Founded: ", Text: strconv.Itoa(c.Founded)},
			{Label: "Headquarters: ", Text: city.Name, Href: cityPath(city.ID)},
			{Label: "CEO: ", Text: ceo.Name, Href: personPath(ceo.ID)},
		}}
	}
	home.Lines = append(home.Lines, pageLine{Text: linkCities + ":"})
	for _, c := range w.Cities {
		home.Lines = append(home.Lines, pageLine{Text: c.Name, Href: cityPath(c.ID)})
		pages[cityPath(c.ID)] = page{Title: c.Name, Lines: []pageLine{
			{Label: "Country: ", Text: c.Country},
			{Label: "Population: ", Text: strconv.Itoa(c.Population)},
		}}
	}
	pages["/"] = home
	// People are reached through the links that name them (a company's
	// CEO); the site has no index of them, which keeps pages short.
	for _, p := range w.People {
		city, job := w.City(p.City), w.Company(p.Employer)
		pages[personPath(p.ID)] = page{Title: p.Name, Lines: []pageLine{
			{Label: "Born: ", Text: strconv.Itoa(p.Born)},
			{Label: "Lives in: ", Text: city.Name, Href: cityPath(city.ID)},
			{Label: "Works at: ", Text: job.Name, Href: companyPath(job.ID)},
		}}
	}

	out := make(map[string][]byte, len(pages))
	for path, p := range pages {
		var b bytes.Buffer
		if err := pageTmpl.Execute(&b, p); err != nil {
			return nil, fmt.Errorf("suite: rendering %s: %w", path, err)
		}
		out[path] = b.Bytes()
	}
	return out, nil
}

func companyPath(id string) string { return "/companies/" + id + ".html" }
func cityPath(id string) string    { return "/cities/" + id + ".html" }
func personPath(id string) string  { return "/people/" + id + ".html" }

// SiteHandler serves pages (from SitePages) and 404 for anything else.
func SiteHandler(pages map[string][]byte) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		b, ok := pages[r.URL.Path]
		if !ok {
			rw.Header().Set("Content-Type", "text/html; charset=utf-8")
			rw.WriteHeader(http.StatusNotFound)
			_, _ = rw.Write([]byte(`<!doctype html><html><head><title>Not found</title></head><body><h1>Not found</h1><p><a href="/">Home</a></p></body></html>`))
			return
		}
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Header().Set("Cache-Control", "no-store")
		_, _ = rw.Write(b)
	})
}

package ui

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

// statuses lists the run statuses the filter accepts, in the order the
// form shows them.
var statuses = []trajectory.Status{
	trajectory.StatusFinished, trajectory.StatusError, trajectory.StatusMaxIterations,
	trajectory.StatusParseError, trajectory.StatusCancelled, trajectory.StatusPaused, trajectory.StatusRunning,
}

// Page size bounds.
const (
	defaultPageSize = 50
	maxPageSize     = 500
	maxPage         = 1_000_000
	maxFilterText   = 200
)

// Filter is the run selection of the list and chart pages, read from query
// parameters: status, min_score, max_score, blocked (yes or no), suite,
// strategy, since, until (RFC 3339, "2006-01-02T15:04[:05]" in UTC, or a
// date), page and size.
type Filter struct {
	Status   trajectory.Status
	MinScore *float64
	MaxScore *float64
	// Blocked is "", "yes" or "no".
	Blocked  string
	Suite    string
	Strategy string
	Since    time.Time
	Until    time.Time
	// Page counts from 1 (the newest runs); Size is the page length.
	Page int
	Size int

	defaultSize int // left out of Values
}

// ParseFilter reads a Filter from query parameters. Empty parameters mean
// "any"; a malformed one is an error that names it.
func ParseFilter(v url.Values, defaultSize int) (Filter, error) {
	f := Filter{Page: 1, Size: defaultSize}
	if f.Size <= 0 || f.Size > maxPageSize {
		f.Size = defaultPageSize
	}
	f.defaultSize = f.Size
	var errs []error
	get := func(key string) string { return strings.TrimSpace(v.Get(key)) }
	if s := get("status"); s != "" {
		f.Status = trajectory.Status(s)
		if !knownStatus(f.Status) {
			errs = append(errs, fmt.Errorf("status %q: want one of %s", clip(s), statusList()))
		}
	}
	var err error
	if f.MinScore, err = parseScore(get("min_score")); err != nil {
		errs = append(errs, fmt.Errorf("min_score: %w", err))
	}
	if f.MaxScore, err = parseScore(get("max_score")); err != nil {
		errs = append(errs, fmt.Errorf("max_score: %w", err))
	}
	if f.MinScore != nil && f.MaxScore != nil && *f.MinScore > *f.MaxScore {
		errs = append(errs, fmt.Errorf("min_score %g is above max_score %g", *f.MinScore, *f.MaxScore))
	}
	switch b := strings.ToLower(get("blocked")); b {
	case "", "any":
	case "yes", "true", "1":
		f.Blocked = "yes"
	case "no", "false", "0":
		f.Blocked = "no"
	default:
		errs = append(errs, fmt.Errorf("blocked %q: want yes or no", clip(b)))
	}
	f.Suite, f.Strategy = get("suite"), get("strategy")
	for name, s := range map[string]string{"suite": f.Suite, "strategy": f.Strategy} {
		if len(s) > maxFilterText {
			errs = append(errs, fmt.Errorf("%s: longer than %d bytes", name, maxFilterText))
		}
	}
	if f.Since, err = ParseTime(get("since")); err != nil {
		errs = append(errs, fmt.Errorf("since: %w", err))
	}
	if f.Until, err = ParseTime(get("until")); err != nil {
		errs = append(errs, fmt.Errorf("until: %w", err))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		errs = append(errs, fmt.Errorf("since %s is not before until %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339)))
	}
	if f.Page, err = parseInt(get("page"), 1, 1, maxPage); err != nil {
		errs = append(errs, fmt.Errorf("page: %w", err))
	}
	if f.Size, err = parseInt(get("size"), f.Size, 1, maxPageSize); err != nil {
		errs = append(errs, fmt.Errorf("size: %w", err))
	}
	if len(errs) > 0 {
		return f, fmt.Errorf("bad filter: %w", errors.Join(errs...))
	}
	return f, nil
}

func knownStatus(s trajectory.Status) bool {
	for _, k := range statuses {
		if s == k {
			return true
		}
	}
	return false
}

func statusList() string {
	names := make([]string, len(statuses))
	for i, s := range statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func parseScore(s string) (*float64, error) {
	if s == "" {
		return nil, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
		return nil, fmt.Errorf("%q is not a score in [0,1]", clip(s))
	}
	return &v, nil
}

func parseInt(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return def, fmt.Errorf("%q is not a whole number from %d to %d", clip(s), lo, hi)
	}
	return n, nil
}

// timeLayouts are the forms ParseTime accepts; those without a zone are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

// ParseTime reads a time bound of the filter: RFC 3339, an HTML
// datetime-local value ("2006-01-02T15:04" or with seconds, taken as UTC),
// or a date (midnight UTC). The empty string is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (use 2006-01-02, 2006-01-02T15:04 in UTC, or RFC 3339)", clip(s))
}

// Query returns the audit query for the filter, without paging.
func (f Filter) Query() audit.Query {
	q := audit.Query{Status: f.Status, MinScore: f.MinScore, MaxScore: f.MaxScore, Since: f.Since, Until: f.Until}
	switch f.Blocked {
	case "yes":
		b := true
		q.Blocked = &b
	case "no":
		b := false
		q.Blocked = &b
	}
	if f.Suite != "" || f.Strategy != "" {
		q.Metadata = map[string]string{}
		if f.Suite != "" {
			q.Metadata["suite"] = f.Suite
		}
		if f.Strategy != "" {
			q.Metadata["strategy"] = f.Strategy
		}
	}
	return q
}

// Values returns the filter as query parameters, leaving out defaults (the
// page size given to ParseFilter among them); page 0 leaves the page out
// too.
func (f Filter) Values(page int) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("status", string(f.Status))
	if f.MinScore != nil {
		set("min_score", strconv.FormatFloat(*f.MinScore, 'g', -1, 64))
	}
	if f.MaxScore != nil {
		set("max_score", strconv.FormatFloat(*f.MaxScore, 'g', -1, 64))
	}
	set("blocked", f.Blocked)
	set("suite", f.Suite)
	set("strategy", f.Strategy)
	if !f.Since.IsZero() {
		set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Size != f.defaultSize && f.Size > 0 {
		set("size", strconv.Itoa(f.Size))
	}
	if page > 1 {
		set("page", strconv.Itoa(page))
	}
	return v
}

// Active reports whether any selection (not paging) is set.
func (f Filter) Active() bool {
	return f.Status != "" || f.MinScore != nil || f.MaxScore != nil || f.Blocked != "" ||
		f.Suite != "" || f.Strategy != "" || !f.Since.IsZero() || !f.Until.IsZero()
}

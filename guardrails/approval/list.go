package approval

import (
	"context"
	"fmt"
)

// Decided is a stored request with the decision recorded on it.
type Decided struct {
	Stored
	Decision Decision
}

// Listing is what an approval page shows: the requests that wait for a
// decision and the most recent decisions.
type Listing struct {
	// Pending are the requests without a decision, oldest first.
	Pending []Stored
	// Decided are the most recent decisions with their requests, newest
	// first.
	Decided []Decided
}

// List reads the store's approval records once and returns the pending
// requests and the recent decisions, at most recent of them (0: none).
// The requests are as the store returns them (Lookup and Pending return the
// same); a decision whose request the store does not hold is skipped.
func (d *Durable) List(ctx context.Context, recent int) (Listing, error) {
	if recent < 0 {
		return Listing{}, fmt.Errorf("approval: list %d recent decisions: want 0 or more", recent)
	}
	var reqs []Stored
	byID := map[string]int{}
	var decs []Decision
	decided := map[string]bool{}
	err := d.scan(ctx, func(r requestRecord) {
		s := d.readable(r)
		byID[s.Request.ID] = len(reqs) // the last one, as Lookup
		reqs = append(reqs, s)
	}, func(dd Decision) {
		if decided[dd.RequestID] {
			return // the first decision stands (Decide never writes a second)
		}
		decided[dd.RequestID] = true
		decs = append(decs, dd)
	})
	if err != nil {
		return Listing{}, err
	}
	var l Listing
	for _, s := range reqs {
		if !decided[s.Request.ID] {
			l.Pending = append(l.Pending, s)
		}
	}
	for i := len(decs) - 1; i >= 0 && len(l.Decided) < recent; i-- {
		j, ok := byID[decs[i].RequestID]
		if !ok {
			continue
		}
		l.Decided = append(l.Decided, Decided{Stored: reqs[j], Decision: decs[i]})
	}
	return l, nil
}

package run

import (
	"context"
	"testing"
	"time"
)

// TestStampsAreWallPlusOffset checks at against the plain definition,
// r.wall.Add(d), across second carries and for a start of any sign.
func TestStampsAreWallPlusOffset(t *testing.T) {
	starts := []time.Time{
		time.Now(),
		time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC), // before the Unix epoch
		time.Unix(0, 0),
	}
	offsets := []time.Duration{0, 1, 999_999_999, time.Second, time.Second + 1, 3*time.Hour + 7, 250 * time.Hour}
	for _, start := range starts {
		r := &Run{wall: start.Round(0).UTC()}
		r.wallNs = r.wall.UnixNano()
		for _, d := range offsets {
			got, want := r.at(d), r.wall.Add(d)
			if got != want { // == on purpose: same instant, same location, no monotonic reading
				t.Errorf("at(%v) from %v = %#v, want %#v", d, start, got, want)
			}
			if got.Location() != time.UTC {
				t.Errorf("at(%v) is in %v, want UTC", d, got.Location())
			}
		}
	}
}

type otherKey struct{}

// TestRunContextFoundAndPassedOn checks the run's own context type: the
// run is found in it and in contexts derived from it, other values and
// cancellation come from its parent, and a cancel derived from it is
// seen.
func TestRunContextFoundAndPassedOn(t *testing.T) {
	rec := New()
	parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "v"))
	ctx, r := rec.Start(parent, "task")
	defer r.End(nil)
	if FromContext(ctx) != r {
		t.Fatal("the run is not found in the context Start returned")
	}
	derived, cancel := context.WithCancel(context.WithValue(ctx, otherKey{}, "w"))
	defer cancel()
	if FromContext(derived) != r {
		t.Fatal("the run is not found in a context derived from the run's")
	}
	if got := ctx.Value(otherKey{}); got != "v" {
		t.Fatalf("a parent value through the run's context = %v, want v", got)
	}
	if FromContext(parent) != nil {
		t.Fatal("a run found in the parent context")
	}
	cancelParent()
	<-derived.Done() // the parent's cancellation reaches contexts derived from the run's
	if ctx.Err() == nil {
		t.Fatal("the run's context is not cancelled with its parent")
	}
}

package rrm

import (
	"container/list"
	"sync"

	"github.com/reagent-go/reagent/trajectory"
)

// Cache stores successful assessments by key, so that judging the same
// rendered trajectory with the same model and prompt again costs nothing.
// Implementations must be safe for concurrent use. Failed judgments are
// never cached.
type Cache interface {
	Get(key string) (trajectory.Assessment, bool)
	Put(key string, a trajectory.Assessment)
}

// LRU is an in-memory Cache that keeps the most recently used entries.
type LRU struct {
	mu    sync.Mutex
	size  int
	ll    *list.List
	items map[string]*list.Element
}

type lruEntry struct {
	key string
	a   trajectory.Assessment
}

// NewLRU returns an LRU cache holding at most size entries (at least 1).
func NewLRU(size int) *LRU {
	if size < 1 {
		size = 1
	}
	return &LRU{size: size, ll: list.New(), items: make(map[string]*list.Element, size)}
}

// Get returns the assessment stored under key and marks it recently used.
func (c *LRU) Get(key string) (trajectory.Assessment, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return trajectory.Assessment{}, false
	}
	c.ll.MoveToFront(e)
	return cloneAssessment(e.Value.(*lruEntry).a), true
}

// Put stores a under key, evicting the least recently used entry when full.
func (c *LRU) Put(key string, a trajectory.Assessment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a = cloneAssessment(a)
	if e, ok := c.items[key]; ok {
		e.Value.(*lruEntry).a = a
		c.ll.MoveToFront(e)
		return
	}
	c.items[key] = c.ll.PushFront(&lruEntry{key: key, a: a})
	for c.ll.Len() > c.size {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*lruEntry).key)
	}
}

// Len returns the number of entries.
func (c *LRU) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

func cloneAssessment(a trajectory.Assessment) trajectory.Assessment {
	a.Notes = append([]string(nil), a.Notes...)
	return a
}

// flights are the judgments in flight, by cache key, so that identical
// judgments asked for at once share one request.
type flights struct {
	mu    sync.Mutex
	calls map[string]*flight
}

// flight is one judgment in flight; done closes when a is set.
type flight struct {
	done      chan struct{}
	a         trajectory.Assessment
	abandoned bool // the judging caller's context ended: a is not the judgment
}

// join returns the flight for key and whether the caller must judge it
// (it started the flight) or wait for it.
func (f *flights) join(key string) (*flight, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.calls[key]; ok {
		return c, false
	}
	if f.calls == nil {
		f.calls = make(map[string]*flight)
	}
	c := &flight{done: make(chan struct{})}
	f.calls[key] = c
	return c, true
}

// finish hands a to the flight's waiters and ends the flight.
func (f *flights) finish(key string, c *flight, a trajectory.Assessment, abandoned bool) {
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	c.a, c.abandoned = cloneAssessment(a), abandoned
	close(c.done)
}

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

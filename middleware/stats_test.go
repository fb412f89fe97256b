package middleware_test

import (
	"runtime"
	"time"
)

// runtimeStats samples wall time and the process's allocation count.
type runtimeStats struct {
	ns      int64
	mallocs uint64
}

// start and stop read the allocation count outside the timed interval:
// runtime.ReadMemStats stops the world, which would otherwise be timed.
func (s *runtimeStats) start() {
	s.mallocs = mallocs()
	s.ns = time.Now().UnixNano()
}

func (s *runtimeStats) stop() {
	s.ns = time.Now().UnixNano()
	s.mallocs = mallocs()
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

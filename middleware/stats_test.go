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

func (s *runtimeStats) read() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s.ns = time.Now().UnixNano()
	s.mallocs = m.Mallocs
}

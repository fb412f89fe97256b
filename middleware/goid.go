package middleware

import "runtime"

// goid returns the current goroutine's id. langchaingo's executor calls Plan
// and then each tool on the same goroutine, but hands tools the caller's
// context rather than ours, so the goroutine is the one thing that ties a
// tool call to its run when several runs share a context. It walks the
// stack (microseconds), so the registry calls it once per run and for
// ambiguous tool calls only.
func goid() uint64 {
	var buf [40]byte
	n := runtime.Stack(buf[:], false)
	// The trace starts with "goroutine 123 [".
	const prefix = len("goroutine ")
	var id uint64
	for i := prefix; i < n; i++ {
		c := buf[i]
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

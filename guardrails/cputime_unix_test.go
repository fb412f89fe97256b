//go:build unix

package guardrails

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used (user and system),
// which, unlike wall time, does not grow while other processes hold the
// CPU: benchmarks on a shared machine report it next to wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

//go:build !unix

package guardrails

import "time"

var start = time.Now()

// processCPU falls back to wall time where getrusage is not available.
func processCPU() time.Duration { return time.Since(start) }

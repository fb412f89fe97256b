//go:build race

package conformance_test

// raceEnabled reports whether this test binary was built with -race; the
// upstream harness then runs langchaingo's tests with -race as well.
const raceEnabled = true

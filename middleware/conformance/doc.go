// Package conformance holds tests only: it checks that middleware.Wrap is
// transparent to langchaingo. It runs langchaingo's own agents tests bare and
// through Wrap (upstream_test.go) and a suite of scripted scenarios
// (transparency_test.go) that must give the same results bare and wrapped.
package conformance

package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runFunc is the signature of a subcommand.
type runFunc func(context.Context, *cli, []string) error

// testCLI returns a cli whose environment is env, whose input is stdin and
// whose output goes to the returned buffers.
func testCLI(env map[string]string, stdin string) (c *cli, stdout, stderr *syncBuffer) {
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	c = &cli{Stdout: stdout, Stderr: stderr, Stdin: strings.NewReader(stdin), Getenv: func(k string) string { return env[k] }}
	return c, stdout, stderr
}

// runCLI runs one subcommand to its end with env as its environment and no
// input, and returns what it wrote.
func runCLI(run runFunc, env map[string]string, args ...string) (stdout, stderr string, err error) {
	c, out, errb := testCLI(env, "")
	err = run(context.Background(), c, args)
	return out.String(), errb.String(), err
}

// serveCLI runs a serving subcommand until the test ends, stopping it by
// cancelling its context, and returns the URL its startup line names (the
// first group of addr) and its output.
func serveCLI(t *testing.T, name string, run runFunc, env map[string]string, addr *regexp.Regexp, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, out, errb := testCLI(env, "")
	done := make(chan error, 1)
	go func() { done <- run(ctx, c, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "%s must stop cleanly when its context ends", name)
		case <-time.After(15 * time.Second):
			t.Errorf("%s did not stop within 15s of cancellation", name)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		select {
		case err := <-done:
			t.Fatalf("%s exited early: %v\nstderr: %s", name, err, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not report its address; stdout: %q stderr: %q", name, out.String(), errb.String())
	return "", nil
}

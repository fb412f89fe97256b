// Package progress draws a one-line progress bar on a terminal for long
// command-line work. When the writer is not a terminal (a file, a pipe, a
// test buffer) it stays quiet and prints only a final summary line.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar is a progress bar. Its methods are safe for concurrent use, so
// workers can call Add directly.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	total    int
	done     int
	label    string
	tty      bool
	start    time.Time
	drawn    time.Time
	finished bool
	every    time.Duration
}

// Option configures a Bar.
type Option func(*Bar)

// WithTerminal forces drawing on (true) or off (false), overriding the
// terminal detection.
func WithTerminal(on bool) Option { return func(b *Bar) { b.tty = on } }

// WithInterval sets the least time between redraws (default 100ms).
func WithInterval(d time.Duration) Option { return func(b *Bar) { b.every = d } }

// New returns a bar for total items (0 when unknown) that writes to w,
// drawing only when w is a terminal.
func New(w io.Writer, total int, label string, opts ...Option) *Bar {
	b := &Bar{w: w, total: max(total, 0), label: label, tty: isTerminal(w), start: time.Now(), every: 100 * time.Millisecond}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Add records n more items done and redraws if enough time has passed.
func (b *Bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.done += n
	if !b.tty {
		return
	}
	if now := time.Now(); now.Sub(b.drawn) >= b.every || (b.total > 0 && b.done >= b.total) {
		b.drawn = now
		fmt.Fprintf(b.w, "\r\033[K%s", b.line(now))
	}
}

// Done ends the bar with a final line: the count, the time taken and the
// rate. Later calls to Add and Done do nothing.
func (b *Bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	el := time.Since(b.start)
	count := fmt.Sprint(b.done)
	if b.total > 0 {
		count = fmt.Sprintf("%d/%d", b.done, b.total)
	}
	prefix := ""
	if b.tty {
		prefix = "\r\033[K"
	}
	fmt.Fprintf(b.w, "%s%s: %s done in %s (%s)\n", prefix, b.label, count, el.Round(time.Millisecond), rate(b.done, el))
}

// line renders the bar: label, bar, count, percent, rate and ETA.
func (b *Bar) line(now time.Time) string {
	el := now.Sub(b.start)
	if b.total == 0 {
		return fmt.Sprintf("%s: %d (%s)", b.label, b.done, rate(b.done, el))
	}
	const width = 24
	frac := min(float64(b.done)/float64(b.total), 1)
	fill := int(frac * width)
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	eta := "?"
	if b.done > 0 {
		left := time.Duration(float64(el) / float64(b.done) * float64(b.total-b.done))
		eta = left.Round(time.Second).String()
	}
	return fmt.Sprintf("%s [%s] %d/%d %3.0f%% %s ETA %s", b.label, bar, b.done, b.total, frac*100, rate(b.done, el), eta)
}

func rate(n int, el time.Duration) string {
	if el <= 0 {
		return "- /s"
	}
	return fmt.Sprintf("%.1f/s", float64(n)/el.Seconds())
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

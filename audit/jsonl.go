package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/trajectory"
)

// JSONLWriter writes one trajectory per line, with its assessments, in the
// trajectory package's JSON form. Trajectories are redacted first (the
// default redactor unless WithRedactor says otherwise). It is safe for
// concurrent use; each line is written with a single Write call.
type JSONLWriter struct {
	mu  sync.Mutex
	w   io.Writer
	red *redact.Redactor
	buf []byte
	n   int
}

// NewJSONL returns a writer of JSON lines to w. Only WithRedactor applies.
func NewJSONL(w io.Writer, opts ...Option) *JSONLWriter {
	return &JSONLWriter{w: w, red: newConfig(opts).redactor}
}

// Write writes t as one line. t is not modified.
func (j *JSONLWriter) Write(t *trajectory.Trajectory) error {
	if t == nil {
		return errors.New("audit: jsonl: write nil trajectory")
	}
	b, err := trajectory.Marshal(j.red.Trajectory(t))
	if err != nil {
		return fmt.Errorf("audit: jsonl: run %q: %w", t.ID, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = append(append(j.buf[:0], b...), '\n')
	if _, err := j.w.Write(j.buf); err != nil {
		return fmt.Errorf("audit: jsonl: write run %q: %w", t.ID, err)
	}
	j.n++
	return nil
}

// Count returns how many trajectories were written.
func (j *JSONLWriter) Count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n
}

// MaxJSONLLine bounds one line of a JSONL file read by JSONLReader.
const MaxJSONLLine = 64 << 20

// JSONLReader reads trajectories written one per line. Blank lines are
// skipped; any other line that is not a trajectory is an error naming its
// line number.
type JSONLReader struct {
	r    *bufio.Reader
	line int
}

// NewJSONLReader returns a reader of JSON lines from r.
func NewJSONLReader(r io.Reader) *JSONLReader {
	return &JSONLReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next trajectory, or io.EOF after the last one.
func (j *JSONLReader) Next() (*trajectory.Trajectory, error) {
	for {
		line, err := j.readLine()
		if err != nil {
			return nil, err
		}
		j.line++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		t, err := trajectory.Unmarshal(line)
		if err != nil {
			return nil, fmt.Errorf("audit: jsonl line %d: %w", j.line, err)
		}
		return t, nil
	}
}

// readLine returns the next line without its newline, io.EOF at the end.
func (j *JSONLReader) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := j.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxJSONLLine {
			return nil, fmt.Errorf("audit: jsonl line %d is longer than %d bytes", j.line+1, MaxJSONLLine)
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, io.EOF
			}
			return line, nil
		default:
			return nil, fmt.Errorf("audit: jsonl line %d: %w", j.line+1, err)
		}
	}
}

// ReadJSONL reads every trajectory from r.
func ReadJSONL(r io.Reader) ([]*trajectory.Trajectory, error) {
	jr := NewJSONLReader(r)
	var out []*trajectory.Trajectory
	for {
		t, err := jr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, t)
	}
}

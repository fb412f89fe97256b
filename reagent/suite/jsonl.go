package suite

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxLine bounds one JSONL line (a task with a long solution fits easily).
const maxLine = 4 << 20

// LineError is a problem with one line of a JSONL suite.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string {
	name := e.File
	if name == "" {
		name = "tasks"
	}
	return fmt.Sprintf("%s:%d: %v", name, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// ReadJSONL reads tasks, one JSON object per line ({id, question, answer,
// suite, tools} plus the optional reward, split, metadata and solution).
// Blank lines are skipped; unknown fields, missing fields and duplicate ids
// are errors that name the line (name is used in messages). Every bad line
// is reported, joined, up to 20 of them.
func ReadJSONL(r io.Reader, name string) ([]Task, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	var (
		tasks []Task
		errs  []error
		seen  = map[string]int{}
		line  int
	)
	add := func(err error) { errs = append(errs, &LineError{File: name, Line: line, Err: err}) }
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if len(errs) >= 20 {
			errs = append(errs, fmt.Errorf("%s: too many errors, stopped at line %d", name, line))
			break
		}
		var t Task
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&t); err != nil {
			add(fmt.Errorf("invalid task: %w", err))
			continue
		}
		if dec.More() {
			add(errors.New("more than one JSON value on the line"))
			continue
		}
		if err := t.Validate(); err != nil {
			add(err)
			continue
		}
		if first, dup := seen[t.ID]; dup {
			add(fmt.Errorf("duplicate id %q (first on line %d)", t.ID, first))
			continue
		}
		seen[t.ID] = line
		tasks = append(tasks, t)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", maxLine)
		}
		errs = append(errs, &LineError{File: name, Line: line + 1, Err: err})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(tasks) == 0 {
		return nil, fmt.Errorf("%s: no tasks", name)
	}
	return tasks, nil
}

// LoadJSONL reads a JSONL suite from a file.
func LoadJSONL(path string) ([]Task, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	defer f.Close()
	return ReadJSONL(f, path)
}

// WriteJSONL writes tasks one per line, in the format ReadJSONL reads.
func WriteJSONL(w io.Writer, tasks []Task) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range tasks {
		if err := enc.Encode(&tasks[i]); err != nil {
			return fmt.Errorf("suite: writing task %s: %w", tasks[i].ID, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("suite: writing tasks: %w", err)
	}
	return nil
}

// IsFile reports whether a --suite argument names a JSONL file rather than
// a built-in suite.
func IsFile(s string) bool {
	return strings.HasSuffix(s, ".jsonl") || strings.HasSuffix(s, ".json") || strings.ContainsRune(s, os.PathSeparator)
}

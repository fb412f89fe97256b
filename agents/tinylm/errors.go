package tinylm

import (
	"errors"
	"fmt"
)

// ErrInvalidInput is matched (with errors.Is) by every error about the
// caller's input: messages the template cannot render, a prompt longer
// than the context, out-of-range options. A server answers those with 400.
var ErrInvalidInput = errors.New("invalid input")

// inputError is an error about the caller's input.
type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInvalidInput }

// invalidf formats an input error; messages start with "tinylm: ".
func invalidf(format string, args ...any) error {
	return &inputError{msg: "tinylm: " + fmt.Sprintf(format, args...)}
}

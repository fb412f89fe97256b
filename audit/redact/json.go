package redact

import "encoding/json"

// JSON returns m with secrets removed, as the JSON fields of a trajectory
// are redacted (a tool's parameter schema): the text rules run over the
// whole document, and where a replacement would cut through JSON syntax
// the decoded strings (keys and values) are redacted one by one instead.
// The result is valid JSON whenever m is; m itself is never modified, and
// it is returned as is when it holds no secret. Text that is not JSON comes
// back as a redacted JSON string.
func (r *Redactor) JSON(m json.RawMessage) json.RawMessage {
	if r == nil || len(m) == 0 {
		return m
	}
	(&rewriter{r: r}).raw(&m)
	return m
}

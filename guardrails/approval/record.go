package approval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/reagent-go/reagent/audit/redact"
)

// recordVersion is the format of the approval-request records Durable
// writes: the readable part redacted, the exact call sealed (or, without a
// seal key, not kept when redaction changed it). Records without a version
// were written before: request and state stored as given.
const recordVersion = 2

// requestRecord is the payload of an approval-request record.
type requestRecord struct {
	// Version is recordVersion, or 0 for a record written before
	// redaction (everything stored as given).
	Version int `json:"v,omitempty"`
	// Request is the call, redacted (version 2).
	Request Request `json:"request"`
	Host    string  `json:"host,omitempty"`
	// State is the host's resume state, redacted; absent when sealed.
	State json.RawMessage `json:"state,omitempty"`
	// Redacted reports that redaction changed the request or the state.
	Redacted bool `json:"redacted,omitempty"`
	// Sealed is the exact call (an exactCall), encrypted; nil without a
	// seal key.
	Sealed *sealed `json:"sealed,omitempty"`
}

// exactCall is the plaintext of a record's sealed part.
type exactCall struct {
	Request Request         `json:"request"`
	State   json.RawMessage `json:"state"`
}

// redactRequest returns req with secrets removed from its free text (tool
// name, call ID, input, observation, answer, task, escalations) and
// whether that changed anything. IDs, the event, the step and the times
// are kept: they name the record.
func redactRequest(r *redact.Redactor, req Request) (Request, bool) {
	if r == nil {
		return req, false
	}
	out := req
	out.Escalations = append([]Escalation(nil), req.Escalations...)
	fields := []*string{&out.Tool, &out.CallID, &out.Input, &out.Observation, &out.Answer, &out.Task}
	for i := range out.Escalations {
		fields = append(fields, &out.Escalations[i].Guard, &out.Escalations[i].Reason)
	}
	changed := false
	for _, p := range fields {
		if red := r.String(*p); red != *p {
			*p, changed = red, true
		}
	}
	if !changed {
		return req, false
	}
	return out, true
}

// encodeRequest builds the record of a paused call: redacted, and sealed
// under d's seal key when it has one.
func (d *Durable) encodeRequest(req Request, host string, state json.RawMessage) (json.RawMessage, Request, error) {
	red, reqChanged := redactRequest(d.redactor, req)
	redState := d.redactor.JSON(state)
	rec := requestRecord{Version: recordVersion, Request: red, Host: host,
		Redacted: reqChanged || !bytes.Equal(redState, state)}
	if d.sealWith == nil {
		rec.State = redState
	} else {
		plain, err := json.Marshal(exactCall{Request: req, State: state})
		if err != nil {
			return nil, Request{}, fmt.Errorf("encode the call to seal: %w", err)
		}
		if rec.Sealed, err = d.sealWith.seal(plain, req.RunID, req.ID); err != nil {
			return nil, Request{}, err
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, Request{}, fmt.Errorf("encode request: %w", err)
	}
	return b, red, nil
}

// decodeRequest parses an approval-request record's payload, of either
// format, and checks its shape. It decrypts nothing.
func decodeRequest(payload []byte) (requestRecord, error) {
	var rec requestRecord
	if err := json.Unmarshal(payload, &rec); err != nil {
		return requestRecord{}, err
	}
	switch {
	case rec.Request.ID == "":
		return requestRecord{}, errors.New("the request has no id")
	case rec.Version != 0 && rec.Version != recordVersion:
		return requestRecord{}, fmt.Errorf("unknown record format %d (written by a newer reagent?)", rec.Version)
	case rec.Version == 0 && (rec.Sealed != nil || rec.Redacted):
		return requestRecord{}, errors.New("a record without a format version has no redacted or sealed parts")
	case rec.Sealed != nil && rec.State != nil:
		return requestRecord{}, errors.New("a sealed record keeps no readable state")
	}
	return rec, nil
}

// readable is the form Lookup and Pending give: the redacted request, and
// the state only when it is exactly the host's (nothing redacted, nothing
// sealed). A record written before redaction is redacted now, as it is
// read.
func (d *Durable) readable(rec requestRecord) Stored {
	st := Stored{Request: rec.Request, Host: rec.Host, Redacted: rec.Redacted, Sealed: rec.Sealed != nil}
	if rec.Version == 0 {
		var changed bool
		st.Request, changed = redactRequest(d.redactor, rec.Request)
		st.Redacted = changed || !bytes.Equal(d.redactor.JSON(rec.State), rec.State)
	}
	if !st.Redacted && !st.Sealed {
		st.State = rec.State
	}
	return st
}

// exact is the form Unseal gives: the call exactly as it paused.
func (d *Durable) exact(rec requestRecord) (Stored, error) {
	switch {
	case rec.Version == 0:
		return Stored{Request: rec.Request, Host: rec.Host, State: rec.State}, nil
	case rec.Sealed == nil && rec.Redacted:
		return Stored{}, fmt.Errorf("%w: request %s cannot be resumed; deny it (reagent approve --deny %s), and set %s (approval.WithSealKey) so that later requests keep a sealed exact copy",
			ErrRedactedOnly, rec.Request.ID, rec.Request.ID, EnvSealKey)
	case rec.Sealed == nil:
		return Stored{Request: rec.Request, Host: rec.Host, State: rec.State}, nil
	}
	plain, err := d.open(rec.Sealed, rec.Request.RunID, rec.Request.ID)
	if err != nil {
		return Stored{}, fmt.Errorf("request %s: %w", rec.Request.ID, err)
	}
	var call exactCall
	if err := json.Unmarshal(plain, &call); err != nil {
		return Stored{}, fmt.Errorf("request %s: %w: the sealed call does not decode: %v", rec.Request.ID, ErrSealBroken, err)
	}
	if call.Request.ID != rec.Request.ID || call.Request.RunID != rec.Request.RunID {
		return Stored{}, fmt.Errorf("request %s: %w: the sealed call is request %s of run %s", rec.Request.ID, ErrSealBroken, call.Request.ID, call.Request.RunID)
	}
	return Stored{Request: call.Request, Host: rec.Host, State: call.State, Redacted: rec.Redacted, Sealed: true}, nil
}

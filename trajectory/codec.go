package trajectory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNewerSchema is returned when a record was written by a newer reagent.
var ErrNewerSchema = errors.New("trajectory: written by a newer schema version; upgrade reagent to read it")

// Marshal returns the JSON form of t, stamped with the current schema version.
func Marshal(t *Trajectory) ([]byte, error) {
	if t == nil {
		return nil, errors.New("trajectory: marshal nil trajectory")
	}
	c := *t
	c.SchemaVersion = SchemaVersion
	return json.Marshal(&c)
}

// Unmarshal parses the JSON form of a trajectory. It rejects unknown schema
// versions, and data that is not a JSON object, with an error that says so.
func Unmarshal(data []byte) (*Trajectory, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errors.New("trajectory: not a JSON object")
	}
	var t Trajectory
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("trajectory: decode: %w", err)
	}
	switch {
	case t.SchemaVersion > SchemaVersion:
		return nil, fmt.Errorf("%w (record has version %d, this build reads %d)", ErrNewerSchema, t.SchemaVersion, SchemaVersion)
	case t.SchemaVersion < 1:
		return nil, fmt.Errorf("trajectory: missing or invalid schema_version %d", t.SchemaVersion)
	}
	return &t, nil
}

package audit

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/trajectory"
)

// maxRunID bounds run IDs so that they stay usable as keys everywhere.
const maxRunID = 512

func checkRunID(id string) error {
	switch {
	case id == "":
		return errors.New("audit: run ID is empty; give every trajectory an ID")
	case len(id) > maxRunID:
		return fmt.Errorf("audit: run ID is %d bytes long, more than %d", len(id), maxRunID)
	case !utf8.ValidString(id):
		return fmt.Errorf("audit: run ID %q is not valid UTF-8", id)
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return fmt.Errorf("audit: run ID %q contains control characters", id)
	}
	return nil
}

// prepareTrajectory redacts, serialises and indexes t on the caller's
// goroutine, so the writer only hashes and inserts. t is not modified.
func prepareTrajectory(r *redact.Redactor, t *trajectory.Trajectory) (*item, error) {
	if t == nil {
		return nil, errors.New("audit: append nil trajectory")
	}
	t = r.Trajectory(t)
	if err := checkRunID(t.ID); err != nil {
		return nil, err
	}
	text, digest, err := canonicalTrajectoryText(t)
	if err != nil {
		return nil, fmt.Errorf("audit: run %q: %w", t.ID, err)
	}
	it := &item{
		kind:    KindTrajectory,
		runID:   t.ID,
		text:    text,
		digest:  digest,
		status:  indexText(string(t.Status)),
		blocked: isBlocked(t),
	}
	if !t.StartedAt.IsZero() {
		it.startedAt = t.StartedAt.UnixNano()
	}
	for i := len(t.Assessments) - 1; i >= 0; i-- {
		if t.Assessments[i].OK() {
			s := t.Assessments[i].Score
			it.score = &s
			break
		}
	}
	if len(t.Metadata) > 0 {
		it.meta = make(map[string]string, len(t.Metadata))
		for k, v := range t.Metadata {
			it.meta[indexText(k)] = indexText(v)
		}
	}
	return it, nil
}

func prepareAssessment(r *redact.Redactor, runID string, a trajectory.Assessment) (*item, error) {
	runID = r.String(runID)
	if err := checkRunID(runID); err != nil {
		return nil, err
	}
	a = r.Assessment(a)
	payload, err := canonicalAssessment(&a)
	if err != nil {
		return nil, fmt.Errorf("audit: assessment of run %q: %w", runID, err)
	}
	return &item{
		kind:     KindAssessment,
		runID:    runID,
		payload:  payload,
		digest:   payloadDigest(payload),
		assessOK: a.OK(),
		assess:   a.Score,
	}, nil
}

// isBlocked reports whether a guard blocked anything in the run.
func isBlocked(t *trajectory.Trajectory) bool {
	for _, s := range t.Steps {
		for _, c := range s.Calls {
			if c.Blocked {
				return true
			}
		}
	}
	for _, d := range t.Decisions {
		if d.Verdict == trajectory.Block {
			return true
		}
	}
	return false
}

// indexText makes s storable in index columns on every backend (PostgreSQL
// text rejects NUL and invalid UTF-8); the payload keeps the exact text.
func indexText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

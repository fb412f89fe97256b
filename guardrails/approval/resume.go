package approval

import (
	"context"
	"fmt"

	"github.com/reagent-go/reagent/audit"
)

// Metadata keys of a run resumed from an approval request, whichever host
// resumed it.
const (
	// MetaResumedFrom names the paused run a resumed run continues.
	MetaResumedFrom = "reagent.resumed_from"
	// MetaApprovalRequest names the approval request a resumed run acted on.
	MetaApprovalRequest = "reagent.approval_request"
)

// ForResume returns what a host needs to resume the run of a request: the
// exact request (Unseal: a sealed one needs d's key) and its decision. It
// refuses a request that is still pending, one paused by another host than
// host, and one that a resumed run (a stored run whose
// MetaApprovalRequest names it) already acted on; two resumes of one
// request at the same moment are not excluded. The errors name the request
// and say what to do.
func (d *Durable) ForResume(ctx context.Context, requestID, host string) (Stored, Decision, error) {
	st, dec, err := d.Unseal(ctx, requestID)
	if err != nil {
		return Stored{}, Decision{}, err
	}
	if dec == nil {
		return Stored{}, Decision{}, fmt.Errorf("request %s is still pending; approve or deny it first (reagent approve --db … %s [--deny])", requestID, requestID)
	}
	if st.Host != host {
		return Stored{}, Decision{}, fmt.Errorf("request %s was paused by the %q host, not %s", requestID, st.Host, host)
	}
	if err := d.store.Flush(ctx); err != nil { // a resume just made must be visible
		return Stored{}, Decision{}, err
	}
	done, err := d.store.List(ctx, audit.Query{Metadata: map[string]string{MetaApprovalRequest: requestID}, Limit: 1})
	if err != nil {
		return Stored{}, Decision{}, fmt.Errorf("look for an earlier resume: %w", err)
	}
	if len(done) > 0 {
		return Stored{}, Decision{}, fmt.Errorf("request %s was already resumed by run %s", requestID, done[0].ID)
	}
	return st, *dec, nil
}

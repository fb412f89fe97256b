package approval

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// DecisionHandler is the webhook path for durable approvals: an approval
// service POSTs a signed decision {"id", "approved", "by", "reason"} (the
// body signed with HMAC-SHA256 in SignatureHeader, as WebhookApprover
// signs its requests), and the handler records it in d's chain. It answers
// 200 with the signed recorded decision, 401 for a missing or bad
// signature, 400 for a malformed body or a decision without "approved" or
// "by", 404 for an unknown request and 409 for one already decided. Resume
// the run afterwards (middleware.Executor.Resume).
func DecisionHandler(secret []byte, d *Durable) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readSigned(w, r, secret)
		if !ok {
			return
		}
		var ans webhookAnswer
		if err := json.Unmarshal(body, &ans); err != nil || ans.Approved == nil || ans.ID == "" || strings.TrimSpace(ans.By) == "" {
			http.Error(w, `decision must be JSON {"id": string, "approved": bool, "by": string, "reason": string}`, http.StatusBadRequest)
			return
		}
		dec, err := d.Decide(r.Context(), ans.ID, Resolution{Approved: *ans.Approved, By: ans.By, Reason: ans.Reason})
		switch {
		case errors.Is(err, ErrUnknownRequest):
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		case errors.Is(err, ErrDecided):
			http.Error(w, err.Error(), http.StatusConflict)
			return
		case CannotResume(err):
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		case err != nil:
			http.Error(w, "decision not recorded: "+err.Error(), http.StatusInternalServerError)
			return
		}
		out, _ := json.Marshal(dec)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(SignatureHeader, Sign(secret, out))
		w.Write(out)
	})
}

// CannotResume reports whether err says that a run could not resume from
// its request (Decide's refusal to approve it, or Unseal's error): the
// call was stored redacted only, or its sealed copy does not open.
func CannotResume(err error) bool {
	return errors.Is(err, ErrRedactedOnly) || errors.Is(err, ErrSealKey) || errors.Is(err, ErrSealBroken)
}

package approval_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/reagent-go/reagent/guardrails/approval"
)

// FuzzDecisionHandler posts arbitrary signed bodies: the handler never
// panics, answers one of its documented statuses, and records a decision
// (200) only for a well-formed decision on the one pending request, once.
func FuzzDecisionHandler(f *testing.F) {
	store := openStore(f)
	d, err := approval.NewDurable(store)
	if err != nil {
		f.Fatal(err)
	}
	req := pause(f, d, store)
	f.Add([]byte(`{"id":"` + req.ID + `","approved":true,"by":"carol"}`))
	f.Add([]byte(`{"id":"` + req.ID + `","approved":"yes","by":"carol"}`))
	f.Add([]byte(`{"id":"x","approved":false,"by":" "}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"id":"` + req.ID + `","approved":null,"by":"carol"}`))
	secret := []byte("k")
	h := approval.DecisionHandler(secret, d)
	decided := false
	f.Fuzz(func(t *testing.T, body []byte) {
		hr := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		hr.Header.Set(approval.SignatureHeader, approval.Sign(secret, body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, hr)
		switch w.Code {
		case http.StatusOK:
			var m struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(body, &m) != nil || m.ID != req.ID {
				t.Fatalf("decision recorded for %q from body %q", m.ID, body)
			}
			if decided {
				t.Fatalf("second decision recorded from body %q", body)
			}
			decided = true
		case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
		default:
			t.Fatalf("status %d for body %q: %s", w.Code, body, w.Body)
		}
	})
}

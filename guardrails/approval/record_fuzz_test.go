package approval

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/trajectory"
)

// FuzzDecodeRequestRecord feeds arbitrary approval-request payloads to the
// record decoder and to both read paths. Nothing panics; the readable form
// never offers a state that is not the host's exact one; a record that
// carried a secret without a seal never unseals; and a sealed part opens
// only as the call that was sealed, in the record it was sealed for.
func FuzzDecodeRequestRecord(f *testing.F) {
	key := make([]byte, SealKeySize)
	for i := range key {
		key[i] = byte(i * 7)
	}
	d := &Durable{host: "langchaingo", redactor: redact.Default()}
	WithSealKey(key)(d)
	if d.err != nil {
		f.Fatal(d.err)
	}
	const input = "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.Zm9vYmFyYmF6cXV4cXV1eA' https://api.example.com"
	sealedReq := Request{ID: "req-1", Event: trajectory.EventToolCall, Tool: "shell", Input: input, RunID: "run-1",
		Escalations: []Escalation{{Guard: "tools", Reason: "shell needs approval"}}}
	state := json.RawMessage(`{"plans":[],"key":"AKIAZ7Q3K5LMNPRT2WXY"}`)
	sealedPayload, _, err := d.encodeRequest(sealedReq, d.host, state)
	if err != nil {
		f.Fatal(err)
	}
	keyless := &Durable{host: "eino", redactor: d.redactor}
	redactedPayload, _, err := keyless.encodeRequest(sealedReq, keyless.host, state)
	if err != nil {
		f.Fatal(err)
	}
	plainPayload, _, err := keyless.encodeRequest(Request{ID: "req-2", Event: trajectory.EventToolCall, Tool: "wire", Input: "send $5", RunID: "run-2"}, keyless.host, json.RawMessage(`{"plans":[]}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(sealedPayload))
	f.Add([]byte(redactedPayload))
	f.Add([]byte(plainPayload))
	f.Add([]byte(`{"request":{"id":"legacy","tool":"wire","input":"AKIAZ7Q3K5LMNPRT2WXY"},"host":"langchaingo","state":{"a":1}}`))
	f.Add([]byte(`{"v":2,"request":{"id":"x","run_id":"r"},"sealed":{"alg":"A256GCM","kid":"` + SealKeyID(key) + `","nonce":"AAAAAAAAAAAAAAAA","data":""}}`))
	f.Add([]byte(`{"v":3,"request":{"id":"x"}}`))
	f.Add([]byte(`{"request":{"id":"x"},"sealed":{}}`))
	f.Add([]byte(`{"v":2,"request":{"id":"x"},"sealed":null,"state":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		rec, err := decodeRequest(payload)
		if err != nil {
			return
		}
		if rec.Request.ID == "" {
			t.Fatalf("decoded a record without a request id from %q", payload)
		}
		shown := d.readable(rec)
		if shown.State != nil && (shown.Redacted || shown.Sealed) {
			t.Fatalf("readable form offers a state it calls redacted or sealed: %q", payload)
		}
		ex, err := d.exact(rec)
		switch {
		case rec.Sealed != nil:
			if err == nil {
				// Only the genuine sealed part opens, and only as the call
				// it sealed, in its own record.
				if ex.Request.Input != input || ex.Request.ID != rec.Request.ID || rec.Request.ID != "req-1" || rec.Request.RunID != "run-1" || !strings.Contains(string(ex.State), "AKIAZ7Q3K5LMNPRT2WXY") {
					t.Fatalf("a sealed part opened as %+v from %q", ex.Request, payload)
				}
			} else if !errors.Is(err, ErrSealBroken) && !errors.Is(err, ErrSealKey) {
				t.Fatalf("sealed record failed with an unexpected error %v", err)
			}
		case rec.Version == recordVersion && rec.Redacted:
			if !errors.Is(err, ErrRedactedOnly) {
				t.Fatalf("a redacted-only record unsealed (err %v): %q", err, payload)
			}
		default:
			if err != nil {
				t.Fatalf("an unsealed record that needs no key failed: %v", err)
			}
			if ex.Request.ID != rec.Request.ID || string(ex.State) != string(rec.State) {
				t.Fatalf("the exact form of an unsealed record is not the record: %q", payload)
			}
		}
	})
}

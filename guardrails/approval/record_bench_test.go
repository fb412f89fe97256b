package approval

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/trajectory"
)

// BenchmarkEncodeRequest measures what a pause costs to encode its
// approval-request record: "as-given" is the encoding before redaction
// (the baseline), "redacted" the keyless form, "sealed" the form with a
// seal key. The call is a wire tool call carrying a bearer token, with a
// langchaingo-sized resume state (3 replayed steps of ~1 KiB observations).
func BenchmarkEncodeRequest(b *testing.B) {
	obs := strings.Repeat("The invoice lists 3 items; the total is due on the 5th. ", 18)
	state := json.RawMessage(`{"version":1,"inputs":{"input":"pay the invoice"},"plans":[` +
		strings.Repeat(`{"actions":[{"tool":"lookup","tool_input":"invoice 42","log":"Thought: look it up"}],"observations":["`+obs+`"]},`, 3) +
		`{"actions":[{"tool":"wire","tool_input":"send $5","log":"Thought: pay"}],"observations":[]}]}`)
	req := Request{ID: NewRequestID(), Event: trajectory.EventToolCall, Tool: "wire", RunID: "run-1", Step: 3,
		Input:       `{"url":"https://api.example.com/pay","headers":{"Authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.Zm9vYmFyYmF6cXV4cXV1eA"},"amount":5}`,
		Escalations: []Escalation{{Guard: "tools", Reason: "wire needs approval"}}}
	red := redact.Default()
	key := make([]byte, SealKeySize)
	sealedD := &Durable{host: "langchaingo", redactor: red}
	WithSealKey(key)(sealedD)
	keyless := &Durable{host: "langchaingo", redactor: red}
	b.Run("as-given", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := json.Marshal(requestRecord{Request: req, Host: "langchaingo", State: state}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for name, d := range map[string]*Durable{"redacted": keyless, "sealed": sealedD} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, _, err := d.encodeRequest(req, d.host, state); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package redact_test

import (
	"os"
	"testing"

	"github.com/reagent-go/reagent/audit/redact"
)

// BenchmarkRedactReadme redacts the repository's README (~100 KB of prose,
// code and commands full of words such as token, key and auth).
func BenchmarkRedactReadme(b *testing.B) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		b.Fatal(err)
	}
	s := string(data)
	r := redact.Default()
	b.SetBytes(int64(len(s)))
	b.ResetTimer()
	for range b.N {
		_ = r.String(s)
	}
}

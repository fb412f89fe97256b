package redact_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit/redact"
	"github.com/reagent-go/reagent/trajectory"
)

func TestBuiltInRules(t *testing.T) {
	r := redact.Default()
	cases := []struct {
		rule, in, secret, keep string
	}{
		{"openai-key", "use sk-Qw3rTy8uIoPaSdFgHjKlZx01 now", "sk-Qw3rTy8uIoPaSdFgHjKlZx01", "use "},
		{"openai-key", "key=sk-proj-AbC_dEf-1234567890abcdef", "sk-proj-AbC_dEf-1234567890abcdef", ""},
		{"anthropic-api-key", "ANTHROPIC_API_KEY=sk-ant-api03-" + strings.Repeat("Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7", 3) + "A2b4C6d8E0f1AA", "sk-ant-api03-Ab3dE6", "ANTHROPIC_API_KEY="},
		{"stripe-key", "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe "},
		{"aws-access-key", "AWS_ID AKIAQ3EGRSWBYEXD4K7Q here", "AKIAQ3EGRSWBYEXD4K7Q", "AWS_ID "},
		{"github-token", "token ghp_0123456789abcdefghijABCDEFGHIJ012345", "ghp_0123456789abcdefghijABCDEFGHIJ012345", ""},
		{"github-token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop", ""},
		{"slack-bot-token", "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD", "xoxb-781236542736-2364535789652", ""},
		{"slack-app-token", "app token xapp-1-A052FGTS2DL-5171572773297-610b6a11f4b7eb819e87b767d80e6575a3634791acb9a9ead051da879eb5b55e", "xapp-1-A052FGTS2DL", "app token "},
		{"gcp-api-key", "key AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW done", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", "key "},
		{"huggingface-access-token", "HF_TOKEN=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", "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", "HF_TOKEN="},
		{"github-token", "ghs_0123456789abcdefghij_BCDEFGHIJ012345", "ghs_0123456789abcdefghij_BCDEFGHIJ012345", ""},
		{"stripe-key", "rk_prod_51HqLyjWDarjtT1zdp7dcAbC", "rk_prod_51HqLyjWDarjtT1zdp7dcAbC", ""},
		{"authorization-header", "Authorization: Api-Token 7f3a9c2e5b8d1f4a", "7f3a9c2e5b8d1f4a", "Authorization: Api-Token "},
		{"authorization-header", "authorization: SharedKey myaccount:ctzMq410TV3wS7upTBcunJTDLEJwMAZuFPfr0mrrA08=", "ctzMq410TV3wS7upTBcunJTDLEJwMAZuFPfr0mrrA08=", "authorization: SharedKey "},
		// gitleaks' curl rule masks user and password together.
		{"curl-auth-user", "curl -u admin:Tr0ub4dor https://api.example.com", "Tr0ub4dor", "curl -u "},
		{"curl-auth-user", `curl --user "deploy:s3cr3t-Pw" https://x`, "s3cr3t-Pw", `curl --user `},
		// Where gitleaks' rule does not fire (symbols it does not expect), the project's does.
		{"curl-user", "curl -X POST https://x -u admin:p!ss%w0rd", "p!ss%w0rd", "curl -X POST https://x -u admin:"},
		{"slack-webhook-url", "post to https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/x9Y8z7W6v5U4t3S2r1Q0pOnM", "x9Y8z7W6v5U4t3S2r1Q0pOnM", "post to "},
		{"jwt", "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "tok "},
		{"bearer-token", "Authorization: Bearer abc.DEF-123_xyz=", "abc.DEF-123_xyz=", "Bearer "},
		{"bearer-token", `{"headers":{"auth":"bearer opaque-token-value"}}`, "opaque-token-value", `"bearer `},
		{"authorization-header", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", "Authorization: Basic "},
		{"authorization-header", `{"Authorization": "Token 9f8e7d6c5b4a"}`, "9f8e7d6c5b4a", `"Authorization": "Token `},
		{"authorization-header", "proxy-authorization=rawsecretvalue", "rawsecretvalue", "proxy-authorization="},
		{"cookie-header", "Cookie: session=abcdef0123456789; theme=dark", "session=abcdef0123456789", "Cookie: "},
		{"url-password", "postgres://admin:s3cr3t!pw@db.internal:5432/app", "s3cr3t!pw", "postgres://admin:"},
		{"url-password", "fetch https://user:p%40ss@example.com/x", "p%40ss", "https://user:"},
		{"secret-assignment", "api_key=abcd1234efgh&x=1", "abcd1234efgh", "api_key="},
		{"secret-assignment", `{"password": "hunter2hunter2"}`, "hunter2hunter2", `{"password": "`},
		{"secret-assignment", "CLIENT_SECRET: 'zzz-top-secret'", "zzz-top-secret", "CLIENT_SECRET: '"},
		{"secret-assignment", "X-API-Key: k3y-v4lue-123", "k3y-v4lue-123", "X-API-Key: "},
		{"private-key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----\nafter", "MIIEpAIBAAKCAQEA", "after"},
		{"private-key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0ZbYwBCADH4xJ2c3F9nM7bQ8sR1tU5vW\n-----END PGP PRIVATE KEY BLOCK-----", "lQOYBF0ZbYwBCADH4x", ""},
		{"private-key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC (truncated", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", ""},
	}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.in[:min(len(c.in), 24)], func(t *testing.T) {
			out := r.String(c.in)
			assert.NotContains(t, out, c.secret)
			assert.Contains(t, out, "[REDACTED:"+c.rule+"]", "rule %s fires: %q", c.rule, out)
			assert.Contains(t, out, c.keep, "context is kept")
			assert.Equal(t, out, r.String(out), "redacting twice changes nothing")
		})
	}
}

func TestCleanTextUnchanged(t *testing.T) {
	r := redact.Default()
	for _, s := range []string{
		"",
		"The task-1234567890abcdefghijk is done",
		"We used 512 tokens: prompt_tokens=400",
		"Visit https://example.com/path?q=1 for details",
		"Reset your password via the link",
		"mailto:someone@example.com",
		"The key insight is that the cookie jar was empty.",
		"Bearer of bad news",
		"the bearer instruments were Responsibility of the bank",
	} {
		assert.Equal(t, s, r.String(s))
		assert.False(t, r.Contains(s), s)
	}
}

func TestRegisteredSecrets(t *testing.T) {
	r, err := redact.New(redact.WithSecrets("", "   ", "tiny-but-real-value"))
	require.NoError(t, err)
	assert.Equal(t, "x [REDACTED:secret] y", r.String("x tiny-but-real-value y"))
	assert.Equal(t, "blank stays", r.String("blank stays"))

	// Values registered later apply from then on, with their URL forms.
	r.AddSecrets("a b&c/d=e")
	out := r.String("raw a b&c/d=e query a+b%26c%2Fd%3De path a%20b&c%2Fd=e")
	assert.NotContains(t, out, "a b&c/d=e")
	assert.NotContains(t, out, "a+b%26c%2Fd%3De")
	assert.Equal(t, 3, strings.Count(out, "[REDACTED:secret]"), out)

	// A secret that contains another is replaced whole.
	r.AddSecrets("abc", "abcdef")
	assert.Equal(t, "[REDACTED:secret]", r.String("abcdef"))
}

func TestUserPatterns(t *testing.T) {
	r, err := redact.New(
		redact.WithPattern("employee-id", `EMP-\d{6}`),
		redact.WithPattern("pin", `pin is (?P<secret>\d{4})`),
	)
	require.NoError(t, err)
	assert.Equal(t, "id [REDACTED:employee-id], pin is [REDACTED:pin]", r.String("id EMP-123456, pin is 9876"))
	assert.Contains(t, r.Rules(), "employee-id")

	_, err = redact.New(redact.WithPattern("bad", `(`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `pattern "bad"`)
	_, err = redact.New(redact.WithPattern("", `x`))
	require.Error(t, err)

	only, err := redact.New(redact.WithoutDefaults(), redact.WithPattern("x", `xyz`))
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, only.Rules())
	assert.Equal(t, "sk-abcdefghijklmnopqrstuvw0123 [REDACTED:x]", only.String("sk-abcdefghijklmnopqrstuvw0123 xyz"))

	masked, err := redact.New(redact.WithMask(func(string) string { return "***" }))
	require.NoError(t, err)
	assert.Equal(t, "Bearer ***", masked.String("Bearer abcd1234"))
}

func TestConcurrentAddSecrets(t *testing.T) {
	r := redact.Default()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			r.AddSecrets(fmt.Sprintf("secret-value-%02d", i))
		}()
		go func() {
			defer wg.Done()
			_ = r.String("some secret-value-00 text")
		}()
	}
	wg.Wait()
	for i := range 8 {
		assert.NotContains(t, r.String(fmt.Sprintf("x secret-value-%02d y", i)), "secret-value")
	}
}

const planted = "sk-PLANTEDplantedPLANTED0123456789"

// fillStrings sets every free-text string field reachable from v to text,
// growing slices and maps so that each element type is reached. Enumerated
// string types (Status, Verdict, …) are left alone, as the redactor does.
func fillStrings(v reflect.Value, text string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fillStrings(v.Elem(), text)
	case reflect.String:
		if v.Type() == reflect.TypeOf("") {
			v.SetString(text)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillStrings(v.Field(i), text)
			}
		}
	case reflect.Slice:
		if v.Type() == reflect.TypeOf(json.RawMessage{}) {
			b, _ := json.Marshal(map[string]string{"default": text})
			v.SetBytes(b)
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillStrings(s.Index(i), text)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.ValueOf("k-"+text), reflect.ValueOf(text))
		m.SetMapIndex(reflect.ValueOf("plain"), reflect.ValueOf(text))
		v.Set(m)
	}
}

// TestEveryStringFieldIsRedacted fills every string field of a trajectory,
// found by reflection so that fields added later are covered too, and checks
// that none survives.
func TestEveryStringFieldIsRedacted(t *testing.T) {
	var tr trajectory.Trajectory
	fillStrings(reflect.ValueOf(&tr), "before "+planted+" after")
	tr.Status = trajectory.StatusFinished
	before, err := json.Marshal(&tr)
	require.NoError(t, err)
	require.Contains(t, string(before), planted)

	out := redact.Default().Trajectory(&tr)
	after, err := json.Marshal(out)
	require.NoError(t, err)
	assert.NotContains(t, string(after), planted)
	assert.NotContains(t, string(after), "PLANTED")
	assert.Contains(t, string(after), "before [REDACTED:openai-key] after")
	assert.True(t, json.Valid(out.Tools[0].Parameters))

	// The input is never modified.
	again, err := json.Marshal(&tr)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(again))
}

func TestCleanTrajectoryReturnedAsIs(t *testing.T) {
	tr := &trajectory.Trajectory{ID: "r1", Task: "add 2 and 2", FinalAnswer: "4",
		Steps: []trajectory.Step{{Thought: "easy", Calls: []trajectory.ToolCall{{Tool: "calc", Input: "2+2", Observation: "4"}}}}}
	assert.Same(t, tr, redact.Default().Trajectory(tr))
	var nilR *redact.Redactor
	assert.Same(t, tr, nilR.Trajectory(tr), "a nil redactor redacts nothing")
}

func TestAssessment(t *testing.T) {
	a := trajectory.Assessment{Judge: "rrm", Critique: "you leaked Bearer abc123defghij", Notes: []string{"token=zq9w8e7r6"}, Score: 0.5}
	out := redact.Default().Assessment(a)
	assert.Equal(t, "you leaked Bearer [REDACTED:bearer-token]", out.Critique)
	assert.Equal(t, "token=[REDACTED:secret-assignment]", out.Notes[0])
	assert.Equal(t, "token=zq9w8e7r6", a.Notes[0], "the caller's notes are not modified")
	assert.Equal(t, 0.5, out.Score)
}

func TestRawParametersStayJSON(t *testing.T) {
	// A cookie rule match runs up to a quote, through a JSON escape: the
	// redactor must fall back to redacting decoded strings.
	raw := json.RawMessage(`{"description":"Cookie: a=b\\\"c","x":["password=abcdef"]}`)
	tr := &trajectory.Trajectory{ID: "r", Tools: []trajectory.ToolSpec{{Name: "t", Parameters: raw}}}
	out := redact.Default().Trajectory(tr)
	p := out.Tools[0].Parameters
	require.True(t, json.Valid(p), "%s", p)
	assert.NotContains(t, string(p), "abcdef")
	assert.NotContains(t, string(p), "a=b")
}

// FuzzRedact checks that the redactor never panics, keeps valid UTF-8 valid,
// changes nothing when run twice, and never lets a registered secret
// through.
func FuzzRedact(f *testing.F) {
	f.Add("Authorization: Bearer abc.def", "s3cretvalue")
	f.Add("postgres://u:p@h/db sk-abcdefghijklmnopqrstuvwx", "abcdefghij")
	f.Add("-----BEGIN PRIVATE KEY-----\nabc", "zzzzzzzz")
	f.Add("password=pw\x00\xff", "AbCdEfGh12")
	f.Add("Authorization: Api-Token 7f3a9c2e5b8d1f4a, curl -u admin:p!ss%w0rd", "xoxb-781236542736")
	f.Add("api_key = \"Zx81Qw3rTy8uIoPaSdFgHjKl\" -----BEGIN PGP PRIVATE KEY BLOCK-----", "")
	f.Fuzz(func(t *testing.T, text, secret string) {
		r, err := redact.New(redact.WithSecrets(secret))
		require.NoError(t, err)
		out := r.String(text)
		if utf8.ValidString(text) {
			assert.True(t, utf8.ValidString(out))
		}
		if again := r.String(out); again != out {
			t.Fatalf("redacting twice changes %q: %q then %q", text, out, again)
		}
		if len(secret) < 8 || strings.Trim(secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			return
		}
		for _, name := range append(r.Rules(), "secret") {
			if strings.Contains("[REDACTED:"+name+"]", secret) {
				return
			}
		}
		assert.NotContains(t, out, secret)
		assert.NotContains(t, r.String(text+" "+secret+" "+text), secret)
	})
}

func TestLongTextIsCutWithANote(t *testing.T) {
	r := redact.Default()
	head := "start sk-Qw3rTy8uIoPaSdFgHjKlZx01 "
	long := head + strings.Repeat("é", redact.DefaultMaxText) + " tail ghp_0123456789abcdefghijABCDEFGHIJ012345"
	out := r.String(long)
	assert.LessOrEqual(t, len(out), redact.DefaultMaxText)
	assert.True(t, utf8.ValidString(out), "cut at a rune boundary")
	assert.Contains(t, out, fmt.Sprintf("of %d bytes kept]", len(long)))
	assert.Contains(t, out, "[REDACTED:openai-key]")
	assert.NotContains(t, out, "ghp_", "the part after the cut is dropped, not stored")
	assert.Equal(t, out, r.String(out), "cutting and redacting twice changes nothing")
	assert.True(t, r.Contains(long))

	tr := &trajectory.Trajectory{ID: "big", Steps: []trajectory.Step{{Calls: []trajectory.ToolCall{{Tool: "fetch", Observation: strings.Repeat("a", 3<<20)}}}}}
	got := r.Trajectory(tr)
	require.NotSame(t, tr, got)
	assert.Less(t, len(got.Steps[0].Calls[0].Observation), 3<<20)
	assert.Len(t, tr.Steps[0].Calls[0].Observation, 3<<20, "the caller's run is not modified")

	unlimited, err := redact.New(redact.WithMaxText(0))
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(unlimited.String(long), " tail [REDACTED:github-token]"), "no limit: all of it is kept, and redacted")
	_, err = redact.New(redact.WithMaxText(-1))
	require.Error(t, err)
}

// TestLongTextsFarFromKeywords checks the keyword windows: secrets deep in
// long text, and secrets longer than a window, are masked whole.
func TestLongTextsFarFromKeywords(t *testing.T) {
	r := redact.Default()
	filler := strings.Repeat("The census counted residents in the metropolitan area. ", 400) // ~22 KB, no keyword
	var tok strings.Builder
	for i := range 3000 {
		tok.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[(i*7+i/5)%36])
	}
	long := tok.String()
	key := "-----BEGIN RSA PRIVATE KEY-----\n" + strings.Repeat("MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n", 60) + "-----END RSA PRIVATE KEY-----"
	in := filler + "\napi_key = " + long + "\n" + filler + key + filler + " ghp_0123456789abcdefghijABCDEFGHIJ012345 " + filler
	out := r.String(in)
	assert.NotContains(t, out, long[:200], "a secret longer than a window is masked whole")
	assert.NotContains(t, out, long[len(long)-200:])
	assert.NotContains(t, out, "MIIEpAIBAAKCAQEA", "a key block far from the start is masked whole")
	assert.NotContains(t, out, "ghp_0123456789")
	assert.Equal(t, 4*len(filler), strings.Count(out, "census")*len(filler)/400, "the filler is kept")
}

// TestLookAlikeMasksShieldNothing: text that only starts like a mask must
// not keep a secret out of redaction, and a registered value never rewrites
// a mask.
func TestLookAlikeMasksShieldNothing(t *testing.T) {
	r, err := redact.New(redact.WithSecrets("registered-value-42", "A"))
	require.NoError(t, err)
	for _, in := range []string{
		"[REDACTED sk-Qw3rTy8uIoPaSdFgHjKlZx01]",
		"[REDACTED:sk-Qw3rTy8uIoPaSdFgHjKlZx01]",
		"[REDACTED then ghp_0123456789abcdefghijABCDEFGHIJ012345 and registered-value-42",
		"[REDACTED:unknown-rule registered-value-42]",
	} {
		out := r.String(in)
		assert.NotContains(t, out, "Qw3rTy8u", in)
		assert.NotContains(t, out, "ghp_0123", in)
		assert.NotContains(t, out, "registered-value-42", in)
	}
	out := r.String("password=pw12345678 A")
	assert.Equal(t, "password=[REDACTED:secret-assignment] [REDACTED:secret]", out)
	assert.Equal(t, out, r.String(out), "the registered value A does not rewrite the masks")
}

func TestJSONRedactsKeepingTheDocumentValid(t *testing.T) {
	r := redact.Default()
	clean := json.RawMessage(`{"plans":[{"input":"census city 4"}]}`)
	assert.Equal(t, string(clean), string(r.JSON(clean)), "no secret: returned as is")

	in := json.RawMessage(`{"headers":{"Authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"},"key":"AKIAIOSFODNN7EXAMPLQ","n":1}`)
	orig := string(in)
	out := r.JSON(in)
	assert.Equal(t, orig, string(in), "the input is not modified")
	assert.True(t, json.Valid(out), "%s", out)
	assert.NotContains(t, string(out), "AKIAIOSFODNN7EXAMPLQ")
	assert.NotContains(t, string(out), "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
	assert.Contains(t, string(out), `"n":1`)

	assert.Equal(t, `"[REDACTED:aws-access-key] x"`, string(r.JSON(json.RawMessage(`AKIAIOSFODNN7EXAMPLQ x`))), "not JSON: a redacted JSON string")
	var nilR *redact.Redactor
	assert.Equal(t, orig, string(nilR.JSON(json.RawMessage(orig))))
}

package tinylm

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/reagent-go/reagent/trajectory"
)

func TestEncode(t *testing.T) {
	cases := []struct {
		in   string
		want []int
	}{
		{"", []int{}},
		{"Hi!", []int{72, 105, 33}},
		{"é", []int{0xC3, 0xA9}},
		{"€", []int{0xE2, 0x82, 0xAC}},
		{"\x00\xff", []int{0, 255}},
		// Special-token text stays plain bytes.
		{"<|end|>", []int{'<', '|', 'e', 'n', 'd', '|', '>'}},
	}
	for _, c := range cases {
		if got := Encode(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		in   []int
		want string
	}{
		{"ascii", []int{72, 105}, "Hi"},
		{"drops special tokens", []int{TokBOS, TokUser, 'o', 'k', TokEnd, TokAssistant, TokEOS, TokPad}, "ok"},
		{"drops ids outside the vocabulary", []int{-1, 'a', VocabSize, 1000}, "a"},
		{"multi-byte", []int{0xE2, 0x82, 0xAC}, "€"},
		// Expected strings below are what Python's bytes.decode("utf-8",
		// "replace") gives: one U+FFFD per maximal ill-formed subsequence.
		{"truncated sequence", []int{0xE2, 0x82}, "\uFFFD"},
		{"stray byte", []int{'a', 0xFF, 'b'}, "a\uFFFDb"},
		{"truncated 4-byte then ascii", []int{0xF0, 0x9F, 0x98, 'x'}, "\uFFFDx"},
		{"surrogate", []int{0xED, 0xA0, 0x80}, "\uFFFD\uFFFD\uFFFD"},
		{"overlong", []int{0xC0, 0xAF}, "\uFFFD\uFFFD"},
		{"overlong 3-byte", []int{0xE0, 0x80, 0x80}, "\uFFFD\uFFFD\uFFFD"},
		{"above U+10FFFF", []int{0xF4, 0x90, 0x80, 0x80}, "\uFFFD\uFFFD\uFFFD\uFFFD"},
	}
	for _, c := range cases {
		if got := Decode(c.in); got != c.want {
			t.Errorf("%s: Decode(%v) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestTokenString(t *testing.T) {
	for id, want := range map[int]string{'a': "a", '\n': `\n`, 0xFF: `\xff`, TokEnd: "<|end|>", TokPad: "<|pad|>", 999: "<|invalid:999|>"} {
		if got := TokenString(id); got != want {
			t.Errorf("TokenString(%d) = %q, want %q", id, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "hello", "\xe2\x82", "a\xffb", "\xed\xa0\x80", "€😀"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ids := make([]int, len(b))
		for i, c := range b {
			ids[i] = int(c)
		}
		got := Decode(ids)
		if !utf8.ValidString(got) {
			t.Fatalf("Decode(%q) = %q is not valid UTF-8", b, got)
		}
		if utf8.Valid(b) && got != string(b) {
			t.Fatalf("Decode changed valid text %q into %q", b, got)
		}
		if !slices.Equal(Encode(string(b)), ids) {
			t.Fatalf("Encode(%q) does not give its bytes", b)
		}
	})
}

// msg is shorthand for a chat message in the golden cases.
func msg(role, content string) trajectory.Message {
	return trajectory.Message{Role: role, Content: content}
}

// b spells text as byte tokens, for hand-written golden sequences.
func b(text string) []int {
	out := make([]int, len(text))
	for i := range len(text) {
		out[i] = int(text[i])
	}
	return out
}

func cat(parts ...[]int) []int { return slices.Concat(parts...) }

func one(id int) []int { return []int{id} }

func TestApplyChatTemplate(t *testing.T) {
	cases := []struct {
		name   string
		msgs   []trajectory.Message
		prompt bool
		want   []int
	}{
		{"empty conversation", nil, true, []int{257, 261}},
		{"user only, with generation prompt",
			[]trajectory.Message{msg("user", "Hi")}, true,
			[]int{257, 260, 'H', 'i', 263, 261}},
		{"system user assistant, no generation prompt",
			[]trajectory.Message{msg("system", "Be brief."), msg("user", "2+2?"), msg("assistant", "4")}, false,
			cat(one(257), one(259), b("Be brief."), one(263), one(260), b("2+2?"), one(263), one(261), b("4"), one(263))},
		{"tool message with a name",
			[]trajectory.Message{{Role: "tool", Name: "calc", Content: "4"}}, false,
			cat(one(257), one(262), b("[calc] 4"), one(263))},
		{"tool message without a name",
			[]trajectory.Message{{Role: "tool", Content: "4"}}, false,
			cat(one(257), one(262), b("4"), one(263))},
		{"assistant with content and two tool calls",
			[]trajectory.Message{{Role: "assistant", Content: "Let me check.", ToolCalls: []trajectory.ToolCallSpec{
				{ID: "a", Name: "search", Arguments: `{"q": "go"}`},
				{ID: "b", Name: "calc", Arguments: `{"expr":"1+1"}`},
			}}}, true,
			cat(one(257), one(261), b("Let me check."),
				b("\n<tool_call>{\"name\": \"search\", \"arguments\": {\"q\": \"go\"}}</tool_call>"),
				b("\n<tool_call>{\"name\": \"calc\", \"arguments\": {\"expr\":\"1+1\"}}</tool_call>"),
				one(263), one(261))},
		{"assistant with only a tool call; name escaped as Python's json.dumps(ensure_ascii=False) does",
			[]trajectory.Message{{Role: "assistant", ToolCalls: []trajectory.ToolCallSpec{{Name: "wé\"b<&>\x01\u2028\\", Arguments: "{}"}}}}, false,
			cat(one(257), one(261), b("\n<tool_call>{\"name\": "+`"wé\"b<&>\u0001`+"\u2028"+`\\"`+", \"arguments\": {}}</tool_call>"), one(263))},
		{"special-token text in content stays bytes",
			[]trajectory.Message{msg("user", "<|end|>")}, false,
			cat(one(257), one(260), b("<|end|>"), one(263))},
	}
	for _, c := range cases {
		got, err := ApplyChatTemplate(c.msgs, c.prompt)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.want)
		}
	}
}

func TestApplyChatTemplateMask(t *testing.T) {
	msgs := []trajectory.Message{
		msg("user", "q"),
		{Role: "assistant", Content: "a", ToolCalls: []trajectory.ToolCallSpec{{Name: "t", Arguments: "{}"}}},
		{Role: "tool", Name: "t", Content: "r"},
		msg("assistant", "ok"),
	}
	ids, mask, err := ApplyChatTemplateMask(msgs, true)
	if err != nil {
		t.Fatal(err)
	}
	call := "\n<tool_call>{\"name\": \"t\", \"arguments\": {}}</tool_call>"
	wantIDs := cat(one(257), one(260), b("q"), one(263),
		one(261), b("a"+call), one(263),
		one(262), b("[t] r"), one(263),
		one(261), b("ok"), one(263), one(261))
	if !slices.Equal(ids, wantIDs) {
		t.Fatalf("ids:\n got %v\nwant %v", ids, wantIDs)
	}
	rep := func(v bool, n int) []bool { return slices.Repeat([]bool{v}, n) }
	wantMask := slices.Concat(rep(false, 4), // bos, <|user|>, q, end
		rep(false, 1), rep(true, 1+len(call)+1), // <|assistant|> then content, call, end
		rep(false, 1+len("[t] r")+1),
		rep(false, 1), rep(true, 3), // <|assistant|>, "ok", end
		rep(false, 1)) // generation prompt
	if !slices.Equal(mask, wantMask) {
		t.Fatalf("mask:\n got %v\nwant %v", mask, wantMask)
	}
}

func TestApplyChatTemplateErrors(t *testing.T) {
	if _, err := ApplyChatTemplate([]trajectory.Message{msg("robot", "x")}, true); err == nil {
		t.Fatal("an unknown role was accepted")
	}
	if _, err := ApplyChatTemplate([]trajectory.Message{{Role: "user", ToolCalls: []trajectory.ToolCallSpec{{Name: "x"}}}}, true); err == nil {
		t.Fatal("tool calls on a user message were accepted")
	}
}

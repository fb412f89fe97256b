package httpapi

import (
	"fmt"
	"strings"
)

// template is a string with {param} placeholders and ${NAME} environment
// references. A brace that does not open a placeholder name
// ([A-Za-z_][A-Za-z0-9_.-]*) followed by "}" is literal text, so JSON
// bodies need no escaping.
type template struct {
	parts []tmplPart
}

type tmplPart struct {
	lit   string
	param string // set for a {param} placeholder
	env   string // set for a ${NAME} environment reference
}

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameChar(c byte) bool {
	return isNameStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'
}

// parseTemplate splits s into literal text and placeholders.
func parseTemplate(s string) template {
	var t template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if s[i] == '$' && i+2 < len(s) && s[i+1] == '{' && isNameStart(s[i+2]) {
			j := i + 3
			for j < len(s) && (isNameStart(s[j]) || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			if j < len(s) && s[j] == '}' {
				flush()
				t.parts = append(t.parts, tmplPart{env: s[i+2 : j]})
				i = j + 1
				continue
			}
		}
		if s[i] == '{' && i+1 < len(s) && isNameStart(s[i+1]) {
			j := i + 2
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			if j < len(s) && s[j] == '}' {
				flush()
				t.parts = append(t.parts, tmplPart{param: s[i+1 : j]})
				i = j + 1
				continue
			}
		}
		lit.WriteByte(s[i])
		i++
	}
	flush()
	return t
}

// params returns the placeholder names in order of first use.
func (t template) params() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range t.parts {
		if p.param != "" && !seen[p.param] {
			seen[p.param] = true
			out = append(out, p.param)
		}
	}
	return out
}

// only returns the placeholder name when the template is exactly one
// placeholder.
func (t template) only() (string, bool) {
	if len(t.parts) == 1 && t.parts[0].param != "" {
		return t.parts[0].param, true
	}
	return "", false
}

func (t template) empty() bool { return len(t.parts) == 0 }

// render fills the placeholders with enc(name); enc reports missing or
// unusable values.
func (t template) render(enc func(name string) (string, error)) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.param == "" {
			b.WriteString(p.lit) // env references are resolved before rendering
			continue
		}
		v, err := enc(p.param)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// resolveEnv replaces every ${NAME} with getenv(NAME) and returns the
// values it used, which are secrets. An unset or empty variable is an
// error, so a missing token is found when the tool is built, not on a call.
func (t template) resolveEnv(getenv func(string) string) (template, []string, error) {
	var out template
	var used []string
	for _, p := range t.parts {
		if p.env == "" {
			out.parts = append(out.parts, p)
			continue
		}
		v := getenv(p.env)
		if v == "" {
			return template{}, nil, fmt.Errorf("environment variable %s is not set", p.env)
		}
		used = append(used, v)
		out.parts = append(out.parts, tmplPart{lit: v})
	}
	return out, used, nil
}

// hasEnv reports whether the template reads the environment.
func (t template) hasEnv() bool {
	for _, p := range t.parts {
		if p.env != "" {
			return true
		}
	}
	return false
}

// literalPrefix returns the text before the first placeholder.
func (t template) literalPrefix() string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.param != "" {
			break
		}
		b.WriteString(p.lit)
	}
	return b.String()
}

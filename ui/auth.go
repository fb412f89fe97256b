package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// MinTokenLength is the shortest access token the server accepts.
const MinTokenLength = 16

// cookieName holds the session derived from the token.
const cookieName = "reagent_ui_session"

// CheckAddr refuses to serve on an address other than loopback without an
// access token. An empty host (":8080") listens on every interface and so
// needs a token, as does any host name other than "localhost".
func CheckAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("ui: listen address %q: %w (want host:port, for example 127.0.0.1:8080)", addr, err)
	}
	if IsLoopback(host) || token != "" {
		return nil
	}
	return fmt.Errorf("ui: %s is not a loopback address, so the UI needs an access token: pass --token or set REAGENT_UI_TOKEN (at least %d characters, for example from `openssl rand -hex 16`), or listen on 127.0.0.1", addr, MinTokenLength)
}

// IsLoopback reports whether host (a name or an IP, without port) only
// reaches this machine.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// auth checks requests against one token: an "Authorization: Bearer" header,
// a session cookie, or a ?token= query that sets the cookie.
type auth struct {
	sum     [sha256.Size]byte // of the token: equal lengths for the constant-time compare
	session string            // cookie value: HMAC of a fixed label under the token
}

func newAuth(token string) *auth {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("reagent ui session v1"))
	return &auth{sum: sha256.Sum256([]byte(token)), session: hex.EncodeToString(m.Sum(nil))}
}

func (a *auth) tokenOK(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], a.sum[:]) == 1
}

func (a *auth) sessionOK(v string) bool {
	return subtle.ConstantTimeCompare([]byte(v), []byte(a.session)) == 1
}

// authenticated reports whether r carries the token in an "Authorization:
// Bearer" header or the session cookie (never a ?token= query).
func (a *auth) authenticated(r *http.Request) bool {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") && a.tokenOK(strings.TrimSpace(tok)) {
			return true
		}
	}
	c, err := r.Cookie(cookieName)
	return err == nil && a.sessionOK(c.Value)
}

// fingerprint names the token in records without giving it away: the
// first 8 hex digits of its SHA-256, enough to tell a rotated token apart.
func (a *auth) fingerprint() string { return hex.EncodeToString(a.sum[:4]) }

// check reports whether r may go on. When it returns false it has written
// the response: 401, or a redirect that drops ?token= from the URL after
// setting the cookie.
func (a *auth) check(w http.ResponseWriter, r *http.Request) bool {
	if a.authenticated(r) {
		return true
	}
	q := r.URL.Query()
	if tok := q.Get("token"); tok != "" && a.tokenOK(tok) {
		http.SetCookie(w, &http.Cookie{
			Name: cookieName, Value: a.session, Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		})
		// Drop the token from the address bar, history and logs.
		q.Del("token")
		loc := r.URL.Path
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
			loc = "/" // never an open redirect to //other.host
		}
		u := url.URL{Path: loc, RawQuery: q.Encode()}
		http.Redirect(w, r, u.String(), http.StatusSeeOther)
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="reagent ui"`)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintln(w, "401 unauthorized: this reagent UI needs its access token.")
	fmt.Fprintln(w, "Open it once with ?token=TOKEN in the address (a cookie keeps you signed in),")
	fmt.Fprintln(w, "or send the header Authorization: Bearer TOKEN (for example from a Prometheus scraper).")
	return false
}

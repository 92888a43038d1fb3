// Package redact hides the secrets a URL may carry before it is printed,
// logged or put into an error: storage URLs hold database passwords, and
// configured base URLs may hold credentials in their user info or query.
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces each secret. It is what net/url's Redacted writes, so a
// URL reads the same whichever way it was redacted.
const Mask = "xxxxx"

// secretKeys are substrings of query parameter names whose values are
// treated as secrets: libpq's password and sslpassword, and the usual
// spellings of tokens, keys and signatures. Hiding a harmless value costs
// less than showing a secret one.
var secretKeys = []string{"pass", "pwd", "secret", "token", "key", "sig", "auth", "credential"}

// URL returns s with the password of its user info and the values of
// secret-looking query parameters replaced by Mask; the user name, host,
// path and other parameters stay, as they are what a reader needs to tell
// which URL failed. s need not parse: a password with an unescaped "@" or
// "/" makes it invalid, and is exactly what must not leak from the error
// that says so.
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return unparsed(s)
	}
	if u.User == nil && u.Port() != "" && strings.Contains(u.Path, "@") {
		// "postgres://u:123/x@db" parses as host u:123 and path /x@db,
		// though it is surely a password with an unescaped "/".
		return unparsed(s)
	}
	changed := false
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Mask)
		changed = true
	}
	if q, ok := query(u.RawQuery); ok {
		u.RawQuery, changed = q, true
	}
	if !changed {
		// Re-encoding could change a URL that had nothing to hide.
		return s
	}
	return u.String()
}

// unparsed redacts a string net/url refuses. The user info is taken to end
// at the last "@", since a password may contain "@" unescaped.
func unparsed(s string) string {
	rest := 0
	if scheme := strings.Index(s, "://"); scheme >= 0 {
		rest = scheme + 3
		if at := strings.LastIndex(s, "@"); at > rest {
			if user, _, ok := strings.Cut(s[rest:at], ":"); ok {
				s = s[:rest] + user + ":" + Mask + s[at:]
			}
			rest = strings.LastIndex(s, "@") + 1
		}
	}
	i := strings.Index(s[rest:], "?")
	if i < 0 {
		return s
	}
	i += rest + 1
	end := len(s)
	if j := strings.Index(s[i:], "#"); j >= 0 {
		end = i + j
	}
	if q, ok := query(s[i:end]); ok {
		return s[:i] + q + s[end:]
	}
	return s
}

// query masks secret values in a raw query, keeping its order and
// spelling, and reports whether it masked any.
func query(raw string) (string, bool) {
	if raw == "" {
		return raw, false
	}
	parts := strings.Split(raw, "&")
	changed := false
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok || v == "" || !secretKey(k) {
			continue
		}
		parts[i] = k + "=" + Mask
		changed = true
	}
	return strings.Join(parts, "&"), changed
}

func secretKey(k string) bool {
	if uk, err := url.QueryUnescape(k); err == nil {
		k = uk
	}
	k = strings.ToLower(k)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

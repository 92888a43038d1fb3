// Package pagesec is the one place that decides the security headers of
// the HTML pages alertbridge serves (the console and its sign-in), and
// which "next" paths a sign-in may send the browser on to.
package pagesec

import (
	"net/http"
	"strings"
)

// CSP allows the page's own stylesheet and images and nothing else: no
// script runs at all, inline or not, and forms post only back here.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Set writes the headers every page carries.
func Set(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// LocalPath returns p when it is a path on this server ("/alerts/a-1?x"),
// else "/": a sign-in's next page must never lead off-site ("//evil",
// "/\evil" and "https://evil" all would).
func LocalPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, `/\`) || strings.ContainsAny(p, "\r\n\t") {
		return "/"
	}
	return p
}

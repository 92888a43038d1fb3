package httpapi

import (
	_ "embed"
	"html/template"
	"net/http"
)

// alertPage is where links back from Jira and other destinations land
// (public_url/alerts/{alertId}). It is served without authentication
// because a browser following a link has no bearer token, so it carries no
// alert data: the page asks for a token and reads the alert through the API.
//
//go:embed page/alert.html
var alertPageHTML string

var alertPage = template.Must(template.New("alert").Parse(alertPageHTML))

func (s *Server) serveAlertPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_ = alertPage.Execute(w, r.PathValue("alertId"))
}

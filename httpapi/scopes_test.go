package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/auth"
	"github.com/alertbridge/alertbridge/httpapi"
)

// scopedTokens are, for each scope, a token with only that scope
// ("only-SCOPE") and one with every other ("all-but-SCOPE").
func scopedTokens() []httpapi.Token {
	var out []httpapi.Token
	for _, sc := range auth.AllScopes {
		others := slices.DeleteFunc(slices.Clone(auth.AllScopes), func(o auth.Scope) bool { return o == sc })
		out = append(out,
			httpapi.Token{Name: "only-" + string(sc), Value: "tok-only-" + string(sc), Scopes: []auth.Scope{sc}},
			httpapi.Token{Name: "all-but-" + string(sc), Value: "tok-all-but-" + string(sc), Scopes: others})
	}
	return out
}

// routeScopes is the scope each API route needs: a route added to the
// server without an entry here fails TestScopesOnEveryRoute. "" marks a
// route that needs a token but no scope (the /api/ catch-all) and "-" one
// that needs no token at all.
var routeScopes = map[string]auth.Scope{
	"POST /api/v1/alerts":                    auth.ScopeIngest,
	"POST /api/v1/alerts/alertmanager":       auth.ScopeIngest,
	"POST /api/v1/alerts/grafana":            auth.ScopeIngest,
	"POST /api/v1/logs/{logType}":            auth.ScopeIngest,
	"GET /api/v1/alerts":                     auth.ScopeRead,
	"GET /api/v1/alerts/{alertId}":           auth.ScopeRead,
	"GET /api/v1/destinations":               auth.ScopeRead,
	"PATCH /api/v1/alerts/{alertId}":         auth.ScopeTriage,
	"POST /api/v1/alerts/{alertId}/comments": auth.ScopeTriage,
	"POST /api/v1/alerts/{alertId}/dispatch": auth.ScopeTriage,
	"POST /api/v1/destinations/{name}/test":  auth.ScopeTriage,
	"POST /-/reload":                         auth.ScopeAdmin,
	"/api/":                                  "",
	"GET /healthz":                           "-",
	"GET /readyz":                            "-",
	"GET /metrics":                           "-",
}

// Every registered route is held to its scope: a token without it gets 403
// naming the scope, a token with only that scope gets past authorisation.
func TestScopesOnEveryRoute(t *testing.T) {
	e := newEnv(t, "sqlite", options{})
	if r := e.do(t, http.MethodPost, "/api/v1/alerts", `{"alertId": "scoped-1", "severity": "HIGH", "title": "t"}`); r.status != http.StatusAccepted {
		t.Fatalf("post: %d %s", r.status, r.body)
	}
	bodies := map[string]string{
		"POST /api/v1/alerts":                    `{"alertId": "scoped-2", "severity": "HIGH", "title": "t"}`,
		"POST /api/v1/alerts/alertmanager":       `{"version": "4", "status": "firing", "alerts": []}`,
		"POST /api/v1/alerts/grafana":            `{"version": "1", "status": "firing", "alerts": []}`,
		"POST /api/v1/logs/{logType}":            `{"a": 1}`,
		"PATCH /api/v1/alerts/{alertId}":         `{"status": "TRIAGED"}`,
		"POST /api/v1/alerts/{alertId}/comments": `{"body": "hi"}`,
		"POST /api/v1/alerts/{alertId}/dispatch": `{"destination": "hook"}`,
	}
	checked := 0
	for _, pattern := range httpapi.New(httpapi.Config{}).Routes() {
		want, ok := routeScopes[pattern]
		if !ok {
			t.Errorf("route %s has no scope in routeScopes: say which scope it needs", pattern)
			continue
		}
		if want == "" || want == "-" {
			continue
		}
		method, path, _ := strings.Cut(pattern, " ")
		path = strings.NewReplacer("{alertId}", "scoped-1", "{name}", "hook", "{logType}", "Custom.Scoped").Replace(path)
		hdr := func(token string) map[string]string { return map[string]string{"Authorization": "Bearer " + token} }
		denied := e.send(t, method, path, bodies[pattern], hdr("tok-all-but-"+string(want)))
		if denied.status != http.StatusForbidden || denied.apiErr().Code != "missing_scope" ||
			!strings.Contains(denied.apiErr().Message, "lacks the "+string(want)+" scope") {
			t.Errorf("%s without %s: %d %s; want 403 missing_scope naming it", pattern, want, denied.status, denied.body)
		}
		allowed := e.send(t, method, path, bodies[pattern], hdr("tok-only-"+string(want)))
		if allowed.status == http.StatusForbidden || allowed.status == http.StatusUnauthorized || allowed.status >= 500 {
			t.Errorf("%s with only %s: %d %s", pattern, want, allowed.status, allowed.body)
		}
		checked++
	}
	if checked < 12 {
		t.Errorf("checked %d routes, want every API route", checked)
	}
}

// A token names the person it acts for only with act_as; a change by any
// other token is its own, and naming someone is refused, not re-attributed.
func TestActAs(t *testing.T) {
	e := newEnv(t, "sqlite", options{})
	e.do(t, http.MethodPost, "/api/v1/alerts", `{"alertId": "act-1", "severity": "HIGH", "title": "t"}`)
	hdr := func(token string) map[string]string { return map[string]string{"Authorization": "Bearer " + token} }
	r := e.send(t, http.MethodPatch, "/api/v1/alerts/act-1", `{"status": "TRIAGED", "actor": "bob@example.com"}`, hdr("tok-all-but-act_as"))
	if r.status != http.StatusForbidden || r.apiErr().Field != "actor" || !strings.Contains(r.apiErr().Message, "act_as") {
		t.Errorf("naming an actor without act_as: %d %s", r.status, r.body)
	}
	r = e.send(t, http.MethodPost, "/api/v1/alerts/act-1/comments", `{"body": "x", "author": "bob@example.com"}`, hdr("tok-all-but-act_as"))
	if r.status != http.StatusForbidden || r.apiErr().Field != "author" {
		t.Errorf("naming an author without act_as: %d %s", r.status, r.body)
	}
	if r := e.send(t, http.MethodPatch, "/api/v1/alerts/act-1", `{"status": "TRIAGED"}`, hdr("tok-only-triage")); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := e.send(t, http.MethodPatch, "/api/v1/alerts/act-1", `{"assignee": "a@example.com", "actor": "bob@example.com"}`, hdr("tok-all-but-read")); r.status != 200 {
		t.Fatalf("patch as bob: %d %s", r.status, r.body)
	}
	a := e.alert(t, "act-1")
	var actors []string
	for _, ev := range a.Timeline {
		if ev.Action == "status_changed" || ev.Action == "assignee_changed" {
			actors = append(actors, ev.Actor)
		}
	}
	if want := []string{"token:only-triage", "bob@example.com via token:all-but-read"}; !slices.Equal(actors, want) {
		t.Errorf("actors %q, want %q", actors, want)
	}
}

// apiErr is the error an answer carries, zero when it has none.
func (r response) apiErr() (e struct{ Code, Field, Message string }) {
	var body struct {
		Error struct{ Code, Field, Message string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &body)
	return body.Error
}

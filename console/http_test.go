package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/console"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

// concrete fills a route pattern's wildcards with values that exist.
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.NewReplacer("{alertId}", "c-1", "{name}", "hook", "{$}", "").Replace(path)
	return method, path
}

// Without a session every console route, page or form, sends the browser
// to /login and shows or changes nothing.
func TestEveryRouteNeedsASession(t *testing.T) {
	h := newHarness(t, "sqlite", harnessOptions{})
	h.post(t, "c-1", "secret title")
	c := h.client(t)
	routes := h.ui.Routes()
	if len(routes) < 10 {
		t.Fatalf("routes %v", routes)
	}
	for _, pattern := range routes {
		method, path := concrete(pattern)
		var form url.Values
		if method == http.MethodPost {
			form = url.Values{"status": {"CLOSED"}, "body": {"x"}, "assignee": {"m@example.com"}, "destination": {"hook"}}
		}
		a := h.do(t, c, method, path, form, nil)
		loc := a.header.Get("Location")
		if a.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") || strings.Contains(a.body, "secret title") {
			t.Errorf("%s without a session: %d Location %q", pattern, a.status, loc)
		}
		if method == http.MethodGet {
			if next, _ := url.QueryUnescape(strings.TrimPrefix(loc, "/login?next=")); next != path {
				t.Errorf("%s: next %q, want %q", pattern, next, path)
			}
		}
	}
	rec, err := h.svc.Get(context.Background(), "c-1")
	if err != nil || rec.Alert.Status != "OPEN" || len(rec.Comments) != 0 || rec.Alert.Assignee != "" || len(rec.Deliveries) != 1 {
		t.Errorf("an unsigned post changed the alert: %+v %v", rec, err)
	}
	// A forged or expired cookie is no session either.
	c.Jar.SetCookies(mustURL(h.srv.URL), []*http.Cookie{{Name: "alertbridge_session", Value: "forged"}})
	if a := h.do(t, c, "GET", "/", nil, nil); a.status != http.StatusSeeOther {
		t.Errorf("forged cookie: %d", a.status)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// Sign in, see pages, sign out: the cookie is HttpOnly and SameSite=Lax,
// its session is in the database, and after sign-out the same cookie is
// refused.
func TestSignInAndOut(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		h := newHarness(t, driver, harnessOptions{})
		h.post(t, "c-1", "first alert")
		c := h.client(t)
		if a := h.do(t, c, "POST", "/login", url.Values{"username": {alice}, "password": {"wrong"}}, nil); a.status != http.StatusUnauthorized ||
			!strings.Contains(a.body, "Wrong user name or password") {
			t.Errorf("wrong password: %d", a.status)
		}
		if a := h.do(t, c, "POST", "/login", url.Values{"username": {"mallory"}, "password": {alicePassword}}, nil); a.status != http.StatusUnauthorized {
			t.Errorf("unknown user: %d", a.status)
		}
		a := h.do(t, c, "POST", "/login", url.Values{"username": {alice}, "password": {alicePassword}, "next": {"/alerts/c-1"}}, nil)
		if a.status != http.StatusSeeOther || a.header.Get("Location") != "/alerts/c-1" {
			t.Fatalf("sign in: %d %q", a.status, a.header.Get("Location"))
		}
		cookie := a.header.Get("Set-Cookie")
		for _, want := range []string{"alertbridge_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(cookie, want) {
				t.Errorf("cookie %q lacks %s", cookie, want)
			}
		}
		if strings.Contains(cookie, "Secure") {
			t.Errorf("cookie %q is Secure on http", cookie)
		}
		if a := h.do(t, c, "GET", "/alerts/c-1", nil, nil); a.status != 200 || !strings.Contains(a.body, "first alert") || !strings.Contains(a.body, alice) {
			t.Errorf("alert page: %d", a.status)
		}
		saved := c.Jar.Cookies(mustURL(h.srv.URL))
		if a := h.do(t, c, "POST", "/logout", url.Values{}, nil); a.status != http.StatusSeeOther || a.header.Get("Location") != "/login" {
			t.Errorf("sign out: %d", a.status)
		}
		c.Jar.SetCookies(mustURL(h.srv.URL), saved) // the old cookie, kept by someone
		if a := h.do(t, c, "GET", "/", nil, nil); a.status != http.StatusSeeOther {
			t.Errorf("after sign-out: %d", a.status)
		}
		// An open redirect is not on offer.
		a = h.do(t, h.client(t), "POST", "/login", url.Values{"username": {alice}, "password": {alicePassword}, "next": {"//evil.example/x"}}, nil)
		if a.header.Get("Location") != "/" {
			t.Errorf("next //evil.example: Location %q", a.header.Get("Location"))
		}
		// Sessions end when their time is up.
		c2 := h.client(t)
		h.signIn(t, c2)
		h.clock.Add(time.Hour)
		if a := h.do(t, c2, "GET", "/", nil, nil); a.status != http.StatusSeeOther {
			t.Errorf("expired session: %d", a.status)
		}
	})
}

// A session made by one replica is good on another: they share the
// database, not memory.
func TestSessionOnAnotherReplica(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		a := newHarness(t, driver, harnessOptions{})
		b := newHarness(t, driver, harnessOptions{store: a.st})
		a.post(t, "c-1", "shared alert")
		c := a.client(t)
		a.signIn(t, c)
		var cookies []*http.Cookie
		for _, ck := range c.Jar.Cookies(mustURL(a.srv.URL)) {
			cookies = append(cookies, &http.Cookie{Name: ck.Name, Value: ck.Value})
		}
		other := b.client(t)
		other.Jar.SetCookies(mustURL(b.srv.URL), cookies)
		if r := b.do(t, other, "GET", "/", nil, nil); r.status != 200 || !strings.Contains(r.body, "shared alert") {
			t.Errorf("replica b: %d", r.status)
		}
	})
}

// With an https public_url the cookie is Secure and __Host- prefixed.
func TestSecureCookie(t *testing.T) {
	h := newHarness(t, "sqlite", harnessOptions{secure: true})
	a := h.do(t, h.client(t), "POST", "/login", url.Values{"username": {alice}, "password": {alicePassword}}, nil)
	cookie := a.header.Get("Set-Cookie")
	if !strings.HasPrefix(cookie, "__Host-alertbridge_session=") || !strings.Contains(cookie, "; Secure") || !strings.Contains(cookie, "HttpOnly") {
		t.Errorf("cookie %q", cookie)
	}
}

// A form posted from another site is refused before it is read, signed
// in or not; the same form from the console itself goes through.
func TestCrossOriginPostRefused(t *testing.T) {
	h := newHarness(t, "sqlite", harnessOptions{})
	h.post(t, "c-1", "x")
	c := h.client(t)
	h.signIn(t, c)
	for name, hdr := range map[string]map[string]string{
		"Sec-Fetch-Site": {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		"Origin only":    {"Origin": "https://evil.example"},
	} {
		a := h.do(t, c, "POST", "/alerts/c-1/status", url.Values{"status": {"CLOSED"}}, hdr)
		if a.status != http.StatusForbidden {
			t.Errorf("%s: cross-origin status change answered %d", name, a.status)
		}
		if a := h.do(t, h.client(t), "POST", "/login", url.Values{"username": {alice}, "password": {alicePassword}}, hdr); a.status != http.StatusForbidden {
			t.Errorf("%s: cross-origin sign-in answered %d", name, a.status)
		}
	}
	rec, _ := h.svc.Get(context.Background(), "c-1")
	if rec.Alert.Status != "OPEN" {
		t.Fatalf("a cross-origin post changed the status to %s", rec.Alert.Status)
	}
	a := h.do(t, c, "POST", "/alerts/c-1/status", url.Values{"status": {"TRIAGED"}}, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": h.srv.URL})
	if rec, _ := h.svc.Get(context.Background(), "c-1"); a.status != http.StatusSeeOther || rec.Alert.Status != "TRIAGED" || rec.Timeline[len(rec.Timeline)-1].Actor != alice {
		t.Errorf("same-origin post: %d, status %s, timeline %+v", a.status, rec.Alert.Status, rec.Timeline)
	}
}

// Every page says, in its Content-Security-Policy, that no script runs and
// styles come from the server only; and no page needs more (no inline
// script or style for the policy to break).
func TestContentSecurityPolicy(t *testing.T) {
	h := newHarness(t, "sqlite", harnessOptions{})
	h.post(t, "c-1", `<script>alert(1)</script>`)
	c := h.client(t)
	pages := []string{"/login"}
	h.signIn(t, c)
	for _, pattern := range h.ui.Routes() {
		if method, path := concrete(pattern); method == http.MethodGet {
			pages = append(pages, path)
		}
	}
	for _, p := range pages {
		a := h.do(t, c, "GET", p, nil, nil)
		csp := a.header.Get("Content-Security-Policy")
		if a.status != 200 || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'self'") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: %d CSP %q", p, a.status, csp)
		}
		if strings.Contains(a.body, "<script") || strings.Contains(a.body, " style=") || strings.Contains(a.body, " onclick=") {
			t.Errorf("%s carries inline script or style", p)
		}
		if a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", p)
		}
	}
	a := h.do(t, c, "GET", "/assets/console.css", nil, nil)
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %q", a.status, a.header.Get("Content-Type"))
	}
}

// Failed sign-ins slow down per user (after 5 in a row) and per address
// (after 20): a throttled attempt is refused with Retry-After before the
// password is looked at, even the right one, until the wait is over.
func TestLoginThrottle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		h := newHarness(t, driver, harnessOptions{})
		c := h.client(t)
		try := func(user, pw string) answer {
			return h.do(t, c, "POST", "/login", url.Values{"username": {user}, "password": {pw}}, nil)
		}
		for i := range 5 {
			if a := try(alice, "guess"); a.status != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d", i+1, a.status)
			}
		}
		a := try(alice, alicePassword)
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "1" || !strings.Contains(a.body, "Too many failed sign-ins") {
			t.Fatalf("after 5 failures: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
		}
		h.clock.Add(time.Second)
		if a := try(alice, "guess"); a.status != http.StatusUnauthorized {
			t.Fatalf("after the wait, a guess: %d", a.status)
		}
		if a := try(alice, alicePassword); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "2" {
			t.Fatalf("after 6 failures the wait doubles: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
		}
		h.clock.Add(2 * time.Second)
		if a := try(alice, alicePassword); a.status != http.StatusSeeOther {
			t.Fatalf("right password after the wait: %d", a.status)
		}
		// The success cleared alice's count.
		if a := try(alice, "guess"); a.status != http.StatusUnauthorized {
			t.Errorf("first guess after a success: %d", a.status)
		}
		// The address: 20 failures in a row over any names, then a wait for
		// every name from it. (alice's 7 so far count too.)
		for i := 0; i < 13; i++ {
			if a := try("user"+string(rune('a'+i))+"@example.com", "guess"); a.status != http.StatusUnauthorized {
				t.Fatalf("address failure %d: %d", i, a.status)
			}
		}
		if a := try("someone-new@example.com", "guess"); a.status != http.StatusTooManyRequests {
			t.Errorf("21st failure from one address: %d", a.status)
		}
		var n int
		_ = h.st.View(context.Background(), func(tx store.Tx) (err error) {
			n, _, err = tx.LoginFailures(context.Background(), "addr:127.0.0.1")
			return err
		})
		if n != 20 {
			t.Errorf("address failures %d, want 20", n)
		}
	})
}

// The rules page shows each rule's last match and last error from the
// alerts it raised; the sources page each source's saved position and
// its API key's expiry.
func TestRulesAndSourcesPages(t *testing.T) {
	h := newHarness(t, "sqlite", harnessOptions{
		rules: []console.Rule{{ID: "Rule.Console", Name: "Console rule", Enabled: true, Severity: "HIGH", LogTypes: []string{"Atlassian.Audit"}},
			{ID: "Rule.Quiet", Enabled: false, Severity: "LOW"}},
		sources: []console.Source{{Name: "atlassian-org", Type: "atlassian_audit", PollInterval: time.Minute,
			KeyExpires: time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC), Checkpoint: "source:atlassian_audit:atlassian-org"}},
	})
	h.post(t, "m-1", "the rule matched")
	ctx := context.Background()
	err := h.st.InTx(ctx, func(tx store.Tx) error {
		a := lifecycle.TestAlert(h.clock.Now())
		a.AlertID, a.ID, a.Type, a.Source, a.Title = "e-1", "Rule.Console", alert.TypeRuleError, alert.SourceDetection, "Rule Rule.Console failed in rule(): boom"
		if _, err := tx.InsertAlert(ctx, a); err != nil {
			return err
		}
		return tx.PutCheckpoint(ctx, "source:atlassian_audit:atlassian-org", `{"cursor":"abc123"}`, h.clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	c := h.client(t)
	h.signIn(t, c)
	a := h.do(t, c, "GET", "/rules", nil, nil)
	if !strings.Contains(a.body, `href="/alerts/m-1"`) || !strings.Contains(a.body, `href="/alerts/e-1"`) || !strings.Contains(a.body, "failed in rule(): boom") ||
		!strings.Contains(a.body, "disabled") || strings.Count(a.body, "never") != 1 {
		t.Errorf("rules page:\n%s", a.body)
	}
	a = h.do(t, c, "GET", "/sources", nil, nil)
	if !strings.Contains(a.body, "abc123") || !strings.Contains(a.body, "2026-03-01 12:00:00 UTC") || !strings.Contains(a.body, "2026-03-11") ||
		!strings.Contains(a.body, `class="warn">(9 days)`) {
		t.Errorf("sources page:\n%s", a.body)
	}
}

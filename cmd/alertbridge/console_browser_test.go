package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

// TestConsoleInChromium drives the console in a real headless Chromium
// against the real binary and the sandbox Jira (which sends signed
// webhooks back): sign in with the keyboard; the list shows the posted
// alerts and filters them; open one; change its status, assign and
// comment, and see each reach Jira; act in Jira as Ann and see the page
// show it; dispatch; send a test alert from /destinations and see its
// issue; every page at 375 px without sideways scrolling and with every
// field labelled; sign out and be refused. A screenshot of every page is
// saved (screenshotDir).
func TestConsoleInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary and a browser")
	}
	ctx := browser(t)
	shots := screenshotDir(t)
	addr := freePort(t)
	sb, err := sandbox.Start(sandbox.Options{
		Deployment: jira.DeploymentCloud, Users: append([]sandbox.User{sandbox.DefaultUser}, sandbox.People...),
		WebhookURL: "http://" + addr + "/webhooks/jira/sec-jira", WebhookSecret: "s3cret", // WEBHOOK_SECRET of startServer
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	var hookHits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hookHits.Add(1)
	}))
	defer hook.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-console-pw"), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALICE_PASSWORD_HASH", string(hash))
	t.Setenv("JIRA_TOKEN", sandbox.DefaultUser.Token)
	rules, err := filepath.Abs(filepath.Join("..", "..", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf(`
server:
  listen: %s
  api_tokens: [{name: ci, token_env: ALERTBRIDGE_API_TOKEN, scopes: [ingest, read]}]
  console:
    users: [{name: alice@example.com, password_hash_env: ALICE_PASSWORD_HASH}]
storage:
  url: %s
detections:
  paths: [%s]
destinations:%s
  - name: soc-hook
    type: webhook
    severities: [CRITICAL]
    manual_dispatch: true
    webhook:
      url: %s
`, addr, testdb.URL(t, "sqlite"), rules, sandboxJira("sec-jira", sb, `
      sync:
        status: two-way
        assignee: two-way
        comments: two-way
        webhook_secret_env: WEBHOOK_SECRET`), hook.URL))
	s := startServer(t, cfg, addr)
	for _, a := range []map[string]any{
		{"alertId": "br-1", "severity": "HIGH", "title": "admin@example.com logged in as alice@example.com", "id": "Atlassian.LoggedInAsUser",
			"alertContext": map[string]any{"actor": "admin@example.com", "ip": "192.0.2.7", "note": strings.Repeat("a-very-long-unbroken-value-", 8)}},
		{"alertId": "br-2", "severity": "LOW", "title": "Impossible travel for sam@example.com"},
		{"alertId": "br-3", "severity": "MEDIUM", "title": "New API token created by ann@example.com"},
	} {
		if code, err := s.api("POST", "/api/v1/alerts", a, nil); err != nil || code != http.StatusAccepted {
			t.Fatalf("post %v: %d %v", a["alertId"], code, err)
		}
	}
	type view struct {
		Status   string
		Assignee string
		Issues   []struct{ Key string }
	}
	get := func(id string) view {
		var v view
		if code, err := s.api("GET", "/api/v1/alerts/"+id, nil, &v); err != nil || code != 200 {
			t.Fatalf("get %s: %d %v", id, code, err)
		}
		return v
	}
	waitAPI := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, s.log.String())
			}
		}
	}
	waitAPI("an issue for each alert", func() bool {
		return len(get("br-1").Issues) == 1 && len(get("br-2").Issues) == 1 && len(get("br-3").Issues) == 1
	})
	key := get("br-1").Issues[0].Key

	p := &page{t: t, ctx: ctx, base: s.base, shot: shots}

	// Signed out, the list sends the browser to the sign-in form, which
	// the keyboard alone fills in (the name field has the focus).
	p.open("/")
	if loc := p.location(); !strings.HasPrefix(loc, s.base+"/login?next=") {
		t.Fatalf("signed out, / is %s", loc)
	}
	p.screenshot("login")
	p.submit(chromedp.KeyEvent("alice@example.com"), chromedp.KeyEvent("\t"), chromedp.KeyEvent("alice-console-pw"), chromedp.KeyEvent("\r"))
	if loc := p.location(); loc != s.base+"/" {
		t.Fatalf("after signing in: %s", loc)
	}

	// The list: every posted alert, newest first, with its Jira issue.
	text := p.text()
	if !contains(text, "admin@example.com logged in as alice@example.com", "Impossible travel", "New API token", key, "All 3", "OPEN 3") {
		t.Fatalf("list shows:\n%s", text)
	}
	if first := js[string](p, `document.querySelector("table.list tbody tr a.title").textContent`); first != "New API token created by ann@example.com" {
		t.Errorf("newest first: the first row is %q", first)
	}
	p.screenshot("alerts")
	// Filter by severity with the form, then by text.
	p.submit(chromedp.SetValue(chromedp.CSS("#f-severity"), "HIGH"), chromedp.Click(chromedp.CSS(".filters button[type=submit]")))
	if text := p.text(); !strings.Contains(text, "logged in as alice") || strings.Contains(text, "Impossible travel") || strings.Contains(text, "New API token") {
		t.Errorf("severity HIGH shows:\n%s", text)
	}
	p.open("/?q=" + url.QueryEscape("TRAVEL"))
	if text := p.text(); !strings.Contains(text, "Impossible travel") || strings.Contains(text, "logged in as alice") {
		t.Errorf("text filter shows:\n%s", text)
	}
	p.screenshot("alerts-filtered")

	// Open one from the list.
	p.open("/?severity=HIGH")
	p.submit(chromedp.Click(chromedp.CSS("a.title")))
	if loc := p.location(); loc != s.base+"/alerts/br-1" {
		t.Fatalf("opened %s", loc)
	}
	if text := p.text(); !contains(text, "192.0.2.7", key, "To Do", "delivered", "created") {
		t.Errorf("alert page shows:\n%s", text)
	}

	// Triage: status, assignee, comment; each reaches Jira.
	p.submit(chromedp.SetValue(chromedp.CSS("#status"), "TRIAGED"), chromedp.Click(chromedp.CSS(`form[action$="/status"] button`)))
	p.submit(chromedp.SendKeys(chromedp.CSS("#assignee"), "sam@example.com"), chromedp.Click(chromedp.CSS(`form[action$="/assign"] button`)))
	p.submit(chromedp.SendKeys(chromedp.CSS("#body"), "**Checked** with the user: expected."), chromedp.Click(chromedp.CSS(`form[action$="/comment"] button`)))
	waitAPI("the status, assignee and comment in Jira", func() bool {
		is, _ := sb.Issue(key)
		commented := false
		for _, c := range is.Comments {
			commented = commented || strings.Contains(string(c.Body), "Checked")
		}
		return is.Status.Name == "In Progress" && is.Assignee != nil && is.Assignee.Email == "sam@example.com" && commented
	})
	if v := get("br-1"); v.Status != "TRIAGED" || v.Assignee != "sam@example.com" {
		t.Errorf("after the console's changes: %+v", v)
	}
	p.eventually("the sync shown in step", "/alerts/br-1", func(text string) bool {
		return contains(text, "In Progress", "stands for TRIAGED", "1 of 1 sent to Jira") && strings.Contains(text, "alice@example.com")
	})

	// Ann acts in Jira: the page shows her transition and comment.
	ann := sandbox.People[0]
	annc := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud, User: ann.Email, Token: ann.Token})
	jctx := context.Background()
	ts, err := annc.Transitions(jctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		if tr.To.Name == "Done" {
			if err := annc.DoTransition(jctx, key, tr.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := annc.AddComment(jctx, key, adf.FromMarkdown("Ann confirms it was *expected*")); err != nil {
		t.Fatal(err)
	}
	p.eventually("Ann's transition and comment", "/alerts/br-1", func(text string) bool {
		return contains(text, "RESOLVED", "Done", "Ann confirms it was expected", "from jira:sec-jira", "1 received from Jira")
	})
	if html := js[string](p, `document.querySelector("#comments").innerHTML`); !strings.Contains(html, "<strong>Checked</strong>") || strings.Contains(html, "**Checked**") {
		t.Errorf("comments are not rendered from Markdown:\n%s", html)
	}

	// Dispatch to the webhook destination the routing left out.
	p.submit(chromedp.SetValue(chromedp.CSS("#dispatch"), "soc-hook"), chromedp.Click(chromedp.CSS(`form[action$="/dispatch"] button`)))
	p.eventually("the dispatch delivered", "/alerts/br-1", func(text string) bool { return hookHits.Load() == 1 && strings.Contains(text, "soc-hook") })
	p.screenshot("alert")

	// A test alert from /destinations, with its result on the page.
	p.open("/destinations")
	p.submit(chromedp.Click(chromedp.CSS(`#dest-sec-jira form button`)))
	loc, _ := url.Parse(p.location())
	p.eventually("the test alert's issue", loc.RequestURI(), func(string) bool {
		return js[bool](p, `!!document.querySelector("#dest-sec-jira .test-delivered .test-issue")`)
	})
	testKey := js[string](p, `document.querySelector("#dest-sec-jira .test-issue").textContent`)
	if _, ok := sb.Issue(testKey); !ok || testKey == key {
		t.Errorf("test alert's issue %q is not a new issue in Jira", testKey)
	}
	if text := p.text(); !contains(text, "healthy", "two-way", "In Progress") {
		t.Errorf("destinations page shows:\n%s", text)
	}
	p.screenshot("destinations")
	p.open("/rules")
	if text := p.text(); !contains(text, "Atlassian.", "enabled") {
		t.Errorf("rules page shows:\n%s", text)
	}
	p.screenshot("rules")
	p.open("/sources")
	p.screenshot("sources")

	// Every page on a 375 px phone: nothing wider than the screen, every
	// field labelled.
	p.do(chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	for name, path := range map[string]string{"alerts": "/", "alert": "/alerts/br-1", "destinations": "/destinations",
		"rules": "/rules", "sources": "/sources", "alerts-filtered": "/?q=travel"} {
		p.open(path)
		if o := p.overflow(); o != "" {
			t.Errorf("%s at 375 px scrolls sideways: %s", path, o)
		}
		if u := p.unlabelled(); u != "" {
			t.Errorf("%s has fields without a label:\n%s", path, u)
		}
		p.screenshot("mobile-" + name)
	}

	// Sign out: every page is refused again.
	p.submit(chromedp.Click(chromedp.CSS(".signout button")))
	p.screenshot("mobile-login")
	if o := p.overflow(); o != "" {
		t.Errorf("/login at 375 px scrolls sideways: %s", o)
	}
	for _, path := range []string{"/", "/alerts/br-1", "/destinations"} {
		p.open(path)
		if loc := p.location(); !strings.HasPrefix(loc, s.base+"/login?next=") || strings.Contains(p.text(), "logged in as alice") {
			t.Errorf("signed out, %s is %s", path, loc)
		}
	}
}

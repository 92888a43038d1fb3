package jira_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

type observed struct {
	site   string
	kind   jira.RequestKind
	status int
	took   time.Duration
}

type window struct {
	site   string
	opened bool
	closed time.Duration
}

// recorder is an Observer that keeps what it heard.
type recorder struct {
	mu       sync.Mutex
	requests []observed
	windows  []window
}

func (r *recorder) Request(site string, kind jira.RequestKind, status int, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, observed{site, kind, status, took})
}

func (r *recorder) RateLimited(site string, opened bool, closed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.windows = append(r.windows, window{site, opened, closed})
}

func (r *recorder) snapshot() ([]observed, []window) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]observed(nil), r.requests...), append([]window(nil), r.windows...)
}

// kindOf is the kind a request to Jira should be reported as, worked out
// from its method and path apart from the client's own naming.
func kindOf(method, path string) jira.RequestKind {
	p := path
	if i := strings.Index(p, "/rest/api/"); i >= 0 {
		p = p[i+len("/rest/api/x"):] // drop the version
	}
	seg := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "/serverInfo":
		return jira.KindServerInfo
	case p == "/myself":
		return jira.KindMyself
	case p == "/user/search":
		return jira.KindUserSearch
	case p == "/user":
		return jira.KindUser
	case strings.HasPrefix(p, "/search"):
		return jira.KindSearch
	case strings.HasPrefix(path, "/rest/webhooks/"):
		return jira.KindWebhookRegister
	case strings.HasPrefix(p, "/issue/createmeta/"):
		return jira.KindCreateMeta
	case p == "/issue" && method == http.MethodPost:
		return jira.KindCreate
	case p == "/issue/bulk" && method == http.MethodPost:
		return jira.KindBulkCreate
	case len(seg) == 2 && method == http.MethodGet:
		return jira.KindGet
	case len(seg) == 2 && method == http.MethodPut:
		return jira.KindEdit
	case len(seg) == 3 && seg[2] == "transitions" && method == http.MethodGet:
		return jira.KindTransitions
	case len(seg) == 3 && seg[2] == "transitions":
		return jira.KindTransition
	case len(seg) == 3 && seg[2] == "comment" && method == http.MethodGet:
		return jira.KindComments
	case len(seg) == 3 && seg[2] == "comment":
		return jira.KindComment
	case len(seg) == 4 && seg[2] == "comment":
		return jira.KindCommentEdit
	case len(seg) == 3 && seg[2] == "assignee":
		return jira.KindAssign
	}
	return "unknown: " + jira.RequestKind(method+" "+path)
}

// Every request a client sends is reported once, under the kind its path
// says, with Jira's status and the site's scheme and host.
func TestObserverHearsEveryRequestByKind(t *testing.T) {
	for _, d := range deployments {
		t.Run(string(d), func(t *testing.T) {
			sb, err := sandbox.Start(sandbox.Options{Deployment: d, Users: []sandbox.User{sandbox.DefaultUser,
				{AccountID: "acc-2", Name: "alice", Key: "JIRAUSER10001", Email: "alice@example.com", Token: "alice-token"}}})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close()
			rec := &recorder{}
			// A path under the base URL, which the site key drops; the
			// user info, which never reaches a label.
			base := strings.Replace(sb.URL(), "http://", "http://bot:secret@", 1)
			c := jira.New(jira.Config{BaseURL: base, User: sandbox.DefaultUser.Email, Token: sandbox.DefaultUser.Token,
				Timeout: 2 * time.Second, Observer: rec})
			ctx := context.Background()

			if _, err := c.Myself(ctx); err != nil { // detects the deployment first: server_info
				t.Fatal(err)
			}
			ref, err := c.CreateIssue(ctx, map[string]any{"project": map[string]any{"key": "SEC"},
				"issuetype": map[string]any{"name": "Task"}, "summary": "s", "labels": []string{"x"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			_, err = c.CreateIssues(ctx, []jira.IssueCreate{
				{Fields: map[string]any{"project": map[string]any{"key": "SEC"}, "issuetype": map[string]any{"name": "Task"}, "summary": "b1"}},
				{Fields: map[string]any{"project": map[string]any{"key": "SEC"}, "issuetype": map[string]any{"name": "Task"}, "summary": "b2"}},
			})
			must(err)
			_, err = c.GetIssue(ctx, ref.Key, "status")
			must(err)
			must(c.EditIssue(ctx, ref.Key, map[string]any{"labels": []string{"y"}}))
			_, err = c.SearchJQL(ctx, "project = SEC", nil, 10)
			must(err)
			ts, err := c.Transitions(ctx, ref.Key)
			must(err)
			must(c.DoTransition(ctx, ref.Key, ts[0].ID))
			cm, err := c.AddComment(ctx, ref.Key, description(d, "hi"))
			must(err)
			_, err = c.AddCommentWithProperty(ctx, ref.Key, description(d, "hi"), "k", map[string]any{"a": 1})
			must(err)
			_, err = c.Comments(ctx, ref.Key)
			must(err)
			_, err = c.UpdateComment(ctx, ref.Key, cm.ID, description(d, "edited"))
			must(err)
			alice, err := c.FindUserByEmail(ctx, "alice@example.com")
			must(err)
			must(c.AssignIssue(ctx, ref.Key, alice))
			_, err = c.CreateMeta(ctx, "SEC", "Task")
			must(err)
			// The sandbox has neither of these: they are reported as 404s.
			_, _ = c.UserByID(ctx, "acc-2")
			_, _ = c.RegisterWebhook(ctx, jira.Webhook{Name: "w", URL: "http://example.com", Events: []string{"jira:issue_updated"}})
			if _, err := c.GetIssue(ctx, "SEC-404"); !jira.IsNotFound(err) {
				t.Fatalf("GetIssue(SEC-404): %v", err)
			}

			got, _ := rec.snapshot()
			sent := sb.Requests()
			if len(got) != len(sent) {
				t.Fatalf("observed %d requests, the sandbox saw %d", len(got), len(sent))
			}
			wantSite := "http://" + strings.TrimPrefix(sb.URL(), "http://")
			seen := map[jira.RequestKind]bool{}
			for i, o := range got {
				r := sent[i]
				if want := kindOf(r.Method, r.Path); o.kind != want {
					t.Errorf("%s %s reported as %q, want %q", r.Method, r.Path, o.kind, want)
				}
				if o.status != r.Status {
					t.Errorf("%s %s reported with status %d, Jira answered %d", r.Method, r.Path, o.status, r.Status)
				}
				if o.site != wantSite || o.site != jira.SiteKey(base) {
					t.Errorf("site = %q, want %q", o.site, wantSite)
				}
				if o.took <= 0 {
					t.Errorf("%s took %s", o.kind, o.took)
				}
				seen[o.kind] = true
			}
			for _, k := range jira.RequestKinds() {
				if !seen[k] {
					t.Errorf("no request of kind %s was reported", k)
				}
			}
			if last := got[len(got)-1]; last.kind != jira.KindGet || jira.StatusClass(last.status) != jira.Class4xx {
				t.Errorf("the 404 was reported as %+v", last)
			}
		})
	}
}

// Server errors and requests that got no answer are reported with their
// class; a request's time leaves out its wait at the site's gate.
func TestObserverStatusClassesAndGateTime(t *testing.T) {
	sb, err := sandbox.Start(sandbox.Options{Deployment: jira.DeploymentCloud})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	rec := &recorder{}
	c := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud, User: sandbox.DefaultUser.Email,
		Token: sandbox.DefaultUser.Token, Timeout: 300 * time.Millisecond, Observer: rec, Site: jira.NewSite(0, 0)})
	ctx := context.Background()

	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServerError, Count: 1})
	_, _ = c.Myself(ctx)
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultLostAnswer, Count: 1})
	_, _ = c.Myself(ctx)
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultSlow, Count: 1, Delay: 100 * time.Millisecond})
	if _, err := c.Myself(ctx); err != nil {
		t.Fatal(err)
	}
	// A one-second window, then a request that waits it out at the gate.
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultRateLimit, Count: 1, RetryAfter: time.Second})
	_, _ = c.Myself(ctx)
	start := time.Now()
	if _, err := c.Myself(ctx); err != nil {
		t.Fatal(err)
	}
	waited := time.Since(start)

	got, windows := rec.snapshot()
	var classes []string
	for _, o := range got {
		classes = append(classes, jira.StatusClass(o.status))
	}
	if want := "5xx error 2xx 429 2xx"; strings.Join(classes, " ") != want {
		t.Fatalf("classes = %s, want %s", strings.Join(classes, " "), want)
	}
	if got[1].status != 0 || got[1].took < 300*time.Millisecond {
		t.Errorf("the lost answer: %+v (want status 0 after the 300ms timeout)", got[1])
	}
	if got[2].took < 100*time.Millisecond {
		t.Errorf("the slow answer took %s, under its 100ms delay", got[2].took)
	}
	if waited < 500*time.Millisecond || got[4].took > waited/2 {
		t.Errorf("the request after the window took %s of the %s it waited", got[4].took, waited)
	}
	if len(windows) != 1 || !windows[0].opened || windows[0].site != jira.SiteKey(sb.URL()) ||
		windows[0].closed < 900*time.Millisecond || windows[0].closed > time.Second {
		t.Errorf("windows = %+v, want one opened for about 1s", windows)
	}
}

// Each window a 429 opens is counted with its length on the site's clock,
// and a probe refused again opens the next.
func TestObserverCountsEachWindow(t *testing.T) {
	sb, err := sandbox.Start(sandbox.Options{Deployment: jira.DeploymentCloud})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	var mu sync.Mutex
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	rec := &recorder{}
	c := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud, User: sandbox.DefaultUser.Email,
		Token: sandbox.DefaultUser.Token, Observer: rec, Site: jira.NewSite(0, 0, jira.WithClock(clock))})
	ctx := context.Background()

	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultRateLimit, Count: 2, RetryAfter: 3 * time.Second})
	_, _ = c.Myself(ctx)
	advance(3 * time.Second)
	_, _ = c.Myself(ctx) // the probe, refused: a second window
	advance(3 * time.Second)
	if _, err := c.Myself(ctx); err != nil {
		t.Fatal(err)
	}
	_, windows := rec.snapshot()
	want := []window{{jira.SiteKey(sb.URL()), true, 3 * time.Second}, {jira.SiteKey(sb.URL()), true, 3 * time.Second}}
	if len(windows) != len(want) || windows[0] != want[0] || windows[1] != want[1] {
		t.Errorf("windows = %+v, want %+v", windows, want)
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{0: "error", 200: "2xx", 204: "2xx", 301: "error", 400: "4xx", 404: "4xx",
		429: "429", 499: "4xx", 500: "5xx", 503: "5xx", 600: "error"} {
		if got := jira.StatusClass(status); got != want {
			t.Errorf("StatusClass(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestSiteKeyHasNoCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"https://Example.atlassian.net/jira/":       "https://example.atlassian.net",
		"https://bot:s3cret@jira.example.com:8443/": "https://jira.example.com:8443",
		"https://bot:s3c/ret@jira example.com":      "https://bot:xxxxx@jira example.com",
	} {
		if got := jira.SiteKey(in); got != want {
			t.Errorf("SiteKey(%q) = %q, want %q", in, got, want)
		}
	}
}

package jira_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jira/sandbox/openapicheck"
)

var deployments = []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter}

// start runs a validating sandbox and a client for it, detecting the
// deployment.
func start(t *testing.T, d jira.Deployment, mod func(*sandbox.Options)) (*sandbox.Sandbox, *jira.Client) {
	t.Helper()
	users := []sandbox.User{sandbox.DefaultUser, {AccountID: "acc-2", Name: "alice", Key: "JIRAUSER10001", Email: "alice@example.com", DisplayName: "Alice", Token: "alice-token", HideEmail: true}}
	opts := sandbox.Options{Deployment: d, Users: users, Validate: openapicheck.Validate(t, d),
		Projects: []sandbox.Project{{Key: "SEC", Fields: []sandbox.Field{{ID: "customfield_10010", Name: "Team"}}}, {Key: "OPS"}}}
	if mod != nil {
		mod(&opts)
	}
	sb, err := sandbox.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	c := jira.New(jira.Config{BaseURL: sb.URL(), User: sandbox.DefaultUser.Email, Token: sandbox.DefaultUser.Token, Timeout: 2 * time.Second})
	t.Cleanup(func() {
		if errs := sb.ValidationErrors(); len(errs) > 0 {
			t.Errorf("requests break the OpenAPI spec:\n%s", strings.Join(errs, "\n"))
		}
	})
	return sb, c
}

func description(d jira.Deployment, md string) any {
	if d == jira.DeploymentCloud {
		return adf.FromMarkdown(md)
	}
	return md
}

func TestClientAgainstSandbox(t *testing.T) {
	for _, d := range deployments {
		t.Run(string(d), func(t *testing.T) {
			sb, c := start(t, d, nil)
			ctx := context.Background()
			got, err := c.Deployment(ctx)
			if err != nil || got != d {
				t.Fatalf("Deployment = %q, %v; want %q", got, err, d)
			}
			if _, err := c.ServerInfo(ctx); err != nil {
				t.Fatal(err)
			}
			me, err := c.Myself(ctx)
			if err != nil || me.DisplayName != sandbox.DefaultUser.DisplayName {
				t.Fatalf("Myself = %+v, %v", me, err)
			}
			fields := map[string]any{
				"project":           map[string]any{"key": "SEC"},
				"issuetype":         map[string]any{"name": "Task"},
				"summary":           "[HIGH] admin logged in as user",
				"description":       description(d, "Something **bad** happened.\n\n```json\n{\"a\": 1}\n```"),
				"labels":            []string{"security-detection", "p0"},
				"priority":          map[string]any{"name": "High"},
				"customfield_10010": "blue",
			}
			ref, err := c.CreateIssue(ctx, fields, map[string]any{"alertbridge": map[string]any{"alert": "a-1", "destination": "sec-jira"}})
			if err != nil {
				t.Fatal(err)
			}
			if ref.Key != "SEC-1" || ref.ID == "" {
				t.Fatalf("ref = %+v", ref)
			}
			if c.BrowseURL(ref.Key) != sb.URL()+"/browse/SEC-1" {
				t.Errorf("BrowseURL = %s", c.BrowseURL(ref.Key))
			}
			is, err := c.GetIssue(ctx, ref.Key, "summary", "labels", "status")
			if err != nil {
				t.Fatal(err)
			}
			var summary string
			if ok, err := is.Field("summary", &summary); !ok || err != nil || summary != fields["summary"] {
				t.Errorf("summary = %q %v %v", summary, ok, err)
			}
			if err := c.EditIssue(ctx, ref.Key, map[string]any{"labels": []string{"security-detection", "p1"}}); err != nil {
				t.Fatal(err)
			}
			for _, jql := range []string{
				`project = SEC AND labels = "p1"`,
				`issue.property[alertbridge].alert = "a-1" ORDER BY created DESC`,
				`key in (SEC-1, SEC-9)`,
			} {
				res, err := c.SearchJQL(ctx, jql, []string{"summary"}, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(res) != 1 || res[0].Key != "SEC-1" {
					t.Errorf("%s: %+v", jql, res)
				}
			}
			ts, err := c.Transitions(ctx, ref.Key)
			if err != nil || len(ts) != 3 {
				t.Fatalf("Transitions = %+v, %v", ts, err)
			}
			var done jira.Transition
			for _, tr := range ts {
				if tr.To.Category == "done" {
					done = tr
				}
			}
			if err := c.DoTransition(ctx, ref.Key, done.ID); err != nil {
				t.Fatal(err)
			}
			cm, err := c.AddComment(ctx, ref.Key, description(d, "first *comment*"))
			if err != nil || cm.ID == "" {
				t.Fatalf("AddComment = %+v, %v", cm, err)
			}
			if _, err := c.UpdateComment(ctx, ref.Key, cm.ID, description(d, "edited")); err != nil {
				t.Fatal(err)
			}
			alice, err := c.FindUserByEmail(ctx, "alice@example.com")
			if err != nil || alice == nil {
				t.Fatalf("FindUserByEmail = %+v, %v", alice, err)
			}
			if nobody, err := c.FindUserByEmail(ctx, "nobody@example.com"); nobody != nil || err != nil {
				t.Errorf("FindUserByEmail(nobody) = %+v, %v", nobody, err)
			}
			if err := c.AssignIssue(ctx, ref.Key, alice); err != nil {
				t.Fatal(err)
			}
			meta, err := c.CreateMeta(ctx, "SEC", "Task")
			if err != nil || meta.IssueType == nil {
				t.Fatalf("CreateMeta = %+v, %v", meta, err)
			}
			if p := meta.Field("priority"); p == nil || !p.Allows("Highest") || p.Allows("Urgent") {
				t.Errorf("priority meta = %+v", p)
			}
			if meta.Field("customfield_10010") == nil || meta.Field("Summary") == nil {
				t.Errorf("fields = %+v", meta.Fields)
			}
			if meta, err := c.CreateMeta(ctx, "SEC", "Epic"); err != nil || meta.IssueType != nil || len(meta.IssueTypes) != 3 {
				t.Errorf("CreateMeta(Epic) = %+v, %v", meta, err)
			}

			stored := sb.Issues()
			if len(stored) != 1 {
				t.Fatalf("stored %d issues", len(stored))
			}
			s := stored[0]
			if s.Status.Category != "done" || s.Assignee == nil || s.Assignee.Email != "alice@example.com" ||
				strings.Join(s.Labels, ",") != "security-detection,p1" || s.Priority != "High" || len(s.Comments) != 1 {
				t.Errorf("stored = %+v", s)
			}
			if string(s.Properties["alertbridge"]) != `{"alert":"a-1","destination":"sec-jira"}` {
				t.Errorf("properties = %s", s.Properties["alertbridge"])
			}
			if d == jira.DeploymentCloud {
				if _, err := adf.Parse(s.Description); err != nil {
					t.Errorf("stored description is not ADF: %v", err)
				}
			}
			n := 0
			for _, r := range sb.Requests() {
				if strings.HasSuffix(r.Path, "/serverInfo") {
					n++
				}
			}
			if n != 2 { // one detection, one explicit ServerInfo
				t.Errorf("serverInfo asked %d times, want 2 (detection is remembered)", n)
			}
		})
	}
}

func asError(t *testing.T, err error) *jira.Error {
	t.Helper()
	var e *jira.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *jira.Error", err, err)
	}
	return e
}

func TestErrorsAndHints(t *testing.T) {
	for _, d := range deployments {
		t.Run(string(d), func(t *testing.T) {
			sb, c := start(t, d, func(o *sandbox.Options) {
				o.Users = append(o.Users, sandbox.User{AccountID: "acc-3", Name: "viewer", Email: "viewer@example.com", Token: "v", Projects: []string{"OPS"}})
			})
			ctx := context.Background()
			base := func() map[string]any {
				return map[string]any{"project": map[string]any{"key": "SEC"}, "issuetype": map[string]any{"name": "Task"}, "summary": "s"}
			}
			cases := []struct {
				name   string
				mod    func(map[string]any)
				status int
				field  string
				hint   string
			}{
				{"priority", func(f map[string]any) { f["priority"] = map[string]any{"name": "Urgent"} }, 400, "priority", "unknown priority"},
				{"issuetype", func(f map[string]any) { f["issuetype"] = map[string]any{"name": "Epic"} }, 400, "issuetype", "unknown issue type"},
				{"screen", func(f map[string]any) { f["customfield_99999"] = "x" }, 400, "customfield_99999", "not on the create screen"},
				{"project", func(f map[string]any) { f["project"] = map[string]any{"key": "NOPE"} }, 400, "project", "verify the project key"},
				{"labels", func(f map[string]any) { f["labels"] = []string{"two words"} }, 400, "labels", "spaces"},
				{"summary", func(f map[string]any) { f["summary"] = strings.Repeat("x", 256) }, 400, "summary", "255"},
				{"description type", func(f map[string]any) {
					if d == jira.DeploymentCloud {
						f["description"] = "plain string"
					} else {
						f["description"] = adf.FromMarkdown("doc")
					}
				}, 400, "description", ""},
			}
			for _, tc := range cases {
				f := base()
				tc.mod(f)
				_, err := c.CreateIssue(ctx, f, nil)
				if tc.name == "description type" && d == jira.DeploymentDataCenter {
					// The DC spec types description loosely, so the
					// sandbox's own check answers: a string is required.
					_ = err
				}
				e := asError(t, err)
				if e.Status != tc.status || e.Fields[tc.field] == "" || !strings.Contains(e.Hint, tc.hint) || e.Temporary() {
					t.Errorf("%s: %+v", tc.name, e)
				}
				if !strings.Contains(e.Error(), e.Fields[tc.field]) {
					t.Errorf("%s: Error() = %q lacks Jira's message", tc.name, e.Error())
				}
			}

			bad := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: d, User: "bot@example.com", Token: "wrong-secret-token"})
			_, err := bad.Myself(ctx)
			e := asError(t, err)
			if e.Status != 401 || !strings.Contains(e.Hint, "verify the") || strings.Contains(e.Error(), "wrong-secret-token") {
				t.Errorf("401: %v", e)
			}
			if d == jira.DeploymentCloud && e.Hint != "verify the e-mail and API token" {
				t.Errorf("401 hint = %q", e.Hint)
			}
			if d == jira.DeploymentDataCenter {
				pat := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: d, AuthScheme: "bearer", Token: "nope"})
				_, err := pat.Myself(ctx)
				if e := asError(t, err); e.Status != 401 || e.Hint != "verify the personal access token" {
					t.Errorf("bearer 401: %v", e)
				}
				ok := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: d, AuthScheme: "bearer", Token: sandbox.DefaultUser.Token})
				if _, err := ok.Myself(ctx); err != nil {
					t.Errorf("bearer: %v", err)
				}
			}

			viewer := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: d, User: "viewer@example.com", Token: "v"})
			_, err = viewer.CreateIssue(ctx, base(), nil)
			if e := asError(t, err); e.Status != 403 || e.Hint != "the user lacks Create Issues permission in project SEC" {
				t.Errorf("403: %v", e)
			}

			_, err = c.GetIssue(ctx, "SEC-404")
			if e := asError(t, err); e.Status != 404 || e.Hint != "verify the instance URL and project key" || !jira.IsNotFound(err) {
				t.Errorf("404: %v", e)
			}
			wrongURL := jira.New(jira.Config{BaseURL: sb.URL() + "/jira", Deployment: d, User: "bot@example.com", Token: sandbox.DefaultUser.Token})
			if _, err := wrongURL.CreateIssue(ctx, base(), nil); asError(t, err).Status != 404 {
				t.Errorf("wrong base URL: %v", err)
			}

			sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServerError, Count: 1, Status: 502})
			_, err = c.GetIssue(ctx, "SEC-1")
			if e := asError(t, err); e.Status != 502 || !e.Temporary() {
				t.Errorf("5xx: %v", e)
			}

			sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultLostAnswer, Count: 1})
			slow := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: d, User: "bot@example.com", Token: sandbox.DefaultUser.Token, Timeout: 200 * time.Millisecond})
			_, err = slow.CreateIssue(ctx, base(), nil)
			var ue *url.Error
			var ne net.Error
			if !errors.As(err, &ue) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("lost answer: want a timeout *url.Error, got %v", err)
			}
			if n := len(sb.Issues()); n != 1 {
				t.Errorf("the lost create should have created the issue: %d issues", n)
			}
		})
	}
}

func TestRetryAfterGate(t *testing.T) {
	sb, _ := start(t, jira.DeploymentCloud, nil)
	site := jira.NewSite(100, 4)
	c := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud, User: "bot@example.com", Token: sandbox.DefaultUser.Token, Site: site})
	other := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud, User: "bot@example.com", Token: sandbox.DefaultUser.Token, Site: site})
	ctx := context.Background()
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultRateLimit, Count: 1, RetryAfter: time.Second})
	start := time.Now()
	_, err := c.Myself(ctx)
	e := asError(t, err)
	if e.Status != 429 || e.RetryAfter != time.Second || !e.Temporary() {
		t.Fatalf("429: %+v", e)
	}
	if site.BlockedUntil().IsZero() {
		t.Fatal("the site is not blocked after a 429")
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c
			if i%2 == 1 {
				cl = other
			}
			if _, err := cl.Myself(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if el := time.Since(start); el < time.Second {
		t.Errorf("requests finished after %s, inside the Retry-After window", el)
	}
	if v := sb.RetryAfterViolations(0); len(v) > 0 {
		t.Errorf("%d requests inside the Retry-After window: %+v", len(v), v)
	}

	// X-RateLimit-Reset when there is no Retry-After.
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultRateLimit, Count: 1, RetryAfter: time.Second, ResetHeader: true})
	_, err = c.Myself(ctx)
	if e := asError(t, err); e.RetryAfter <= 0 || e.RetryAfter > time.Second {
		t.Errorf("X-RateLimit-Reset: RetryAfter = %s", e.RetryAfter)
	}
	// A context that ends while waiting for the gate stops the request.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Myself(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for the gate: %v", err)
	}
}

func TestSitesShareBySchemeAndHost(t *testing.T) {
	s := jira.NewSites()
	a := s.Get("https://example.atlassian.net", 10, 2)
	if s.Get("https://EXAMPLE.atlassian.net/jira/", 1, 1) != a {
		t.Error("same host got two sites")
	}
	if s.Get("http://example.atlassian.net", 10, 2) == a || s.Get("https://other.atlassian.net", 10, 2) == a {
		t.Error("different sites share one")
	}
}

func TestDetectionFailureIsNotRemembered(t *testing.T) {
	sb, c := start(t, jira.DeploymentDataCenter, nil)
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServerError, Count: 1, PathPrefix: "/rest/api/2/serverInfo"})
	if _, err := c.Deployment(context.Background()); err == nil {
		t.Fatal("detection through a 503 succeeded")
	}
	if d, err := c.Deployment(context.Background()); err != nil || d != jira.DeploymentDataCenter {
		t.Fatalf("second detection = %q, %v", d, err)
	}
}

// The JSON encodings of Status round-trip through Jira's shape.
func TestStatusJSON(t *testing.T) {
	var s jira.Status
	if err := json.Unmarshal([]byte(`{"id":"3","name":"In Progress","statusCategory":{"key":"indeterminate"}}`), &s); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s)
	var back jira.Status
	if err := json.Unmarshal(b, &back); err != nil || back != s {
		t.Errorf("round trip %s → %+v", b, back)
	}
}

var _ = http.StatusOK

package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jira/sandbox/openapicheck"
)

var alice = sandbox.User{AccountID: "acc-2", Name: "alice", Key: "JIRAUSER10001", Email: "alice@example.com", DisplayName: "Alice", Token: "alice-token"}

// validated starts a sandbox that checks every request against Atlassian's
// spec for d, and fails the test if one breaks it.
func validated(t *testing.T, d jira.Deployment) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Options{Deployment: d, Users: []sandbox.User{sandbox.DefaultUser, alice}, Validate: openapicheck.Validate(t, d)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sb.Close()
		if errs := sb.ValidationErrors(); len(errs) > 0 {
			t.Errorf("requests break the OpenAPI spec:\n%s", strings.Join(errs, "\n"))
		}
	})
	return sb
}

func text(d jira.Deployment, s string) any {
	if d == jira.DeploymentCloud {
		return adf.FromMarkdown(s)
	}
	return s
}

func prefix(d jira.Deployment) string {
	if d == jira.DeploymentCloud {
		return "/rest/api/3"
	}
	return "/rest/api/2"
}

// Each request alertbridge sends, under a fault that stores its effect and
// then answers 502 or not at all, has its effect exactly once, and the
// record says it was served.
func TestEffectStoredDespiteFault(t *testing.T) {
	type effect struct {
		name, method, path string // path after the REST prefix; SEC-1 exists, with comment 10001
		do                 func(ctx context.Context, c *jira.Client, d jira.Deployment) error
		check              func(t *testing.T, sb *sandbox.Sandbox)
	}
	effects := []effect{
		{"create issue", "POST", "/issue",
			func(ctx context.Context, c *jira.Client, d jira.Deployment) error {
				_, err := c.CreateIssue(ctx, fields("second", "alertbridge"), map[string]any{"alertbridge": map[string]any{"marker": "m-2"}})
				return err
			},
			func(t *testing.T, sb *sandbox.Sandbox) {
				if is := sb.Issues(); len(is) != 2 || is[1].Summary != "second" || len(is[1].Properties) != 1 {
					t.Errorf("issues: %+v", is)
				}
			}},
		{"add comment", "POST", "/issue/SEC-1/comment",
			func(ctx context.Context, c *jira.Client, d jira.Deployment) error {
				_, err := c.AddCommentWithProperty(ctx, "SEC-1", text(d, "posted"), "alertbridge", map[string]int{"alertComment": 9})
				return err
			},
			func(t *testing.T, sb *sandbox.Sandbox) {
				cs := sb.Comments("SEC-1")
				if len(cs) != 2 || string(cs[1].Properties["alertbridge"]) != `{"alertComment":9}` {
					t.Errorf("comments: %+v", cs)
				}
			}},
		{"transition", "POST", "/issue/SEC-1/transitions",
			func(ctx context.Context, c *jira.Client, d jira.Deployment) error {
				return c.DoTransition(ctx, "SEC-1", "31")
			},
			func(t *testing.T, sb *sandbox.Sandbox) {
				h := sb.StatusHistory("SEC-1")
				if len(h) != 1 || h[0].From != "To Do" || h[0].To != "Done" || h[0].Transition != "31" || h[0].At.IsZero() {
					t.Errorf("status history: %+v", h)
				}
			}},
		{"assign", "PUT", "/issue/SEC-1/assignee",
			func(ctx context.Context, c *jira.Client, d jira.Deployment) error {
				u := &jira.User{AccountID: alice.AccountID, Name: alice.Name}
				return c.AssignIssue(ctx, "SEC-1", u)
			},
			func(t *testing.T, sb *sandbox.Sandbox) {
				h := sb.AssigneeHistory("SEC-1")
				if len(h) != 1 || h[0].From != "" || (h[0].To != alice.AccountID && h[0].To != alice.Name) {
					t.Errorf("assignee history: %+v", h)
				}
			}},
		{"edit", "PUT", "/issue/SEC-1",
			func(ctx context.Context, c *jira.Client, d jira.Deployment) error {
				return c.EditIssue(ctx, "SEC-1", map[string]any{"labels": []string{"edited"}})
			},
			func(t *testing.T, sb *sandbox.Sandbox) {
				if is, _ := sb.Issue("SEC-1"); len(is.Labels) != 1 || is.Labels[0] != "edited" {
					t.Errorf("labels: %v", is.Labels)
				}
			}},
		{"update comment", "PUT", "/issue/SEC-1/comment/10001",
			func(ctx context.Context, c *jira.Client, d jira.Deployment) error {
				_, err := c.UpdateComment(ctx, "SEC-1", "10001", text(d, "edited body"))
				return err
			},
			func(t *testing.T, sb *sandbox.Sandbox) {
				cs := sb.Comments("SEC-1")
				if len(cs) != 1 || !strings.Contains(string(cs[0].Body), "edited body") {
					t.Errorf("comments: %+v", cs)
				}
			}},
	}
	for _, d := range []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter} {
		for _, kind := range []sandbox.FaultKind{sandbox.FaultStoredServerError, sandbox.FaultLostAnswer} {
			for _, e := range effects {
				t.Run(fmt.Sprintf("%s/%s/%s", d, kind, e.name), func(t *testing.T) {
					sb := validated(t, d)
					ctx := context.Background()
					c := client(sb.URL(), d)
					if _, err := c.CreateIssue(ctx, fields("first", "alertbridge"), nil); err != nil {
						t.Fatal(err)
					}
					if cm, err := c.AddComment(ctx, "SEC-1", text(d, "first")); err != nil || cm.ID != "10001" {
						t.Fatalf("first comment %+v, %v", cm, err)
					}
					// Method and exact path pick the one request: a prefix
					// would also catch /issue/SEC-1/... for the edit.
					path := prefix(d) + e.path
					sb.Fail(sandbox.FaultSpec{Kind: kind, Method: e.method, PathPrefix: path, Count: 1})
					quick := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: d, User: sandbox.DefaultUser.Email, Token: sandbox.DefaultUser.Token, Timeout: 200 * time.Millisecond})
					err := e.do(ctx, quick, d)
					var je *jira.Error
					var ne net.Error
					switch {
					case kind == sandbox.FaultStoredServerError && !(errors.As(err, &je) && je.Status == http.StatusBadGateway):
						t.Fatalf("want Jira's 502, got %v", err)
					case kind == sandbox.FaultLostAnswer && !(errors.As(err, &ne) && ne.Timeout()):
						t.Fatalf("want a timeout, got %v", err)
					}
					e.check(t, sb)

					var rec *sandbox.RecordedRequest
					reqs := sb.Requests()
					for i := range reqs {
						if reqs[i].Method == e.method && reqs[i].Path == path {
							rec = &reqs[i]
						}
					}
					wantStatus := map[sandbox.FaultKind]int{sandbox.FaultStoredServerError: 502, sandbox.FaultLostAnswer: 0}[kind]
					if rec == nil || rec.Fault == "" || rec.Status != wantStatus || rec.Served < 200 || rec.Served > 299 {
						t.Errorf("record: %+v", rec)
					}
				})
			}
		}
	}
}

// A stored-then-502 comment exists once, and its property reads back from
// the list and from the comment itself, only when expanded.
func TestCommentPropertyReadBack(t *testing.T) {
	for _, d := range []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter} {
		t.Run(string(d), func(t *testing.T) {
			sb := validated(t, d)
			ctx := context.Background()
			c := client(sb.URL(), d)
			if _, err := c.CreateIssue(ctx, fields("s", "alertbridge"), nil); err != nil {
				t.Fatal(err)
			}
			sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultStoredServerError, Method: "POST", Count: 1})
			if _, err := c.AddCommentWithProperty(ctx, "SEC-1", text(d, "once"), "alertbridge", map[string]any{"alertComment": 3}); err == nil {
				t.Fatal("no 502")
			}
			cs := sb.Comments("SEC-1")
			if len(cs) != 1 {
				t.Fatalf("%d comments", len(cs))
			}
			id := cs[0].ID
			for _, tc := range []struct {
				path, query string
				want        bool
			}{
				{"/issue/SEC-1/comment", "expand=properties", true},
				{"/issue/SEC-1/comment", "expand=renderedBody,properties&orderBy=-created", true},
				{"/issue/SEC-1/comment", "", false},
				{"/issue/SEC-1/comment/" + id, "expand=properties", true},
				{"/issue/SEC-1/comment/" + id, "", false},
			} {
				var got struct {
					Comments   []json.RawMessage
					Properties *[]struct {
						Key   string
						Value json.RawMessage
					}
				}
				get(t, sb.URL()+prefix(d)+tc.path+"?"+tc.query, &got)
				if len(got.Comments) == 1 {
					if err := json.Unmarshal(got.Comments[0], &got); err != nil {
						t.Fatal(err)
					}
				}
				switch {
				case !tc.want && got.Properties != nil:
					t.Errorf("%s?%s: properties without expand", tc.path, tc.query)
				case tc.want && (got.Properties == nil || len(*got.Properties) != 1 || (*got.Properties)[0].Key != "alertbridge" ||
					string((*got.Properties)[0].Value) != `{"alertComment":3}`):
					t.Errorf("%s?%s: properties %+v", tc.path, tc.query, got.Properties)
				}
			}
			get(t, sb.URL()+prefix(d)+"/issue/SEC-1/comment/99999", nil)
		})
	}
}

// get fetches url as the default user into out; a nil out wants a 404.
func get(t *testing.T, url string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth(sandbox.DefaultUser.Email, sandbox.DefaultUser.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out == nil {
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", url, resp.StatusCode)
		}
		return
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// Pages are as Jira sends them: startAt and total, at most 100 comments
// whatever maxResults asks, newest first on request.
func TestCommentPages(t *testing.T) {
	for _, d := range []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter} {
		t.Run(string(d), func(t *testing.T) {
			sb := validated(t, d)
			ctx := context.Background()
			c := client(sb.URL(), d)
			if _, err := c.CreateIssue(ctx, fields("s", "alertbridge"), nil); err != nil {
				t.Fatal(err)
			}
			for i := range 120 {
				if _, err := c.AddComment(ctx, "SEC-1", text(d, fmt.Sprint("c", i))); err != nil {
					t.Fatal(err)
				}
			}
			type page struct {
				StartAt, MaxResults, Total int
				Comments                   []struct{ ID string }
			}
			defMax := map[jira.Deployment]int{jira.DeploymentCloud: 100, jira.DeploymentDataCenter: 50}[d]
			for _, tc := range []struct {
				query         string
				start, max, n int
				firstID       string
				total         int
			}{
				{"", 0, defMax, defMax, "10001", 120},
				{"startAt=110&maxResults=5", 110, 5, 5, "10111", 120},
				{"startAt=100&maxResults=1000", 100, 100, 20, "10101", 120},
				{"startAt=500", 500, defMax, 0, "", 120},
				{"maxResults=2&orderBy=-created", 0, 2, 2, "10120", 120},
			} {
				var p page
				get(t, sb.URL()+prefix(d)+"/issue/SEC-1/comment?"+tc.query, &p)
				first := ""
				if len(p.Comments) > 0 {
					first = p.Comments[0].ID
				}
				if p.StartAt != tc.start || p.MaxResults != tc.max || len(p.Comments) != tc.n || first != tc.firstID || p.Total != tc.total {
					t.Errorf("?%s: startAt %d maxResults %d total %d, %d comments from %s", tc.query, p.StartAt, p.MaxResults, p.Total, len(p.Comments), first)
				}
			}
		})
	}
}

// Data Center's comment create casts property values to JSON objects; the
// sandbox refuses other values there, and Cloud keeps any JSON.
func TestCommentPropertyShapes(t *testing.T) {
	for _, tc := range []struct {
		d     jira.Deployment
		value string
		want  int
	}{
		{jira.DeploymentCloud, `{"a":1}`, 201},
		{jira.DeploymentCloud, `"a string"`, 201},
		{jira.DeploymentCloud, `7`, 201},
		{jira.DeploymentCloud, `null`, 400},
		{jira.DeploymentDataCenter, `{"a":1}`, 201},
		{jira.DeploymentDataCenter, `"{\"a\":1}"`, 400},
		{jira.DeploymentDataCenter, `[1]`, 400},
	} {
		// No spec check: it would refuse the null itself, and the point is
		// what the sandbox refuses of what the specs allow.
		sb, err := sandbox.Start(sandbox.Options{Deployment: tc.d})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		if _, err := client(sb.URL(), tc.d).CreateIssue(context.Background(), fields("s", "alertbridge"), nil); err != nil {
			t.Fatal(err)
		}
		body := `{"body":"plain","properties":[{"key":"k","value":` + tc.value + `}]}`
		req, _ := http.NewRequest("POST", sb.URL()+"/rest/api/2/issue/SEC-1/comment", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(sandbox.DefaultUser.Email, sandbox.DefaultUser.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.d, tc.value, resp.StatusCode, b, tc.want)
		}
		if tc.want == 201 {
			if got := string(sb.Comments("SEC-1")[0].Properties["k"]); got != tc.value {
				t.Errorf("%s: stored %s, want %s", tc.d, got, tc.value)
			}
		}
	}
}

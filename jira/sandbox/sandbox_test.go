package sandbox_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

func client(base string, d jira.Deployment) *jira.Client {
	return jira.New(jira.Config{BaseURL: base, Deployment: d, User: sandbox.DefaultUser.Email, Token: sandbox.DefaultUser.Token, Timeout: 2 * time.Second})
}

func fields(summary string, labels ...string) map[string]any {
	return map[string]any{"project": map[string]any{"key": "SEC"}, "issuetype": map[string]any{"name": "Task"}, "summary": summary, "labels": labels}
}

func TestSearchIndexLag(t *testing.T) {
	sb, err := sandbox.Start(sandbox.Options{IndexLag: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	c := client(sb.URL(), jira.DeploymentCloud)
	ctx := context.Background()
	if _, err := c.CreateIssue(ctx, fields("one", "ab-marker-1"), nil); err != nil {
		t.Fatal(err)
	}
	jql := `project = SEC AND labels = "ab-marker-1"`
	if res, err := c.SearchJQL(ctx, jql, nil, 5); err != nil || len(res) != 0 {
		t.Fatalf("just created: %v, %v; want nothing yet", res, err)
	}
	time.Sleep(200 * time.Millisecond)
	if res, err := c.SearchJQL(ctx, jql, nil, 5); err != nil || len(res) != 1 {
		t.Fatalf("after the lag: %v, %v", res, err)
	}
	// get is not subject to the lag.
	if _, err := c.GetIssue(ctx, "SEC-1"); err != nil {
		t.Fatal(err)
	}
}

func TestJQL(t *testing.T) {
	for _, d := range []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter} {
		sb := sandbox.New(sandbox.Options{Deployment: d, Projects: []sandbox.Project{{Key: "SEC"}, {Key: "OPS"}}})
		srv := httptest.NewServer(sb)
		defer srv.Close()
		c := jira.New(jira.Config{BaseURL: srv.URL, Deployment: d, User: sandbox.DefaultUser.Email, Token: sandbox.DefaultUser.Token})
		ctx := context.Background()
		for i, l := range []string{"x", "y", "x"} {
			if _, err := c.CreateIssue(ctx, fields("s", l), map[string]any{"ab": map[string]any{"n": i}}); err != nil {
				t.Fatal(err)
			}
		}
		f := fields("ops")
		f["project"] = map[string]any{"key": "OPS"}
		if _, err := c.CreateIssue(ctx, f, nil); err != nil {
			t.Fatal(err)
		}
		cases := map[string]string{
			`project = SEC AND labels = "x"`:                                 "SEC-1,SEC-3",
			`project = SEC AND labels = x ORDER BY created DESC`:             "SEC-3,SEC-1",
			`issue.property[ab].n = 1`:                                       "SEC-2",
			`key in (SEC-2, OPS-1) ORDER BY key`:                             "SEC-2,OPS-1",
			`project = OPS OR labels = y`:                                    "SEC-2,OPS-1",
			`project = SEC AND NOT labels = x`:                               "SEC-2",
			`labels is EMPTY`:                                                "OPS-1",
			`status = "To Do" AND statusCategory = new AND project in (OPS)`: "OPS-1",
		}
		for jql, want := range cases {
			res, err := c.SearchJQL(ctx, jql, []string{"summary"}, 2)
			if err != nil {
				t.Fatalf("%s %s: %v", d, jql, err)
			}
			var keys []string
			for _, is := range res {
				keys = append(keys, is.Key)
			}
			if got := strings.Join(keys, ","); got != want {
				t.Errorf("%s %s = %s, want %s", d, jql, got, want)
			}
		}
		_, err := c.SearchJQL(ctx, `nosuchfield = 1`, nil, 1)
		var e *jira.Error
		if !asErr(err, &e) || e.Status != 400 || !strings.Contains(e.Messages[0], "nosuchfield") {
			t.Errorf("bad JQL: %v", err)
		}
	}
}

func asErr(err error, e **jira.Error) bool {
	je, ok := err.(*jira.Error)
	*e = je
	return ok
}

func TestCloudOldSearchIsGone(t *testing.T) {
	sb := sandbox.New(sandbox.Options{})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/rest/api/2/search", strings.NewReader(`{"jql":"project = SEC"}`))
	req.SetBasicAuth(sandbox.DefaultUser.Email, sandbox.DefaultUser.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Errorf("status %d, want 410", resp.StatusCode)
	}
}

func TestWorkflowTransitions(t *testing.T) {
	wf := &sandbox.Workflow{
		Initial: "Open",
		Statuses: []jira.Status{
			{ID: "1", Name: "Open", Category: "new"},
			{ID: "2", Name: "Triage", Category: "indeterminate"},
			{ID: "3", Name: "Closed", Category: "done"},
		},
		Transitions: []sandbox.WorkflowTransition{
			{ID: "5", Name: "Start triage", From: []string{"Open"}, To: "Triage"},
			{ID: "6", Name: "Close", From: []string{"Triage"}, To: "Closed"},
			{ID: "7", Name: "Reopen", From: []string{"Closed"}, To: "Open"},
		},
	}
	sb := sandbox.New(sandbox.Options{Deployment: jira.DeploymentDataCenter, Workflow: wf})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	c := jira.New(jira.Config{BaseURL: srv.URL, Deployment: jira.DeploymentDataCenter, User: sandbox.DefaultUser.Name, Token: sandbox.DefaultUser.Token})
	ctx := context.Background()
	ref, err := c.CreateIssue(ctx, fields("s"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.Transitions(ctx, ref.Key)
	if err != nil || len(ts) != 1 || ts[0].ID != "5" || ts[0].To.Name != "Triage" || ts[0].To.Category != "indeterminate" {
		t.Fatalf("transitions from Open = %+v, %v", ts, err)
	}
	if err := c.DoTransition(ctx, ref.Key, "6"); err == nil {
		t.Fatal("Close from Open was allowed")
	}
	for _, id := range []string{"5", "6"} {
		if err := c.DoTransition(ctx, ref.Key, id); err != nil {
			t.Fatal(err)
		}
	}
	is, _ := sb.Issue(ref.Key)
	if is.Status.Name != "Closed" || is.Status.Category != "done" {
		t.Errorf("status = %+v", is.Status)
	}
}

func TestWebhooksSigned(t *testing.T) {
	var mu sync.Mutex
	type got struct {
		event, sig, id string
		body           []byte
	}
	var hooks []got
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m struct {
			WebhookEvent string `json:"webhookEvent"`
		}
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		hooks = append(hooks, got{m.WebhookEvent, r.Header.Get("X-Hub-Signature"), r.Header.Get("X-Atlassian-Webhook-Identifier"), b})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	const secret = "s3cret"
	sb, err := sandbox.Start(sandbox.Options{WebhookURL: recv.URL, WebhookSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	c := client(sb.URL(), jira.DeploymentCloud)
	ctx := context.Background()
	ref, err := c.CreateIssue(ctx, fields("s"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DoTransition(ctx, ref.Key, "31"); err != nil {
		t.Fatal(err)
	}
	doc := json.RawMessage(`{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hello","marks":[{"type":"strong"}]}]}]}`)
	cm, err := c.AddComment(ctx, ref.Key, doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateComment(ctx, ref.Key, cm.ID, doc); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sb.FlushWebhooks(fctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var events []string
	for _, h := range hooks {
		events = append(events, h.event)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(h.body)
		if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); h.sig != want {
			t.Errorf("%s: signature %s, want %s", h.event, h.sig, want)
		}
		if h.id == "" {
			t.Errorf("%s: no X-Atlassian-Webhook-Identifier", h.event)
		}
	}
	if got := strings.Join(events, ","); got != "jira:issue_created,jira:issue_updated,comment_created,comment_updated" {
		t.Fatalf("events = %s", got)
	}
	var upd struct {
		Changelog struct {
			Items []struct{ Field, FromString, ToString string }
		}
	}
	_ = json.Unmarshal(hooks[1].body, &upd)
	if len(upd.Changelog.Items) == 0 || upd.Changelog.Items[0].Field != "status" || upd.Changelog.Items[0].ToString != "Done" {
		t.Errorf("changelog = %+v", upd.Changelog)
	}
	var cc struct {
		Comment struct{ Body any }
	}
	_ = json.Unmarshal(hooks[2].body, &cc)
	if cc.Comment.Body != "*hello*" {
		t.Errorf("webhook comment body = %#v, want the wiki string *hello* (v2 representation)", cc.Comment.Body)
	}
}

// faultRun sends n requests and returns the faults they met.
func faultRun(t *testing.T, seed uint64, n int) string {
	t.Helper()
	sb := sandbox.New(sandbox.Options{Seed: seed})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServerError, Probability: 0.2})
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultSlow, Probability: 0.2, Delay: time.Millisecond})
	c := client(srv.URL, jira.DeploymentCloud)
	for range n {
		_, _ = c.Myself(context.Background())
	}
	var b strings.Builder
	for _, r := range sb.Requests() {
		b.WriteString(r.Fault + "|")
	}
	return b.String()
}

func TestFaultsDeterministic(t *testing.T) {
	a, b, other := faultRun(t, 7, 60), faultRun(t, 7, 60), faultRun(t, 8, 60)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a == other {
		t.Error("different seeds gave the same faults")
	}
	if !strings.Contains(a, "server-error") || !strings.Contains(a, "slow") {
		t.Errorf("faults never fired: %s", a)
	}
}

func TestFaultCountAndWindow(t *testing.T) {
	sb := sandbox.New(sandbox.Options{})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	c := client(srv.URL, jira.DeploymentCloud)
	ctx := context.Background()
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServerError, Count: 2, Method: "GET"})
	for i, wantErr := range []bool{true, true, false} {
		if _, err := c.Myself(ctx); (err != nil) != wantErr {
			t.Errorf("request %d: %v", i, err)
		}
	}
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServerError, For: 50 * time.Millisecond})
	if _, err := c.Myself(ctx); err == nil {
		t.Error("inside the window: no fault")
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := c.Myself(ctx); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

func TestBulkCreate(t *testing.T) {
	sb := sandbox.New(sandbox.Options{})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	body := `{"issueUpdates":[{"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Task"},"summary":"a"}},{"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Nope"},"summary":"b"}}]}`
	req, _ := http.NewRequest("POST", srv.URL+"/rest/api/3/issue/bulk", strings.NewReader(body))
	req.SetBasicAuth(sandbox.DefaultUser.Email, sandbox.DefaultUser.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Issues []jira.IssueRef
		Errors []struct {
			FailedElementNumber int
			ElementErrors       struct{ Errors map[string]string }
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 201 || len(out.Issues) != 1 || len(out.Errors) != 1 || out.Errors[0].FailedElementNumber != 1 || out.Errors[0].ElementErrors.Errors["issuetype"] == "" {
		t.Errorf("bulk: %d %+v", resp.StatusCode, out)
	}
}

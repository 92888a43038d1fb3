package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

// TestJiraTwoWaySyncThroughTheBinary runs the real binary against two Jira
// tenants (Cloud and Data Center), each sending signed webhooks to the
// binary's /webhooks/jira/{destination}: a status, assignee and comment
// change made on either side reaches the other and the other tenant, and
// then nothing more happens (no job left, no webhook waiting).
func TestJiraTwoWaySyncThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	ctx := context.Background()
	addr := freePort(t)
	storage := testdb.URL(t, "sqlite")
	analyst := sandbox.User{AccountID: "acc-ann", Name: "ann", Key: "JIRAUSER10001", Email: "ann@example.com", DisplayName: "Ann", Token: "ann-token"}
	type tenant struct {
		dest string
		dep  jira.Deployment
		sb   *sandbox.Sandbox
		ann  *jira.Client
	}
	tenants := []*tenant{{dest: "jira-a", dep: jira.DeploymentCloud}, {dest: "jira-b", dep: jira.DeploymentDataCenter}}
	var dests strings.Builder
	for _, tn := range tenants {
		sb, err := sandbox.Start(sandbox.Options{
			Deployment: tn.dep, Users: []sandbox.User{sandbox.DefaultUser, analyst},
			WebhookURL: "http://" + addr + "/webhooks/jira/" + tn.dest, WebhookSecret: "s3cret", // WEBHOOK_SECRET of startServer
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		tn.sb = sb
		user, login := sandbox.DefaultUser.Email, analyst.Email
		if tn.dep == jira.DeploymentDataCenter {
			user, login = sandbox.DefaultUser.Name, analyst.Name
		}
		tn.ann = jira.New(jira.Config{BaseURL: sb.URL(), Deployment: tn.dep, User: login, Token: analyst.Token})
		fmt.Fprintf(&dests, `
  - name: %s
    type: jira
    jira:
      url: %s
      deployment: %s
      email: %s
      token_env: JIRA_TOKEN
      project: SEC
      search_lag: 10ms
      sync:
        status: two-way
        assignee: two-way
        comments: two-way
        webhook_secret_env: WEBHOOK_SECRET
`, tn.dest, sb.URL(), tn.dep, user)
	}
	t.Setenv("JIRA_TOKEN", sandbox.DefaultUser.Token)
	cfg := writeConfig(t, fmt.Sprintf(`
server:
  listen: %s
  api_tokens: [{name: t, token_env: ALERTBRIDGE_API_TOKEN}]
storage:
  url: %s
destinations:%s`, addr, storage, dests.String()))
	s := startServer(t, cfg, addr)

	type view struct {
		Status   string `json:"status"`
		Assignee string `json:"assignee"`
		Comments []struct {
			Body string `json:"body"`
		} `json:"comments"`
		Issues []struct {
			Destination string `json:"destination"`
			Key         string `json:"key"`
		} `json:"issues"`
		Timeline []struct {
			Actor, Action, Detail string
		} `json:"timeline"`
	}
	get := func() view {
		var v view
		if code, err := s.api("GET", "/api/v1/alerts/e2e-1", nil, &v); err != nil || code != 200 {
			t.Fatalf("get alert: %d %v", code, err)
		}
		return v
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; alert: %+v\n%s", what, get(), s.log.String())
			}
		}
	}
	if code, err := s.api("POST", "/api/v1/alerts", map[string]any{"alertId": "e2e-1", "title": "sync me", "severity": "HIGH"}, nil); err != nil || code != http.StatusAccepted {
		t.Fatalf("post alert: %d %v", code, err)
	}
	keys := map[string]string{}
	wait("an issue in each tenant", func() bool {
		for _, is := range get().Issues {
			keys[is.Destination] = is.Key
		}
		return len(keys) == 2
	})
	a, b := tenants[0], tenants[1]
	issue := func(tn *tenant) sandbox.StoredIssue {
		is, _ := tn.sb.Issue(keys[tn.dest])
		return is
	}
	mentions := func(tn *tenant, text string) int {
		n := 0
		for _, c := range issue(tn).Comments {
			if strings.Contains(string(c.Body), text) {
				n++
			}
		}
		return n
	}

	// API → both tenants.
	if code, err := s.api("PATCH", "/api/v1/alerts/e2e-1", map[string]any{"status": "TRIAGED", "actor": "sam"}, nil); err != nil || code != 200 {
		t.Fatalf("patch: %d %v", code, err)
	}
	wait("both issues In Progress", func() bool {
		return issue(a).Status.Name == "In Progress" && issue(b).Status.Name == "In Progress"
	})

	// Jira A (Cloud) → alert → Jira B (DC).
	ts, err := a.ann.Transitions(ctx, keys[a.dest])
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		if tr.To.Name == "Done" {
			if err := a.ann.DoTransition(ctx, keys[a.dest], tr.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	wait("the alert resolved and B Done", func() bool { return get().Status == "RESOLVED" && issue(b).Status.Name == "Done" })

	// Jira B (DC) assignee and comment → alert → Jira A.
	if err := b.ann.AssignIssue(ctx, keys[b.dest], &jira.User{Name: analyst.Name}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ann.AddComment(ctx, keys[b.dest], "seen on *host-7*"); err != nil {
		t.Fatal(err)
	}
	// And an alert comment → both.
	if code, err := s.api("POST", "/api/v1/alerts/e2e-1/comments", map[string]any{"body": "contained", "author": "sam"}, nil); err != nil || code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("comment: %d %v", code, err)
	}
	wait("the assignee and comments across", func() bool {
		is := issue(a)
		return get().Assignee == analyst.Email && is.Assignee != nil && is.Assignee.AccountID == analyst.AccountID &&
			mentions(a, "host-7") == 1 && mentions(a, "contained") == 1 && mentions(b, "contained") == 1
	})

	// Settled: no job may run, no webhook waits to be sent, and no request
	// reached Jira while that was checked. Nothing more can happen then, so
	// the counts below are final; no quiet period is guessed at.
	jobsDB := openJobsDB(t, "sqlite", storage)
	requests := func() int { return len(a.sb.Requests()) + len(b.sb.Requests()) }
	wait("nothing more to do", func() bool {
		before := requests()
		if jobsDB.pending(t) > 0 {
			return false
		}
		for _, sb := range []*sandbox.Sandbox{a.sb, b.sb} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := sb.FlushWebhooks(ctx)
			cancel()
			if err != nil {
				return false
			}
		}
		return jobsDB.pending(t) == 0 && requests() == before
	})
	v := get()
	if len(v.Comments) != 2 || mentions(b, "host-7") != 1 || mentions(a, "TRIAGED to RESOLVED") != 0 || mentions(b, "TRIAGED to RESOLVED") != 1 {
		t.Errorf("echoes: alert comments %+v, host-7 on B %d, A's change noted on A %d and B %d",
			v.Comments, mentions(b, "host-7"), mentions(a, "TRIAGED to RESOLVED"), mentions(b, "TRIAGED to RESOLVED"))
	}
	for _, e := range v.Timeline {
		if e.Action == "jira_sync_failed" {
			t.Errorf("sync failure on the timeline: %s", e.Detail)
		}
	}
}

package jirasync_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jirasync"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

const dest = "sec-jira"

var ann = sandbox.User{AccountID: "acc-ann", Name: "ann", Key: "JIRAUSER10001", Email: "ann@example.com", DisplayName: "Ann Analyst", Token: "t"}

type harness struct {
	st     store.Store
	svc    *lifecycle.Service
	sb     *sandbox.Sandbox
	client *jira.Client
	alert  string
	key    string
}

func defaultSync() config.JiraSync {
	return config.JiraSync{
		Status: config.SyncOneWay, Assignee: config.SyncOneWay, Comments: config.SyncOneWay,
		StatusMap: map[alert.Status]string{
			alert.StatusOpen: "To Do", alert.StatusTriaged: "in progress", alert.StatusResolved: "Done", alert.StatusClosed: "Done",
		},
	}
}

// newHarness runs the outbound path for real — store, River queue, syncer,
// alert service — against a sandbox Jira on the driver's database, with one alert linked
// to one issue of the one destination.
func newHarness(t *testing.T, driver string, dep jira.Deployment, opts sandbox.Options, sync config.JiraSync) *harness {
	t.Helper()
	return newHarnessWith(t, driver, dep, opts, func(c *jira.Client) []jirasync.Destination {
		return []jirasync.Destination{{Name: dest, Client: c, Sync: sync}}
	}, jirasync.Options{Logger: slog.New(slog.DiscardHandler)})
}

// newHarnessWith is newHarness on a database of the driver given, with the
// destinations dests makes of the sandbox's client (the alert's issue is in
// dest) and the syncer's options.
func newHarnessWith(t *testing.T, driver string, dep jira.Deployment, opts sandbox.Options,
	dests func(*jira.Client) []jirasync.Destination, syncOpts jirasync.Options) *harness {
	t.Helper()
	ctx := context.Background()
	opts.Deployment = dep
	opts.Users = []sandbox.User{sandbox.DefaultUser, ann}
	sb, err := sandbox.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	user := sandbox.DefaultUser.Email
	if dep == jira.DeploymentDataCenter {
		user = sandbox.DefaultUser.Name
	}
	client := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: dep, User: user, Token: sandbox.DefaultUser.Token, Timeout: 2 * time.Second})

	st := testdb.Open(t, driver)
	jl, err := jobs.New(ctx, jobs.Config{DB: st.Handle(), Queues: map[string]int{jirasync.Queue: 20, delivery.Queue: 5},
		PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return 20 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	syncer := jirasync.New(jl, st, dests(client), syncOpts)
	q := delivery.New(jl, st, delivery.Config{OnLinked: syncer.OnLinked})
	testdb.StartJobs(t, jl)
	svc := lifecycle.New(st, q, nil, lifecycle.Options{OnChange: syncer.OnChange})
	t.Cleanup(svc.Close)

	ref, err := client.CreateIssue(ctx, map[string]any{
		"project": map[string]string{"key": "SEC"}, "summary": "alert", "issuetype": map[string]string{"name": "Task"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := lifecycle.TestAlert(time.Now())
	err = st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.InsertAlert(ctx, a); err != nil {
			return err
		}
		return tx.UpsertIssue(ctx, a.AlertID, alert.Issue{Destination: dest, Key: ref.Key, ID: ref.ID, URL: client.BrowseURL(ref.Key)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{st: st, svc: svc, sb: sb, client: client, alert: a.AlertID, key: ref.Key}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) issue(t *testing.T) sandbox.StoredIssue {
	t.Helper()
	is, ok := h.sb.Issue(h.key)
	if !ok {
		t.Fatalf("issue %s is gone", h.key)
	}
	return is
}

func (h *harness) events(t *testing.T, action string) []string {
	t.Helper()
	r, err := h.svc.Get(context.Background(), h.alert)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range r.Timeline {
		if e.Action == action {
			out = append(out, e.Detail)
		}
	}
	return out
}

func (h *harness) comments(t *testing.T) []string {
	var out []string
	for _, c := range h.issue(t).Comments {
		out = append(out, string(c.Body))
	}
	return out
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestOutbound(t *testing.T) {
	for _, dep := range []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter} {
		t.Run(string(dep), func(t *testing.T) { testdb.Each(t, func(t *testing.T, driver string) { outbound(t, driver, dep) }) })
	}
}

func outbound(t *testing.T, driver string, dep jira.Deployment) {
	ctx := context.Background()
	h := newHarness(t, driver, dep, sandbox.Options{}, defaultSync())
	triaged := alert.StatusTriaged
	if _, err := h.svc.Update(ctx, h.alert, lifecycle.Patch{Status: &triaged, Actor: "ann"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the transition and its note", func() bool {
		cs := h.comments(t)
		return h.issue(t).Status.Name == "In Progress" && len(cs) == 1 &&
			strings.Contains(cs[0], "ann changed the status from OPEN to TRIAGED")
	})

	if _, err := h.svc.Comment(ctx, h.alert, "ann", "looks **bad**, see `host-1`"); err != nil {
		t.Fatal(err)
	}
	bold := `"type":"strong"`
	if dep == jira.DeploymentDataCenter {
		bold = "*bad*"
	}
	defer func() {
		if t.Failed() {
			t.Logf("comments %q timeline %q %q", h.comments(t), h.events(t, jirasync.ActionSynced), h.events(t, jirasync.ActionSyncFailed))
		}
	}()
	waitFor(t, "the comment", func() bool {
		cs := h.comments(t)
		if len(cs) == 2 && !containsAll(cs[1], bold) {
			t.Logf("comment: %s", cs[1])
		}
		// Wiki markup escapes the brackets, which would make a link.
		return len(cs) == 2 && containsAll(cs[1], "ann", "] commented on alertbridge:", bold, "host-1")
	})

	email := ann.Email
	if _, err := h.svc.Update(ctx, h.alert, lifecycle.Patch{Assignee: &email, Actor: "ann"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the assignee", func() bool { is := h.issue(t); return is.Assignee != nil && is.Assignee.Email == ann.Email })
	waitFor(t, "three sync results on the timeline", func() bool { return len(h.events(t, jirasync.ActionSynced)) == 3 })
	if f := h.events(t, jirasync.ActionSyncFailed); len(f) != 0 {
		t.Errorf("failures on the timeline: %v", f)
	}

	// A change that came from this destination is not sent back.
	before := len(h.sb.Requests())
	resolved := alert.StatusResolved
	if _, err := h.svc.Update(ctx, h.alert, lifecycle.Patch{Status: &resolved, Actor: "jira:Ann", Origin: dest}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.CommentFrom(ctx, h.alert, "[Ann] commented on Jira:", "from Jira", dest, "99999"); err != nil {
		t.Fatal(err)
	}
	// Settled: whatever those changes queued has run.
	testdb.Settle(t, h.st, 10*time.Second, nil)
	if n := len(h.sb.Requests()); n != before {
		t.Errorf("%d requests for changes that came from Jira, want none", n-before)
	}

	// Our comments are linked, so the inbound side knows them.
	for _, c := range h.issue(t).Comments {
		err := h.st.View(ctx, func(tx store.Tx) error {
			_, _, origin, err := tx.CommentLink(ctx, dest, c.ID)
			if err != nil || origin != store.LinkOriginAlertbridge {
				t.Errorf("Jira comment %s: link origin %q, %v", c.ID, origin, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSettledStatusMakesNoTransition: an issue already in the mapped status
// is not transitioned (only the note is posted).
func TestSettledStatusMakesNoTransition(t *testing.T) { testdb.Each(t, settledStatusMakesNoTransition) }

func settledStatusMakesNoTransition(t *testing.T, driver string) {
	ctx := context.Background()
	h := newHarness(t, driver, jira.DeploymentCloud, sandbox.Options{}, defaultSync())
	ts, err := h.client.Transitions(ctx, h.key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		if tr.To.Name == "In Progress" {
			if err := h.client.DoTransition(ctx, h.key, tr.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := len(h.sb.Requests())
	triaged := alert.StatusTriaged
	if _, err := h.svc.Update(ctx, h.alert, lifecycle.Patch{Status: &triaged, Actor: "ann"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sync result", func() bool { return len(h.events(t, jirasync.ActionSynced)) == 1 })
	for _, r := range h.sb.Requests()[before:] {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/transitions") {
			t.Errorf("transition requested for an issue already in the status: %s %s", r.Method, r.Path)
		}
	}
	if ev := h.events(t, jirasync.ActionSynced); !strings.Contains(ev[0], "already In Progress") {
		t.Errorf("timeline: %v", ev)
	}
}

// chainWorkflow only moves one step at a time: To Do → In Progress →
// Review → Done, and back from Done to To Do; Archived is reachable from
// nowhere.
func chainWorkflow() *sandbox.Workflow {
	return &sandbox.Workflow{
		Initial: "To Do",
		Statuses: []jira.Status{
			{ID: "1", Name: "To Do", Category: "new"},
			{ID: "2", Name: "In Progress", Category: "indeterminate"},
			{ID: "3", Name: "Review", Category: "indeterminate"},
			{ID: "4", Name: "Done", Category: "done"},
			{ID: "5", Name: "Archived", Category: "done"},
		},
		Transitions: []sandbox.WorkflowTransition{
			{ID: "11", Name: "Start", From: []string{"To Do"}, To: "In Progress"},
			{ID: "21", Name: "Submit", From: []string{"In Progress"}, To: "Review"},
			{ID: "31", Name: "Approve", From: []string{"Review"}, To: "Done"},
			{ID: "41", Name: "Reopen", From: []string{"Done"}, To: "To Do"},
		},
	}
}

func TestStatusPathThroughWorkflow(t *testing.T) { testdb.Each(t, statusPathThroughWorkflow) }

func statusPathThroughWorkflow(t *testing.T, driver string) {
	ctx := context.Background()
	h := newHarness(t, driver, jira.DeploymentCloud, sandbox.Options{Workflow: chainWorkflow()}, defaultSync())
	resolved := alert.StatusResolved
	if _, err := h.svc.Update(ctx, h.alert, lifecycle.Patch{Status: &resolved, Actor: "ann"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Done through the workflow", func() bool { return len(h.events(t, jirasync.ActionSynced)) == 1 })
	if got := h.issue(t).Status.Name; got != "Done" {
		t.Errorf("status = %s, want Done", got)
	}
	if ev := h.events(t, jirasync.ActionSynced)[0]; !containsAll(ev, "To Do → In Progress", "Review", "Done") {
		t.Errorf("timeline: %s", ev)
	}
}

func TestNoStatusPathIsAnError(t *testing.T) { testdb.Each(t, noStatusPathIsAnError) }

func noStatusPathIsAnError(t *testing.T, driver string) {
	ctx := context.Background()
	sync := defaultSync()
	sync.StatusMap[alert.StatusClosed] = "Archived"
	h := newHarness(t, driver, jira.DeploymentCloud, sandbox.Options{Workflow: chainWorkflow()}, sync)
	closed := alert.StatusClosed
	if _, err := h.svc.Update(ctx, h.alert, lifecycle.Patch{Status: &closed, Actor: "ann"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure on the timeline", func() bool { return len(h.events(t, jirasync.ActionSyncFailed)) == 1 })
	if ev := h.events(t, jirasync.ActionSyncFailed)[0]; !containsAll(ev, "no workflow path", `"Archived"`) {
		t.Errorf("timeline: %s", ev)
	}
	var health map[string]store.Health
	err := h.st.View(ctx, func(tx store.Tx) (err error) { health, err = tx.DestinationHealth(ctx); return err })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(health[dest].LastError, "no workflow path") {
		t.Errorf("health = %+v", health[dest])
	}
}

func TestUnknownAssigneeLeavesIssueAlone(t *testing.T) {
	testdb.Each(t, unknownAssigneeLeavesIssueAlone)
}

func unknownAssigneeLeavesIssueAlone(t *testing.T, driver string) {
	ctx := context.Background()
	h := newHarness(t, driver, jira.DeploymentCloud, sandbox.Options{}, defaultSync())
	nobody, empty := "nobody@example.com", ""
	// One change at a time: a job syncs the alert as it is when it runs.
	for i, who := range []*string{&nobody, &empty, &nobody} {
		if _, err := h.svc.Update(ctx, h.alert, lifecycle.Patch{Assignee: who, Actor: "ann"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the result", func() bool { return len(h.events(t, jirasync.ActionSynced)) == i+1 })
	}
	searches := 0
	for _, r := range h.sb.Requests() {
		if r.Method == "PUT" && strings.HasSuffix(r.Path, "/assignee") {
			t.Errorf("assignee set: %s", r.Path)
		}
		if strings.HasSuffix(r.Path, "/user/search") {
			searches++
		}
	}
	if searches != 1 {
		t.Errorf("%d user searches, want 1 (the miss is cached)", searches)
	}
	if got := fmt.Sprint(h.events(t, jirasync.ActionSynced)); !strings.Contains(got, "no Jira user has the e-mail nobody@example.com") {
		t.Errorf("timeline: %s", got)
	}
}

func TestRateLimitedTransitionWaitsAndSucceeds(t *testing.T) {
	testdb.Each(t, rateLimitedTransitionWaitsAndSucceeds)
}

func rateLimitedTransitionWaitsAndSucceeds(t *testing.T, driver string) {
	ctx := context.Background()
	h := newHarness(t, driver, jira.DeploymentCloud, sandbox.Options{}, defaultSync())
	h.sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultRateLimit, Method: "POST", PathPrefix: "/rest/api/3/issue/" + h.key + "/transitions", Count: 1, RetryAfter: time.Second})
	triaged := alert.StatusTriaged
	if _, err := h.svc.Update(ctx, h.alert, lifecycle.Patch{Status: &triaged, Actor: "ann"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the transition after the 429", func() bool { return h.issue(t).Status.Name == "In Progress" })
	if v := h.sb.RetryAfterViolations(100 * time.Millisecond); len(v) != 0 {
		t.Errorf("requests inside the Retry-After window: %+v", v)
	}
}

package jirasync_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/destination/jiradest"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jira/sandbox/openapicheck"
	"github.com/alertbridge/alertbridge/jirasync"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/route"
	"github.com/alertbridge/alertbridge/store"
)

// pipeline is the whole path an alert takes to Jira and back into step:
// ingest, delivery (which creates the issue), the reconciler and a sandbox
// Jira checked against Atlassian's OpenAPI spec, on a real database.
type pipeline struct {
	st  store.Store
	svc *lifecycle.Service
	sb  *sandbox.Sandbox
	// person is a Jira user other than alertbridge's, for changes made by
	// hand in Jira.
	person *jira.Client
}

func newPipeline(t *testing.T, driver string, dep jira.Deployment, sync config.JiraSync, reopen string, opts sandbox.Options, reopenWindow ...time.Duration) *pipeline {
	t.Helper()
	ctx := context.Background()
	opts.Deployment = dep
	opts.Users = []sandbox.User{sandbox.DefaultUser, ann}
	opts.Validate = openapicheck.Validate(t, dep)
	sb, err := sandbox.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	bot, person := sandbox.DefaultUser.Email, ann.Email
	if dep == jira.DeploymentDataCenter {
		bot, person = sandbox.DefaultUser.Name, ann.Name
	}
	site := jira.NewSite(0, 0)
	client := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: dep, User: bot, Token: sandbox.DefaultUser.Token, Timeout: 2 * time.Second, Site: site})

	st := testdb.Open(t, driver)
	logger := slog.New(slog.DiscardHandler)
	jl, err := jobs.New(ctx, jobs.Config{DB: st.Handle(), Queues: map[string]int{jirasync.Queue: 10, delivery.Queue: 10},
		PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return 50 * time.Millisecond }, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	notifier, err := jiradest.New(jiradest.Config{Destination: dest, Client: client, Site: site, Project: "SEC", SearchLag: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := jirasync.Destination{Name: dest, Client: client, Sync: sync, Reopen: reopen}
	if len(reopenWindow) > 0 {
		d.ReopenWindow = reopenWindow[0]
	}
	syncer := jirasync.New(jl, st, []jirasync.Destination{d}, jirasync.Options{Logger: logger})
	q := delivery.New(jl, st, delivery.Config{Notifiers: map[string]destination.Notifier{dest: notifier}, OnLinked: syncer.OnLinked, Logger: logger})
	svc := lifecycle.New(st, q, []lifecycle.Destination{{Destination: route.Destination{Name: dest}, Type: "jira"}},
		lifecycle.Options{OnChange: syncer.OnChange})
	t.Cleanup(svc.Close)
	testdb.StartJobs(t, jl)
	return &pipeline{st: st, svc: svc, sb: sb,
		person: jira.New(jira.Config{BaseURL: sb.URL(), Deployment: dep, User: person, Token: ann.Token, Timeout: 2 * time.Second})}
}

func (p *pipeline) fire(t *testing.T, id string, resolved bool) {
	t.Helper()
	now := time.Now().UTC()
	a := &alert.Alert{ID: "Rule.One", AlertID: id, Title: "alert " + id, Severity: alert.SeverityHigh, Type: alert.TypeRule,
		Tags: []string{}, Source: alert.SourceAlertmanager, Status: alert.StatusOpen, CreatedAt: now, UpdatedAt: now}
	if _, err := p.svc.Ingest(context.Background(), []lifecycle.Item{{Alert: a, Resolved: resolved, Actor: "alertmanager"}}); err != nil {
		t.Fatal(err)
	}
}

func (p *pipeline) record(t *testing.T, id string) *lifecycle.Record {
	t.Helper()
	r, err := p.svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// issue is the one issue of alert id: it fails the test when there is
// none, or more.
func (p *pipeline) issue(t *testing.T, id string) sandbox.StoredIssue {
	t.Helper()
	var found []sandbox.StoredIssue
	marker := jiradest.Marker(dest, id)
	for _, is := range p.sb.Issues() {
		for _, l := range is.Labels {
			if l == marker {
				found = append(found, is)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("alert %s has %d issues in Jira, want 1", id, len(found))
	}
	return found[0]
}

// settle waits until no job may run any more.
func (p *pipeline) settle(t *testing.T) { testdb.Settle(t, p.st, 30*time.Second, nil) }

func statusSync(mode config.SyncMode) config.JiraSync {
	s := defaultSync()
	s.Status, s.Assignee, s.Comments = mode, mode, mode
	s.StatusMap[alert.StatusTriaged] = "In Progress"
	return s
}

func status(st alert.Status) *alert.Status { return &st }

// The issue follows the alert however the change and the link race: a
// status changed before the issue exists, an alert resolved before its
// issue is created, and the alert's view of the issue's status.
func TestChangesBeforeTheLinkAreApplied(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		// Creates take 300ms, so every change below lands before its link.
		p := newPipeline(t, driver, jira.DeploymentCloud, statusSync(config.SyncOneWay), config.ReopenTransition, sandbox.Options{})
		p.sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultSlow, Method: http.MethodPost, PathPrefix: "/rest/api/3/issue", Delay: 300 * time.Millisecond})
		ctx := context.Background()

		p.fire(t, "triaged-early", false)
		if _, err := p.svc.Update(ctx, "triaged-early", lifecycle.Patch{Status: status(alert.StatusTriaged), Actor: "ann@example.com"}); err != nil {
			t.Fatal(err)
		}
		p.fire(t, "resolved-early", false)
		p.fire(t, "resolved-early", true)
		p.fire(t, "untouched", false)
		p.settle(t)

		for id, want := range map[string]string{"triaged-early": "In Progress", "resolved-early": "Done", "untouched": "To Do"} {
			is := p.issue(t, id)
			if is.Status.Name != want {
				t.Errorf("alert %s: issue %s is %q, want %q", id, is.Key, is.Status.Name, want)
			}
			r := p.record(t, id)
			if len(r.Issues) != 1 || r.Issues[0].Status != want {
				t.Errorf("alert %s shows its issue as %+v, want status %q", id, r.Issues, want)
			}
		}
		// A new alert nobody touched costs its create and nothing more.
		is := p.issue(t, "untouched")
		if n := len(p.sb.StatusHistory(is.Key)) + len(p.sb.Comments(is.Key)); n != 0 {
			t.Errorf("the untouched alert's issue got %d transitions and comments", n)
		}
		// The status change is noted on the issue once.
		if cs := p.sb.Comments(p.issue(t, "triaged-early").Key); len(cs) != 1 || !strings.Contains(string(cs[0].Body), "TRIAGED") {
			t.Errorf("comments on the triaged issue: %d, want the one status note", len(cs))
		}
	})
}

// The written conflict rule: a person closes the issue in Jira while the
// alert still fires, and the alert follows (two-way); when the source
// fires the alert again, the issue is reopened by a transition, or with
// reopen: off left closed.
func TestFiringAgainAfterAPersonClosedTheIssue(t *testing.T) {
	for _, reopen := range []string{config.ReopenTransition, config.ReopenOff} {
		t.Run(reopen, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, driver string) {
				p := newPipeline(t, driver, jira.DeploymentCloud, statusSync(config.SyncTwoWay), reopen, sandbox.Options{})
				ctx := context.Background()
				p.fire(t, "flapping", false)
				p.settle(t)
				key := p.issue(t, "flapping").Key
				// Ann closes it in Jira; the webhook Jira sends moves the
				// alert as jirasync/inbound does.
				if err := p.person.DoTransition(ctx, key, "31"); err != nil {
					t.Fatal(err)
				}
				if _, err := p.svc.Update(ctx, "flapping", lifecycle.Patch{Status: status(alert.StatusResolved), Actor: "jira:Ann",
					Origin: dest, IssueStatus: "Done"}); err != nil {
					t.Fatal(err)
				}
				p.settle(t)
				if got := p.record(t, "flapping").Issues[0].Status; got != "Done" {
					t.Fatalf("after Ann closed it the alert shows its issue as %q", got)
				}
				transitions := len(p.sb.StatusHistory(key))
				// Alertmanager's next notification: still firing.
				p.fire(t, "flapping", false)
				p.settle(t)
				is := p.issue(t, "flapping")
				r := p.record(t, "flapping")
				if r.Alert.Status != alert.StatusOpen {
					t.Fatalf("alert is %s after firing again, want OPEN", r.Alert.Status)
				}
				want := "To Do"
				if reopen == config.ReopenOff {
					want = "Done"
				}
				if is.Status.Name != want || r.Issues[0].Status != want {
					t.Errorf("issue is %q, the alert shows %q; want %q", is.Status.Name, r.Issues[0].Status, want)
				}
				if reopen == config.ReopenOff && len(p.sb.StatusHistory(key)) != transitions {
					t.Errorf("reopen off sent a transition: %+v", p.sb.StatusHistory(key))
				}
				// The repeat of a firing alert changes nothing and sends nothing.
				before := len(p.sb.Requests())
				p.fire(t, "flapping", false)
				p.settle(t)
				if after := len(p.sb.Requests()); after != before {
					t.Errorf("a repeated notification sent %d Jira requests", after-before)
				}
			})
		})
	}
}

// For every request kind alertbridge sends Jira — create, comment,
// transition, assign, comment edit — Jira stores the effect and then the
// answer is a 502 or never comes, on 5% and on 30% of requests: each
// effect exists exactly once.
func TestEffectsExactlyOnceWhenAnswersAreLost(t *testing.T) {
	for _, kind := range []sandbox.FaultKind{sandbox.FaultStoredServerError, sandbox.FaultLostAnswer} {
		for _, prob := range []float64{0.05, 0.3} {
			t.Run(fmt.Sprintf("%s/%g", kind, prob), func(t *testing.T) {
				testdb.Each(t, func(t *testing.T, driver string) { effectsExactlyOnce(t, driver, kind, prob) })
			})
		}
	}
}

func effectsExactlyOnce(t *testing.T, driver string, kind sandbox.FaultKind, prob float64) {
	const alertsN = 12
	p := newPipeline(t, driver, jira.DeploymentCloud, statusSync(config.SyncOneWay), config.ReopenTransition,
		sandbox.Options{Seed: 3, IndexLag: 100 * time.Millisecond})
	ctx := context.Background()
	// Every write alertbridge sends: creates, and everything under an issue.
	for _, m := range []string{http.MethodPost, http.MethodPut} {
		p.sb.Fail(sandbox.FaultSpec{Kind: kind, Method: m, PathPrefix: "/rest/api/3/issue", Probability: prob, Delay: 50 * time.Millisecond})
	}
	for i := range alertsN {
		p.fire(t, fmt.Sprintf("f-%02d", i), false)
	}
	for i := range alertsN {
		id := fmt.Sprintf("f-%02d", i)
		if _, err := p.svc.Update(ctx, id, lifecycle.Patch{Status: status(alert.StatusTriaged), Assignee: ptr(ann.Email), Actor: "bob@example.com"}); err != nil {
			t.Fatal(err)
		}
		for c := range 2 {
			if _, err := p.svc.Comment(ctx, id, "bob@example.com", fmt.Sprintf("note %d on %s", c, id)); err != nil {
				t.Fatal(err)
			}
		}
		// A comment from another destination's Jira, then edited there:
		// posted here, then edited here.
		if _, err := p.svc.CommentFrom(ctx, id, "jira:Ann", "first words on "+id, "elsewhere", "c-"+id); err != nil {
			t.Fatal(err)
		}
		p.settle(t)
		if _, err := p.svc.CommentFrom(ctx, id, "jira:Ann", "second thoughts on "+id, "elsewhere", "c-"+id); err != nil {
			t.Fatal(err)
		}
		p.fire(t, id, true)
	}
	p.settle(t)
	faults := map[string]int{}
	for _, r := range p.sb.Requests() {
		if r.Fault != "" {
			faults[r.Method+" "+strings.TrimPrefix(r.Path, "/rest/api/3/issue")]++
		}
	}
	if len(faults) == 0 {
		t.Fatal("no fault fired")
	}
	for i := range alertsN {
		id := fmt.Sprintf("f-%02d", i)
		is := p.issue(t, id) // exactly one issue, or it fails
		if is.Status.Name != "Done" {
			t.Errorf("%s: issue %s is %q, want Done", id, is.Key, is.Status.Name)
		}
		// Level-triggered: the issue goes where the alert is now, through
		// In Progress when the reconcile saw TRIAGED first, or straight to
		// Done; never the same move twice.
		h := p.sb.StatusHistory(is.Key)
		moves := map[string]bool{}
		for _, c := range h {
			if moves[c.From+">"+c.To] {
				t.Errorf("%s: the move %s → %s was made twice: %+v", id, c.From, c.To, h)
			}
			moves[c.From+">"+c.To] = true
		}
		if len(h) == 0 || len(h) > 2 {
			t.Errorf("%s: %d transitions, want 1 or 2: %+v", id, len(h), h)
		}
		if h := p.sb.AssigneeHistory(is.Key); len(h) != 1 {
			t.Errorf("%s: %d assignments, want 1", id, len(h))
		}
		seen := map[string]int{}
		edited := 0
		for _, c := range p.sb.Comments(is.Key) {
			body := string(c.Body)
			seen[body]++
			if strings.Contains(body, "second thoughts") {
				edited++
			}
		}
		// Two comments, the one from elsewhere (edited), two status notes.
		if len(seen) != 5 || edited != 1 {
			t.Errorf("%s: %d distinct comments (want 5), %d carrying the edit (want 1)", id, len(seen), edited)
		}
		for body, n := range seen {
			if n != 1 {
				t.Errorf("%s: a comment appears %d times: %.80s", id, n, body)
			}
		}
	}
	t.Logf("%d requests; faults by request: %v", len(p.sb.Requests()), faults)
	if errs := p.sb.ValidationErrors(); len(errs) > 0 {
		t.Errorf("requests break the OpenAPI spec: %v", errs[:min(3, len(errs))])
	}
}

func ptr[T any](v T) *T { return &v }

// A post claimed by a run that may still be sending it (a replica taken for
// dead while its request was on the wire) is not repeated while it can be
// in flight; once it cannot, the comment it left is found by its property.
func TestCommentInFlightIsNotRepeated(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		p := newPipeline(t, driver, jira.DeploymentCloud, statusSync(config.SyncOneWay), config.ReopenTransition, sandbox.Options{})
		ctx := context.Background()
		p.fire(t, "inflight", false)
		p.settle(t)
		key := p.issue(t, "inflight").Key
		// The other run: its row claims the post, and its request lands
		// in Jira; it has not returned.
		if _, err := p.svc.Comment(ctx, "inflight", "bob@example.com", "on the wire"); err != nil {
			t.Fatal(err)
		}
		var row store.OutboundComment
		testdb.Settle(t, p.st, 30*time.Second, func() bool {
			var outs []store.OutboundComment
			_ = p.st.View(ctx, func(tx store.Tx) (err error) {
				outs, err = tx.ListOutboundComments(ctx, "inflight", dest)
				return err
			})
			if len(outs) == 1 {
				row = outs[0]
			}
			return len(outs) == 1
		})
		// Undo what the reconcile did, as if its post had not returned, and
		// make its comment the other run's.
		row.JiraCommentID, row.EndedAt, row.SentAt = "", time.Time{}, time.Now().UTC()
		if err := p.st.InTx(ctx, func(tx store.Tx) error { return tx.UpdateOutboundComment(ctx, &row) }); err != nil {
			t.Fatal(err)
		}
		claimed := row.SentAt
		// A change makes the pair reconcile again.
		if _, err := p.svc.Update(ctx, "inflight", lifecycle.Patch{Assignee: ptr(ann.Email), Actor: "bob@example.com"}); err != nil {
			t.Fatal(err)
		}
		p.settle(t)
		if n := len(p.sb.Comments(key)); n != 1 {
			t.Fatalf("%d comments on %s, want the one the other run posted", n, key)
		}
		var outs []store.OutboundComment
		_ = p.st.View(ctx, func(tx store.Tx) (err error) {
			outs, err = tx.ListOutboundComments(ctx, "inflight", dest)
			return err
		})
		if len(outs) != 1 || outs[0].JiraCommentID == "" {
			t.Fatalf("outbound rows %+v, want the comment linked", outs)
		}
		// The lookup waited out the client's timeout (2s) from the claim.
		for _, r := range p.sb.Requests() {
			if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/comment") && r.Time.Before(claimed.Add(2*time.Second)) {
				t.Errorf("looked for the comment at %s, while the other run's post could still be in flight", r.Time.Sub(claimed))
			}
		}
	})
}

// An alert firing again after its issue closed gets a new issue with
// reopen: new_issue, and with reopen: transition once the issue has been
// closed longer than reopen_window; the closed issue is left as it is,
// and the alert follows the new one.
func TestReopenOpensANewIssue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reopen string
		window time.Duration
	}{
		{"new_issue", config.ReopenNewIssue, 0},
		{"transition past its window", config.ReopenTransition, time.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, driver string) {
				p := newPipeline(t, driver, jira.DeploymentCloud, statusSync(config.SyncOneWay), tc.reopen, sandbox.Options{}, tc.window)
				p.fire(t, "again", false)
				p.fire(t, "again", true)
				p.settle(t)
				first := p.issue(t, "again")
				if first.Status.Name != "Done" {
					t.Fatalf("the first issue is %q after the resolve, want Done", first.Status.Name)
				}
				closedMoves := len(p.sb.StatusHistory(first.Key))
				p.fire(t, "again", false) // Alertmanager: firing again
				p.settle(t)
				var second []sandbox.StoredIssue
				for _, is := range p.sb.Issues() {
					if is.Key != first.Key {
						second = append(second, is)
					}
				}
				if len(second) != 1 {
					t.Fatalf("%d new issues after the alert fired again, want 1", len(second))
				}
				if is, _ := p.sb.Issue(first.Key); is.Status.Name != "Done" || len(p.sb.StatusHistory(first.Key)) != closedMoves {
					t.Errorf("the closed issue moved: %q, history %+v", is.Status.Name, p.sb.StatusHistory(first.Key))
				}
				r := p.record(t, "again")
				if len(r.Issues) != 1 || r.Issues[0].Key != second[0].Key || second[0].Status.Name != "To Do" {
					t.Errorf("the alert links %+v; the new issue %s is %q; want it linked and To Do", r.Issues, second[0].Key, second[0].Status.Name)
				}
				// Resolved again: the new issue follows.
				p.fire(t, "again", true)
				p.settle(t)
				if is, _ := p.sb.Issue(second[0].Key); is.Status.Name != "Done" {
					t.Errorf("the new issue is %q after the second resolve, want Done", is.Status.Name)
				}
				if n := len(p.sb.Issues()); n != 2 {
					t.Errorf("%d issues in all, want 2", n)
				}
			})
		})
	}
}

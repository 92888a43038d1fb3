package jirasync_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jirasync"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

// Reconciles are counted by outcome and the changes they made in Jira by
// field, through a run of real reconciles: a status change with its note
// and an assignee, a comment and its edit, a retried transition, one Jira
// refuses, and a change that lands while a reconcile runs.
func TestSyncMetrics(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		sb, err := sandbox.Start(sandbox.Options{Deployment: jira.DeploymentCloud, Users: []sandbox.User{sandbox.DefaultUser, ann}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sb.Close() })
		client := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud, User: sandbox.DefaultUser.Email,
			Token: sandbox.DefaultUser.Token, Timeout: 5 * time.Second})
		st := testdb.Open(t, driver)
		jl, err := jobs.New(ctx, jobs.Config{DB: st.Handle(), Queues: map[string]int{jirasync.Queue: 5, delivery.Queue: 1},
			PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return 20 * time.Millisecond }})
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		// quiet-jira syncs but is sent nothing: its counters are at zero.
		syncer := jirasync.New(jl, st, []jirasync.Destination{{Name: dest, Client: client, Sync: defaultSync()},
			{Name: "quiet-jira", Client: client, Sync: defaultSync()}},
			jirasync.Options{Logger: slog.New(slog.DiscardHandler), Metrics: jirasync.NewMetrics(reg)})
		q := delivery.New(jl, st, delivery.Config{OnLinked: syncer.OnLinked})
		if err := jl.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = jl.Stop(sctx)
		})
		svc := lifecycle.New(st, q, nil, lifecycle.Options{OnChange: syncer.OnChange})
		t.Cleanup(svc.Close)
		ref, err := client.CreateIssue(ctx, map[string]any{
			"project": map[string]string{"key": "SEC"}, "summary": "alert", "issuetype": map[string]string{"name": "Task"},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		a := lifecycle.TestAlert(time.Now())
		if err := st.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertAlert(ctx, a); err != nil {
				return err
			}
			return tx.UpsertIssue(ctx, a.AlertID, alert.Issue{Destination: dest, Key: ref.Key, ID: ref.ID, URL: client.BrowseURL(ref.Key)})
		}); err != nil {
			t.Fatal(err)
		}
		settle := func() { t.Helper(); testdb.Settle(t, st, 20*time.Second, nil) }
		setStatus := func(s alert.Status) {
			t.Helper()
			if _, err := svc.Update(ctx, a.AlertID, lifecycle.Patch{Status: &s, Actor: "ann"}); err != nil {
				t.Fatal(err)
			}
		}
		transitions := "/rest/api/3/issue/" + ref.Key + "/transitions"

		// Status with its note, and the assignee: one reconcile.
		triaged, email := alert.StatusTriaged, ann.Email
		if _, err := svc.Update(ctx, a.AlertID, lifecycle.Patch{Status: &triaged, Assignee: &email, Actor: "ann"}); err != nil {
			t.Fatal(err)
		}
		settle()
		// A comment from elsewhere, then its edit.
		if _, err := svc.CommentFrom(ctx, a.AlertID, "bob", "first", "other-jira", "c-1"); err != nil {
			t.Fatal(err)
		}
		settle()
		if _, err := svc.CommentFrom(ctx, a.AlertID, "bob", "first, edited", "other-jira", "c-1"); err != nil {
			t.Fatal(err)
		}
		settle()
		// A 503 to the transition: retried, then done.
		sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServerError, Method: http.MethodPost, PathPrefix: transitions, Count: 1})
		setStatus(alert.StatusResolved)
		settle()
		// A 400 to the transition: failed, never run again.
		sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServerError, Status: http.StatusBadRequest, Method: http.MethodPost, PathPrefix: transitions, Count: 1})
		setStatus(alert.StatusOpen)
		settle()
		// A comment added while a reconcile waits on a slow transition: the
		// run finishes, sees the change and runs again. It posts the note
		// the failed run left and its own; the run after it, the comment.
		sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultSlow, Delay: 500 * time.Millisecond, Method: http.MethodPost, PathPrefix: transitions, Count: 1})
		before := len(sb.Requests())
		setStatus(alert.StatusTriaged)
		waitFor(t, "the reconcile to read the transitions", func() bool {
			for _, r := range sb.Requests()[before:] {
				if r.Method == http.MethodGet && r.Path == transitions {
					return true
				}
			}
			return false
		})
		if _, err := svc.Comment(ctx, a.AlertID, "ann", "while it ran"); err != nil {
			t.Fatal(err)
		}
		settle()

		want := fmt.Sprintf(`
# HELP alertbridge_jira_reconciles_total Runs of Jira reconciles by destination and outcome (done, again, retry, failed).
# TYPE alertbridge_jira_reconciles_total counter
alertbridge_jira_reconciles_total{destination="quiet-jira",outcome="again"} 0
alertbridge_jira_reconciles_total{destination="quiet-jira",outcome="done"} 0
alertbridge_jira_reconciles_total{destination="quiet-jira",outcome="failed"} 0
alertbridge_jira_reconciles_total{destination="quiet-jira",outcome="retry"} 0
alertbridge_jira_reconciles_total{destination="%[1]s",outcome="again"} 1
alertbridge_jira_reconciles_total{destination="%[1]s",outcome="done"} 5
alertbridge_jira_reconciles_total{destination="%[1]s",outcome="failed"} 1
alertbridge_jira_reconciles_total{destination="%[1]s",outcome="retry"} 1
# HELP alertbridge_jira_sync_effects_total Changes reconciles made in Jira, by destination and field (status, assignee, comment, comment_edit, note).
# TYPE alertbridge_jira_sync_effects_total counter
alertbridge_jira_sync_effects_total{destination="quiet-jira",field="assignee"} 0
alertbridge_jira_sync_effects_total{destination="quiet-jira",field="comment"} 0
alertbridge_jira_sync_effects_total{destination="quiet-jira",field="comment_edit"} 0
alertbridge_jira_sync_effects_total{destination="quiet-jira",field="note"} 0
alertbridge_jira_sync_effects_total{destination="quiet-jira",field="status"} 0
alertbridge_jira_sync_effects_total{destination="%[1]s",field="assignee"} 1
alertbridge_jira_sync_effects_total{destination="%[1]s",field="comment"} 2
alertbridge_jira_sync_effects_total{destination="%[1]s",field="comment_edit"} 1
alertbridge_jira_sync_effects_total{destination="%[1]s",field="note"} 4
alertbridge_jira_sync_effects_total{destination="%[1]s",field="status"} 3
`, dest)
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
			t.Error(err)
		}
		// What was counted is what Jira holds: two comments and four notes.
		if is, _ := sb.Issue(ref.Key); len(is.Comments) != 6 || is.Status.Name != "In Progress" {
			t.Errorf("the issue has %d comments and status %s, want 6 and In Progress", len(is.Comments), is.Status.Name)
		}
	})
}

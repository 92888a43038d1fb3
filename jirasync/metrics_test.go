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
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jirasync"
	"github.com/alertbridge/alertbridge/lifecycle"
)

// Reconciles are counted by outcome and the changes they made in Jira by
// field, through a run of real reconciles: a status change with its note
// and an assignee, a comment and its edit, a retried transition, one Jira
// refuses, and a change that lands while a reconcile runs.
func TestSyncMetrics(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		// quiet-jira syncs but is sent nothing: its counters are at zero.
		h := newHarnessWith(t, driver, jira.DeploymentCloud, sandbox.Options{}, func(c *jira.Client) []jirasync.Destination {
			return []jirasync.Destination{{Name: dest, Client: c, Sync: defaultSync()}, {Name: "quiet-jira", Client: c, Sync: defaultSync()}}
		}, jirasync.Options{Logger: slog.New(slog.DiscardHandler), Metrics: jirasync.NewMetrics(reg)})
		st, svc, sb := h.st, h.svc, h.sb
		settle := func() { t.Helper(); testdb.Settle(t, st, 20*time.Second, nil) }
		setStatus := func(s alert.Status) {
			t.Helper()
			if _, err := svc.Update(ctx, h.alert, lifecycle.Patch{Status: &s, Actor: "ann"}); err != nil {
				t.Fatal(err)
			}
		}
		transitions := "/rest/api/3/issue/" + h.key + "/transitions"

		// Status with its note, and the assignee: one reconcile.
		triaged, email := alert.StatusTriaged, ann.Email
		if _, err := svc.Update(ctx, h.alert, lifecycle.Patch{Status: &triaged, Assignee: &email, Actor: "ann"}); err != nil {
			t.Fatal(err)
		}
		settle()
		// A comment from elsewhere, then its edit.
		if _, err := svc.CommentFrom(ctx, h.alert, "bob", "first", "other-jira", "c-1"); err != nil {
			t.Fatal(err)
		}
		settle()
		if _, err := svc.CommentFrom(ctx, h.alert, "bob", "first, edited", "other-jira", "c-1"); err != nil {
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
		if _, err := svc.Comment(ctx, h.alert, "ann", "while it ran"); err != nil {
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
		if is, _ := sb.Issue(h.key); len(is.Comments) != 6 || is.Status.Name != "In Progress" {
			t.Errorf("the issue has %d comments and status %s, want 6 and In Progress", len(is.Comments), is.Status.Name)
		}
	})
}

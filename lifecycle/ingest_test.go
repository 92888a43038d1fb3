package lifecycle_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/route"
	"github.com/alertbridge/alertbridge/store"
)

// acceptWorld is a store with a service on it whose OnChange notes what
// it saw of the database: the deliveries of the changed alert.
type acceptWorld struct {
	st      store.Store
	svc     *lifecycle.Service
	changes []string
}

var mergeNow = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

func newAcceptWorld(t *testing.T, driver string) *acceptWorld {
	t.Helper()
	ctx := context.Background()
	w := &acceptWorld{st: testdb.Open(t, driver)}
	jl, err := jobs.New(ctx, jobs.Config{DB: w.st.Handle(), Queues: map[string]int{delivery.Queue: 1}})
	if err != nil {
		t.Fatal(err)
	}
	dests := []lifecycle.Destination{
		{Destination: route.Destination{Name: "grouped", Severities: []alert.Severity{alert.SeverityCritical}}, Type: "jira", IssuePerGroup: true},
		{Destination: route.Destination{Name: "own", Severities: alert.Severities}, Type: "jira"},
	}
	w.svc = lifecycle.New(w.st, delivery.New(jl, w.st, delivery.Config{}), dests, lifecycle.Options{
		Now: func() time.Time { return mergeNow },
		OnChange: func(ctx context.Context, tx store.Tx, c lifecycle.Change) error {
			ds, err := tx.ListDeliveries(ctx, c.AlertID)
			if err != nil {
				return err
			}
			w.changes = append(w.changes, fmt.Sprintf("%s %s→%s reopened=%v group=%v sees %d deliveries",
				c.AlertID, c.OldStatus, c.NewStatus, c.Reopened, c.Group != nil, len(ds)))
			return nil
		}})
	t.Cleanup(w.svc.Close)
	// Stored before: one open alert, one resolved.
	err = w.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.InsertAlert(ctx, firingAlert("old-open", alert.SeverityLow)); err != nil {
			return err
		}
		r := firingAlert("old-resolved", alert.SeverityLow)
		r.Status = alert.StatusResolved
		_, err := tx.InsertAlert(ctx, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func firingAlert(id string, sev alert.Severity) *alert.Alert {
	return &alert.Alert{ID: "HostDown", AlertID: id, CreatedAt: mergeNow, UpdatedAt: mergeNow, Severity: sev, Type: alert.TypeRule,
		Title: id + " is down", Tags: []string{}, Source: alert.SourceAlertmanager, Status: alert.StatusOpen}
}

// state is what the world holds of the alerts named: status, timeline,
// deliveries, the River jobs waiting, and what OnChange saw.
func (w *acceptWorld) state(t *testing.T, ids []string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	err := w.st.View(ctx, func(tx store.Tx) error {
		for _, id := range ids {
			a, err := tx.GetAlert(ctx, id)
			if err != nil {
				fmt.Fprintf(&b, "%s: %v\n", id, err)
				continue
			}
			fmt.Fprintf(&b, "%s: %s\n", id, a.Status)
			es, err := tx.ListEvents(ctx, id)
			if err != nil {
				return err
			}
			for _, e := range es {
				fmt.Fprintf(&b, "  event %s %s %q\n", e.Actor, e.Action, e.Detail)
			}
			ds, err := tx.ListDeliveries(ctx, id)
			if err != nil {
				return err
			}
			for _, d := range ds {
				fmt.Fprintf(&b, "  delivery %s %s %s\n", d.Destination, d.Reason, d.State)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "jobs: %d\n", testdb.UnfinishedJobs(t, w.st))
	for _, c := range w.changes {
		fmt.Fprintf(&b, "change %s\n", c)
	}
	return b.String()
}

// The calls of a group commit accepted together (one insert up front of
// the alerts it can take) end exactly as the same calls accepted one
// after another: results, statuses, timelines, deliveries, jobs and what
// OnChange saw. The calls mix everything whose order matters: the same
// alert firing, resolving and firing again in three calls; two copies in
// one call; an HA pair's copies in two; an alert first seen resolved and
// then firing; repeats of stored alerts; a group created by one call and
// changed by the next; an alert named as the group's alert; an HA
// pair's late copy.
func TestMergedCallsEndAsInOrder(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		g := &lifecycle.Group{Key: `{}:{alertname="HostDown"}`, Sender: "Alertmanager", Source: alert.SourceAlertmanager,
			Labels: map[string]string{"alertname": "HostDown"}}
		gid := lifecycle.GroupAlertID(g.Sender, g.Key)
		firing := func(id string) lifecycle.Item {
			return lifecycle.Item{Alert: firingAlert(id, alert.SeverityHigh), Actor: "am"}
		}
		resolved := func(id string) lifecycle.Item {
			return lifecycle.Item{Alert: firingAlert(id, alert.SeverityHigh), Actor: "am", Resolved: true}
		}
		grouped := func(it lifecycle.Item) lifecycle.Item {
			it.Alert.Severity, it.Group = alert.SeverityCritical, g
			return it
		}
		since := func(it lifecycle.Item, minutes int) lifecycle.Item {
			it.Alert.StateSince = mergeNow.Add(time.Duration(minutes) * time.Minute)
			return it
		}
		calls := func() [][]lifecycle.Item {
			truncated := firing("t1")
			truncated.Truncated = "3 alerts left out"
			return [][]lifecycle.Item{
				{firing("x")}, {resolved("x")}, {firing("x")},
				{firing("y"), firing("y")},
				{firing("ha")}, {firing("ha")},
				{resolved("w")}, {firing("w")},
				{firing("old-open"), firing("old-resolved")},
				{firing("v"), resolved("v")},
				{resolved("u"), firing("n1"), firing("n2")},
				{truncated},
				{grouped(firing("g1")), grouped(firing("g2"))},
				{grouped(resolved("g1"))},
				{grouped(firing("g3"))},
				// An alert under the group's own ID: the group's, once made.
				{firing(gid)},
				// An HA pair's late copies: the firing since t0 resolved
				// at t1, then a copy of the firing since t0 arrives.
				{since(firing("late"), 0)}, {since(resolved("late"), 1)}, {since(firing("late"), 0)},
			}
		}
		ids := []string{"x", "y", "ha", "w", "old-open", "old-resolved", "v", "u", "n1", "n2", "t1", "g1", "g2", "g3", gid, "late"}
		ctx := context.Background()

		inOrder := newAcceptWorld(t, driver)
		var want [][]lifecycle.Result
		for _, items := range calls() {
			var rs []lifecycle.Result
			err := inOrder.st.InTx(ctx, func(tx store.Tx) (err error) {
				rs, err = inOrder.svc.AcceptTx(ctx, tx, items)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, rs)
		}
		merged := newAcceptWorld(t, driver)
		var got [][]lifecycle.Result
		if err := merged.st.InTx(ctx, func(tx store.Tx) (err error) {
			got, err = merged.svc.AcceptCalls(ctx, tx, calls())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("call %d: merged %+v, in order %+v", i, got[i], want[i])
			}
		}
		if w, m := inOrder.state(t, ids), merged.state(t, ids); w != m {
			t.Errorf("merged state differs from in order:\n--- in order\n%s--- merged\n%s", w, m)
		}
		// The scenario must exercise what it claims to.
		if !strings.Contains(inOrder.state(t, ids), "change x OPEN→RESOLVED reopened=false group=false sees 1 deliveries") {
			t.Errorf("in order, the resolve of x did not see its delivery:\n%s", inOrder.state(t, ids))
		}
	})
}

// Concurrent Ingest calls, merged in group commits, each learn their own
// outcome: of an HA pair's two copies exactly one is new, and every new
// alert has exactly one delivery and job.
func TestConcurrentIngestOwnOutcomes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		w := newAcceptWorld(t, driver)
		const n = 60
		results := make([][]lifecycle.Result, 2*n)
		errs := make([]error, 2*n)
		var wg sync.WaitGroup
		for i := range 2 * n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprint("c", i/2) // two copies of each
				results[i], errs[i] = w.svc.Ingest(ctx, []lifecycle.Item{
					{Alert: firingAlert(id, alert.SeverityLow), Actor: "am"},
					{Alert: firingAlert(fmt.Sprint("own", i), alert.SeverityLow), Actor: "am"},
				})
			}()
		}
		wg.Wait()
		for i := 0; i < 2*n; i += 2 {
			if errs[i] != nil || errs[i+1] != nil {
				t.Fatalf("calls %d, %d: %v, %v", i, i+1, errs[i], errs[i+1])
			}
			a, b := results[i], results[i+1]
			if len(a) != 2 || len(b) != 2 || a[0].AlertID != fmt.Sprint("c", i/2) || a[1].AlertID != fmt.Sprint("own", i) ||
				b[1].AlertID != fmt.Sprint("own", i+1) {
				t.Fatalf("calls %d, %d: results %+v, %+v", i, i+1, a, b)
			}
			if a[0].Duplicate == b[0].Duplicate || a[1].Duplicate || b[1].Duplicate {
				t.Errorf("calls %d, %d: duplicates %v/%v and %v/%v; want one copy new and own alerts new",
					i, i+1, a[0].Duplicate, b[0].Duplicate, a[1].Duplicate, b[1].Duplicate)
			}
		}
		err := w.st.View(ctx, func(tx store.Tx) error {
			for i := range n {
				for _, id := range []string{fmt.Sprint("c", i), fmt.Sprint("own", 2*i), fmt.Sprint("own", 2*i+1)} {
					ds, err := tx.ListDeliveries(ctx, id)
					if err != nil {
						return err
					}
					if len(ds) != 1 || ds[0].Destination != "own" {
						t.Errorf("alert %s: deliveries %+v, want one to own", id, ds)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if jobs := testdb.UnfinishedJobs(t, w.st); jobs != 3*n {
			t.Errorf("jobs = %d, want %d", jobs, 3*n)
		}
	})
}

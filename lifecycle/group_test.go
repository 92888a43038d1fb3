package lifecycle_test

import (
	"context"
	"encoding/json"
	"slices"
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

// groupService is the service with a destination that takes an issue
// per group (for CRITICAL alerts) and one that takes every alert, and
// changesOf counts the changes made to an alert and returns the last.
func groupService(t *testing.T, driver string) (svc *lifecycle.Service, changesOf func(id string) (int, lifecycle.Change)) {
	t.Helper()
	st := testdb.Open(t, driver)
	jl, err := jobs.New(context.Background(), jobs.Config{DB: st.Handle(), Queues: map[string]int{delivery.Queue: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var changes []lifecycle.Change
	dests := []lifecycle.Destination{
		{Destination: route.Destination{Name: "grouped", Severities: []alert.Severity{alert.SeverityCritical}}, Type: "jira", IssuePerGroup: true},
		{Destination: route.Destination{Name: "own", Severities: alert.Severities}, Type: "jira"},
	}
	svc = lifecycle.New(st, delivery.New(jl, st, delivery.Config{}), dests, lifecycle.Options{OnChange: func(_ context.Context, _ store.Tx, c lifecycle.Change) error {
		changes = append(changes, c)
		return nil
	}})
	t.Cleanup(svc.Close)
	return svc, func(id string) (n int, last lifecycle.Change) {
		for _, c := range changes {
			if c.AlertID == id {
				n, last = n+1, c
			}
		}
		return n, last
	}
}

// memberAlert is an Alertmanager alert of the group, as ingest makes it.
func memberAlert(id string, sev alert.Severity, instance string) *alert.Alert {
	ctx, _ := json.Marshal(map[string]any{"labels": map[string]string{"alertname": "HostDown", "instance": instance}})
	now := time.Now().UTC()
	return &alert.Alert{ID: "HostDown", AlertID: id, CreatedAt: now, UpdatedAt: now, Severity: sev, Type: alert.TypeRule,
		Title: instance + " is down", Tags: []string{}, Context: ctx, Source: alert.SourceAlertmanager, Status: alert.StatusOpen}
}

// TestIssuePerGroup follows a group through the service: only alerts
// routed to a destination with an issue per group are its members; they
// get no delivery of their own there, the group gets one; a repeat or a
// change to an alert that is no member changes nothing; the group resolves
// with its last member and fires again with its first.
func TestIssuePerGroup(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		svc, changesOf := groupService(t, driver)
		g := &lifecycle.Group{Key: `{}:{alertname="HostDown"}`, Sender: "Alertmanager", Source: alert.SourceAlertmanager,
			Labels: map[string]string{"alertname": "HostDown"}, CommonLabels: map[string]string{"alertname": "HostDown"}}
		gid := lifecycle.GroupAlertID(g.Sender, g.Key)
		notify := func(step string, items ...lifecycle.Item) {
			t.Helper()
			for i := range items {
				items[i].Group, items[i].Actor = g, "alertmanager"
			}
			if _, err := svc.Ingest(ctx, items); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		firing := func(id string, sev alert.Severity) lifecycle.Item {
			return lifecycle.Item{Alert: memberAlert(id, sev, id)}
		}
		resolved := func(id string, sev alert.Severity) lifecycle.Item {
			return lifecycle.Item{Alert: memberAlert(id, sev, id), Resolved: true}
		}
		destsOf := func(id string) []string {
			t.Helper()
			r, err := svc.Get(ctx, id)
			if err != nil {
				t.Fatalf("get %s: %v", id, err)
			}
			var out []string
			for _, d := range r.Deliveries {
				out = append(out, d.Destination)
			}
			slices.Sort(out)
			return out
		}
		groupChanges := func() (int, lifecycle.Change) { return changesOf(gid) }

		notify("firing", firing("a", alert.SeverityCritical), firing("b", alert.SeverityLow))
		if got := destsOf("a"); !slices.Equal(got, []string{"own"}) {
			t.Errorf("member a delivers to %v, want [own]: its group takes grouped", got)
		}
		if got := destsOf("b"); !slices.Equal(got, []string{"own"}) {
			t.Errorf("b delivers to %v, want [own]", got)
		}
		if got := destsOf(gid); !slices.Equal(got, []string{"grouped"}) {
			t.Errorf("the group delivers to %v, want [grouped]", got)
		}
		r, err := svc.Get(ctx, gid)
		if err != nil {
			t.Fatal(err)
		}
		if r.Alert.Title != "HostDown" || r.Alert.Severity != alert.SeverityCritical || r.Alert.Group == nil ||
			r.Alert.Group.Alerts != 1 || r.Alert.Group.Firing != 1 || r.Alert.Status != alert.StatusOpen {
			t.Errorf("group alert = %+v (group %+v)", r.Alert, r.Alert.Group)
		}
		if n, _ := groupChanges(); n != 0 {
			t.Errorf("a new group made %d changes, want 0: its issue's description lists its alerts", n)
		}

		// The other Alertmanager of the pair sends the same; b, no member,
		// resolves: neither is news for the group.
		notify("repeat", firing("a", alert.SeverityCritical), firing("b", alert.SeverityLow))
		notify("b resolves", firing("a", alert.SeverityCritical), resolved("b", alert.SeverityLow))
		if n, _ := groupChanges(); n != 0 {
			t.Errorf("a repeat and a non-member's resolve made %d group changes, want 0", n)
		}

		// c joins; a resolves in the same notification.
		notify("c joins, a resolves", resolved("a", alert.SeverityCritical), firing("c", alert.SeverityCritical))
		n, c := groupChanges()
		if n != 1 || c.Group == nil || len(c.Group.Joined) != 1 || c.Group.Joined[0].AlertID != "c" ||
			len(c.Group.Resolved) != 1 || c.Group.Resolved[0].AlertID != "a" || c.Group.Alerts != 2 || c.Group.Firing != 1 || c.NewStatus != "" {
			t.Fatalf("after c joins and a resolves: %d changes, last %+v (group %+v)", n, c, c.Group)
		}
		if got := c.Group.Joined[0].Labels; len(got) != 1 || got["instance"] != "c" {
			t.Errorf("c is told apart by %v, want its instance alone", got)
		}

		notify("c resolves", resolved("a", alert.SeverityCritical), resolved("c", alert.SeverityCritical))
		n, c = groupChanges()
		if n != 2 || c.NewStatus != alert.StatusResolved || c.OldStatus != alert.StatusOpen || c.Group.Firing != 0 {
			t.Fatalf("after the last member resolved: %d changes, last %+v", n, c)
		}
		notify("a fires again", firing("a", alert.SeverityCritical), resolved("c", alert.SeverityCritical))
		n, c = groupChanges()
		if n != 3 || !c.Reopened || c.NewStatus != alert.StatusOpen || len(c.Group.Back) != 1 || c.Group.Back[0].AlertID != "a" {
			t.Fatalf("after a fired again: %d changes, last %+v", n, c)
		}
		r, err = svc.Get(ctx, gid)
		if err != nil {
			t.Fatal(err)
		}
		if r.Alert.Status != alert.StatusOpen || r.Alert.Group.Alerts != 2 || r.Alert.Group.Firing != 1 {
			t.Errorf("group alert = %s, %+v; want OPEN with 2 alerts, 1 firing", r.Alert.Status, r.Alert.Group)
		}
		var listed struct {
			Alerts []struct {
				AlertID string       `json:"alertId"`
				Status  alert.Status `json:"status"`
			} `json:"alerts"`
		}
		if err := json.Unmarshal(r.Alert.Context, &listed); err != nil {
			t.Fatal(err)
		}
		if len(listed.Alerts) != 2 || listed.Alerts[0].AlertID != "a" || listed.Alerts[0].Status != alert.StatusOpen ||
			listed.Alerts[1].AlertID != "c" || listed.Alerts[1].Status != alert.StatusResolved {
			t.Errorf("the group lists %+v, want a firing first, then c resolved", listed.Alerts)
		}
		if got := destsOf(gid); !slices.Equal(got, []string{"grouped"}) {
			t.Errorf("the group delivers to %v, want still only [grouped]", got)
		}
	})
}

// TestAlertInTwoGroups: an alert in two Alertmanager groups (routes with
// continue: true) is a member of both, although the second group's
// notification is a repeat of it; and when it resolves or fires again in
// one group's notification first, the other group follows at its own.
func TestAlertInTwoGroups(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		svc, changesOf := groupService(t, driver)
		team := &lifecycle.Group{Key: `{}/{team="db"}:{alertname="HostDown"}`, Sender: "Alertmanager", Source: alert.SourceAlertmanager,
			Labels: map[string]string{"alertname": "HostDown"}, CommonLabels: map[string]string{"alertname": "HostDown"}}
		sec := &lifecycle.Group{Key: `{}/{}:{alertname="HostDown"}`, Sender: "Alertmanager", Source: alert.SourceAlertmanager,
			Labels: map[string]string{"alertname": "HostDown"}, CommonLabels: map[string]string{"alertname": "HostDown"}}
		teamID, secID := lifecycle.GroupAlertID(team.Sender, team.Key), lifecycle.GroupAlertID(sec.Sender, sec.Key)
		notify := func(g *lifecycle.Group, id string, resolved bool) {
			t.Helper()
			it := lifecycle.Item{Alert: memberAlert(id, alert.SeverityCritical, id), Resolved: resolved, Group: g, Actor: "alertmanager"}
			if _, err := svc.Ingest(ctx, []lifecycle.Item{it}); err != nil {
				t.Fatal(err)
			}
		}
		group := func(step, id string, members, firing int, status alert.Status) {
			t.Helper()
			r, err := svc.Get(ctx, id)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if r.Alert.Group == nil || r.Alert.Group.Alerts != members || r.Alert.Group.Firing != firing || r.Alert.Status != status {
				t.Errorf("%s: group %s is %s with %+v, want %s with %d alerts, %d firing", step, id, r.Alert.Status, r.Alert.Group, status, members, firing)
			}
			if len(r.Deliveries) != 1 || r.Deliveries[0].Destination != "grouped" {
				t.Errorf("%s: group %s has deliveries %+v, want one to grouped", step, id, r.Deliveries)
			}
		}

		notify(team, "a", false)
		notify(sec, "a", false)
		group("firing in both", teamID, 1, 1, alert.StatusOpen)
		group("firing in both", secID, 1, 1, alert.StatusOpen)

		n, _ := changesOf(secID)
		notify(sec, "a", false)
		if m, _ := changesOf(secID); m != n {
			t.Errorf("a repeat made %d changes to the second group, want none", m-n)
		}

		notify(team, "a", true)
		group("resolved in the first group", teamID, 1, 0, alert.StatusResolved)
		notify(sec, "a", true)
		group("resolved in the second group too", secID, 1, 0, alert.StatusResolved)
		n, c := changesOf(secID)
		if c.NewStatus != alert.StatusResolved || c.Group == nil || len(c.Group.Resolved) != 1 || c.Group.Resolved[0].AlertID != "a" {
			t.Errorf("the second group's change: %+v (group %+v), want it resolved, naming a", c, c.Group)
		}
		notify(sec, "a", true)
		if m, _ := changesOf(secID); m != n {
			t.Errorf("a repeated resolve made %d changes to the second group, want none", m-n)
		}

		notify(team, "a", false)
		group("firing again in the first group", teamID, 1, 1, alert.StatusOpen)
		notify(sec, "a", false)
		group("firing again in the second group too", secID, 1, 1, alert.StatusOpen)
		if _, c := changesOf(secID); !c.Reopened || c.Group == nil || len(c.Group.Back) != 1 || c.Group.Back[0].AlertID != "a" {
			t.Errorf("the second group's change: %+v (group %+v), want it reopened, naming a", c, c.Group)
		}
	})
}

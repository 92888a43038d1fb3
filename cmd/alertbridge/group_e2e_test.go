package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/destination/jiradest"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jira/sandbox/openapicheck"
	"github.com/alertbridge/alertbridge/lifecycle"
)

// groupNotification is an Alertmanager notification of the group of
// HostDown alerts in one cluster, each alert an instance; firing names the
// instances still firing, the rest of instances are resolved; began is
// when each instance's latest firing began (its startsAt).
func groupNotification(cluster string, instances []string, firing map[string]bool, began map[string]time.Time) []byte {
	status := "resolved"
	var list []map[string]any
	for _, inst := range instances {
		st, ends := "resolved", time.Now().UTC().Format(time.RFC3339Nano)
		if firing[inst] {
			st, ends, status = "firing", "0001-01-01T00:00:00Z", "firing"
		}
		list = append(list, map[string]any{
			"status":       st,
			"labels":       map[string]string{"alertname": "HostDown", "cluster": cluster, "instance": inst, "severity": "critical"},
			"annotations":  map[string]string{"summary": inst + " is down"},
			"startsAt":     began[inst].UTC().Format(time.RFC3339Nano),
			"endsAt":       ends,
			"generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
			"fingerprint":  amAlert{group: cluster, name: inst}.fingerprint(),
		})
	}
	b, _ := json.Marshal(map[string]any{
		"version": "4", "groupKey": `{}:{alertname="HostDown", cluster="` + cluster + `"}`, "truncatedAlerts": 0, "status": status,
		"receiver": "jira", "groupLabels": map[string]string{"alertname": "HostDown", "cluster": cluster},
		"commonLabels": map[string]string{"alertname": "HostDown", "cluster": cluster, "severity": "critical"}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager.example:9093", "alerts": list,
	})
	return b
}

// TestAlertmanagerIssuePerGroup drives a group's life through the binary
// to a destination with jira.issue_per: group beside one with an issue per
// alert: one issue for the group, listing its alerts; one summarised
// comment per notification as alerts join, resolve and fire again, none for
// a repeat; the issue done when the last alert resolves and back when one
// fires again.
func TestAlertmanagerIssuePerGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	testdb.Each(t, func(t *testing.T, driver string) {
		sb, err := sandbox.Start(sandbox.Options{Deployment: jira.DeploymentCloud, IndexLag: 200 * time.Millisecond,
			Validate: openapicheck.Validate(t, jira.DeploymentCloud)})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		t.Setenv("JIRA_TOKEN", sandbox.DefaultUser.Token)
		storage := testdb.URL(t, driver)
		addr := freePort(t)
		cfg := writeConfig(t, fmt.Sprintf(`
server:
  listen: %s
  public_url: http://alertbridge.example
  api_tokens: [{name: t, token_env: ALERTBRIDGE_API_TOKEN}]
storage:
  url: %s
destinations:%s%s
`, addr, storage, sandboxJira("grouped", sb, "\n      issue_per: group\n      sync: {status: one-way}"), sandboxJira("per-alert", sb, "")))
		s := startServer(t, cfg, addr)
		jobsDB := openJobsDB(t, driver, storage)
		settle := func(what string) { t.Helper(); jobsDB.settle(t, s, what) }
		instances := []string{"db-1", "db-2", "db-3"}
		// As Alertmanager has it: an alert firing again after it resolved
		// is a new firing, with a startsAt of its own.
		began, wasFiring := map[string]map[string]time.Time{}, map[string]bool{}
		send := func(cluster string, n int, firing ...string) {
			t.Helper()
			if began[cluster] == nil {
				began[cluster] = map[string]time.Time{}
			}
			on := map[string]bool{}
			for _, f := range firing {
				on[f] = true
				if !wasFiring[cluster+"/"+f] {
					began[cluster][f] = time.Now()
				}
			}
			for _, inst := range instances[:n] {
				wasFiring[cluster+"/"+inst] = on[inst]
			}
			var body any
			if err := json.Unmarshal(groupNotification(cluster, instances[:n], on, began[cluster]), &body); err != nil {
				t.Fatal(err)
			}
			if code, err := s.api(http.MethodPost, "/api/v1/alerts/alertmanager", body, nil); err != nil || code != http.StatusAccepted {
				t.Fatalf("notification of %s: %d %v", cluster, code, err)
			}
		}
		groupID := func(cluster string) string {
			return lifecycle.GroupAlertID("Alertmanager", `{}:{alertname="HostDown", cluster="`+cluster+`"}`)
		}
		issuesWith := func(marker string) []sandbox.StoredIssue {
			var out []sandbox.StoredIssue
			for _, is := range sb.Issues() {
				for _, l := range is.Labels {
					if l == marker {
						out = append(out, is)
					}
				}
			}
			return out
		}
		groupIssue := func(cluster string) sandbox.StoredIssue {
			t.Helper()
			found := issuesWith(jiradest.Marker("grouped", groupID(cluster)))
			if len(found) != 1 {
				t.Fatalf("group %s has %d issues in the grouped destination, want 1", cluster, len(found))
			}
			return found[0]
		}
		perAlert := func() int {
			n := 0
			for _, is := range sb.Issues() {
				if strings.HasPrefix(is.Summary, "[CRITICAL] db-") {
					n++
				}
			}
			return n
		}
		// comments checks the group issue's comments: count, and that the
		// last says every phrase.
		comments := func(step, cluster string, n int, phrases ...string) {
			t.Helper()
			cs := groupIssue(cluster).Comments
			if len(cs) != n {
				t.Fatalf("%s: group %s issue has %d comments, want %d", step, cluster, len(cs), n)
			}
			if n == 0 {
				return
			}
			last := string(cs[n-1].Body)
			for _, p := range phrases {
				if !strings.Contains(last, p) {
					t.Errorf("%s: the comment does not say %q:\n%s", step, p, last)
				}
			}
		}
		status := func(step, cluster, want string) {
			t.Helper()
			if got := groupIssue(cluster).Status.Name; got != want {
				t.Errorf("%s: group %s issue is %q, want %q", step, cluster, got, want)
			}
		}

		// Two groups fire: one issue each, listing their alerts.
		send("eu1", 2, "db-1", "db-2")
		send("us1", 1, "db-1")
		settle("firing")
		eu := groupIssue("eu1")
		if eu.Summary != "[CRITICAL] HostDown (cluster=eu1)" {
			t.Errorf("group issue summary = %q", eu.Summary)
		}
		for _, want := range []string{"db-1 is down", "db-2 is down", "2 of 2 firing", "instance=db-1", "http://alertbridge.example/alerts/" + groupID("eu1")} {
			if !strings.Contains(string(eu.Description), want) {
				t.Errorf("group issue description does not say %q:\n%s", want, eu.Description)
			}
		}
		groupIssue("us1")
		comments("firing", "eu1", 0)
		status("firing", "eu1", "To Do")
		if n := perAlert(); n != 3 {
			t.Errorf("the per-alert destination has %d issues, want 3", n)
		}

		// A repeat at the repeat interval costs nothing.
		waitLagProbe(t, sb, 200*time.Millisecond)
		before := len(sb.Requests())
		send("eu1", 2, "db-1", "db-2")
		settle("repeat")
		if n := len(sb.Requests()) - before; n != 0 {
			t.Errorf("a repeated notification sent %d Jira requests, want 0", n)
		}

		// An alert joins: one comment, naming it.
		send("eu1", 3, "db-1", "db-2", "db-3")
		settle("join")
		comments("join", "eu1", 1, "1 alert joined", "3 of 3 alerts firing", "db-3 is down", "instance=db-3")
		status("join", "eu1", "To Do")

		// One resolves: one comment; the issue stays open.
		send("eu1", 3, "db-2", "db-3")
		settle("partial resolve")
		comments("partial resolve", "eu1", 2, "1 alert resolved", "2 of 3 alerts firing", "db-1 is down")
		status("partial resolve", "eu1", "To Do")

		// The rest resolve: one comment, and the issue is done.
		send("eu1", 3)
		settle("resolved")
		comments("resolved", "eu1", 3, "2 alerts resolved", "All 3 alerts have resolved")
		status("resolved", "eu1", "Done")
		status("resolved", "us1", "To Do")

		// One fires again: the issue comes back (jira.reopen: transition).
		send("eu1", 3, "db-2")
		settle("firing again")
		comments("firing again", "eu1", 4, "1 alert firing again", "1 of 3 alerts firing", "db-2 is down")
		status("firing again", "eu1", "To Do")

		var got struct {
			Status string `json:"status"`
			Group  struct {
				Alerts, Firing int
			} `json:"group"`
			Timeline []struct{ Action string } `json:"timeline"`
		}
		if code, err := s.api(http.MethodGet, "/api/v1/alerts/"+groupID("eu1"), nil, &got); err != nil || code != http.StatusOK {
			t.Fatalf("get the group's alert: %d %v", code, err)
		}
		if got.Status != "OPEN" || got.Group.Alerts != 3 || got.Group.Firing != 1 {
			t.Errorf("group alert: status %s, %d alerts, %d firing; want OPEN, 3, 1", got.Status, got.Group.Alerts, got.Group.Firing)
		}
		if n := perAlert(); n != 4 {
			t.Errorf("the per-alert destination has %d issues, want 4", n)
		}
		if len(issuesWith(jiradest.Marker("grouped", groupID("eu1")))) != 1 {
			t.Error("the group has more than one issue")
		}
		if errs := sb.ValidationErrors(); len(errs) > 0 {
			t.Errorf("requests break the OpenAPI spec or the ADF schema: %s", strings.Join(errs[:min(3, len(errs))], "\n"))
		}
		t.Logf("2 groups of 4 alerts: 2 group issues and %d per-alert issues; %d Jira requests over 7 notifications", perAlert(), len(sb.Requests()))
	})
}

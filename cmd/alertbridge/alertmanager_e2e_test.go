package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/destination/jiradest"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jira/sandbox/openapicheck"
)

// amAlert is one alert of an Alertmanager notification.
type amAlert struct {
	group, name string
	firing      bool
}

// fingerprint stands for Alertmanager's hash of the labels: one per alert.
func (a amAlert) fingerprint() string {
	h := fnv.New64a()
	h.Write([]byte(a.group + "/" + a.name))
	return fmt.Sprintf("%016x", h.Sum64())
}

// amNotification is a webhook body as Alertmanager v0.34 sends it: version
// 4, the group's key and labels, and each alert with its fingerprint,
// status, start and (once resolved) end.
func amNotification(group string, alerts []amAlert, started time.Time) []byte {
	status := "resolved"
	var list []map[string]any
	for _, a := range alerts {
		st, ends := "resolved", time.Now().UTC().Format(time.RFC3339Nano)
		if a.firing {
			st, ends, status = "firing", "0001-01-01T00:00:00Z", "firing"
		}
		list = append(list, map[string]any{
			"status":       st,
			"labels":       map[string]string{"alertname": a.name, "group": a.group, "severity": "critical"},
			"annotations":  map[string]string{"summary": a.name + " in " + a.group},
			"startsAt":     started.UTC().Format(time.RFC3339Nano),
			"endsAt":       ends,
			"generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
			"fingerprint":  a.fingerprint(),
		})
	}
	b, _ := json.Marshal(map[string]any{
		"version": "4", "groupKey": `{}:{group="` + group + `"}`, "truncatedAlerts": 0, "status": status,
		"receiver": "alertbridge", "groupLabels": map[string]string{"group": group},
		"commonLabels": map[string]string{"group": group, "severity": "critical"}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager.example:9093", "alerts": list,
	})
	return b
}

// TestAlertmanagerLifecycle drives alertbridge with the notifications an
// Alertmanager sends over a group's life — firing, repeats, a partial
// resolve, resolved, firing again — to two Jira destinations that differ
// only in jira.reopen. Every issue must end in the status mapped for its
// alert, a re-fire must follow jira.reopen, and repeats must send Jira
// nothing.
func TestAlertmanagerLifecycle(t *testing.T) {
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
		dest := func(name, reopen string) string {
			return sandboxJira(name, sb, "\n      reopen: "+reopen+"\n      sync: {status: one-way}")
		}
		cfg := writeConfig(t, fmt.Sprintf(`
server:
  listen: %s
  api_tokens: [{name: t, token_env: ALERTBRIDGE_API_TOKEN}]
storage:
  url: %s
destinations:%s%s
`, addr, storage, dest("reopening", "transition"), dest("closed-stays", "off")))
		s := startServer(t, cfg, addr)
		jobsDB := openJobsDB(t, driver, storage)
		settle := func(what string) { t.Helper(); jobsDB.settle(t, s, what) }
		// When the alerts' firing began (their startsAt): one firing lasts
		// over repeats and resolves, and one that fires again is new.
		started := time.Now().Add(-time.Minute)
		send := func(group string, alerts ...amAlert) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, s.base+"/api/v1/alerts/alertmanager", bytes.NewReader(amNotification(group, alerts, started)))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
				t.Fatalf("notification of %s answered %d", group, resp.StatusCode)
			}
		}
		const groups = 10
		group := func(i int) string { return fmt.Sprintf("group-%02d", i) }
		one := func(i int, firing bool) amAlert { return amAlert{group(i), "HostDown1", firing} }
		two := func(i int, firing bool) amAlert { return amAlert{group(i), "HostDown2", firing} }

		statusOf := func(destination string, a amAlert) string {
			t.Helper()
			marker := jiradest.Marker(destination, a.fingerprint())
			var found []string
			for _, is := range sb.Issues() {
				for _, l := range is.Labels {
					if l == marker {
						found = append(found, is.Status.Name)
					}
				}
			}
			if len(found) != 1 {
				t.Fatalf("%s in %s has %d issues, want 1", a.name, a.group, len(found))
			}
			return found[0]
		}
		expect := func(step string, want func(i int, destination string, a amAlert) string) {
			t.Helper()
			for i := range groups {
				for _, a := range []amAlert{one(i, true), two(i, true)} {
					for _, d := range []string{"reopening", "closed-stays"} {
						if got, w := statusOf(d, a), want(i, d, a); got != w {
							t.Errorf("%s: %s %s in %s is %q, want %q", step, d, a.name, a.group, got, w)
						}
					}
				}
			}
		}

		// Firing.
		for i := range groups {
			send(group(i), one(i, true), two(i, true))
		}
		settle("firing")
		expect("firing", func(int, string, amAlert) string { return "To Do" })

		// Repeats at the repeat interval change nothing and cost nothing.
		before := len(sb.Requests())
		for i := range groups {
			send(group(i), one(i, true), two(i, true))
		}
		settle("repeats")
		if n := len(sb.Requests()) - before; n != 0 {
			t.Errorf("repeated notifications sent %d Jira requests, want 0", n)
		}

		// A grouped notification with a partial resolve, then the whole
		// group resolved.
		for i := range groups {
			send(group(i), one(i, false), two(i, true))
		}
		settle("partial resolve")
		expect("partial resolve", func(_ int, _ string, a amAlert) string {
			if a.name == "HostDown1" {
				return "Done"
			}
			return "To Do"
		})
		for i := range groups {
			send(group(i), one(i, false), two(i, false))
		}
		settle("resolved")
		expect("resolved", func(int, string, amAlert) string { return "Done" })

		// Half the groups fire again: jira.reopen decides.
		started = time.Now()
		for i := range groups / 2 {
			send(group(i), one(i, true))
		}
		settle("firing again")
		expect("firing again", func(i int, d string, a amAlert) string {
			if i < groups/2 && a.name == "HostDown1" && d == "reopening" {
				return "To Do"
			}
			return "Done"
		})
		if errs := sb.ValidationErrors(); len(errs) > 0 {
			t.Errorf("requests break the OpenAPI spec: %s", strings.Join(errs[:min(3, len(errs))], "\n"))
		}
		t.Logf("%d Jira requests for %d alerts in 2 destinations over the lifecycle", len(sb.Requests()), 2*groups)
	})
}

package main

import (
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
)

// TestJiraBulkExactlyOnceUnderFaults sends a storm through the real binary
// to a paced Jira sandbox, so that creates go out as bulk creates, while
// the sandbox stores some bulk requests and then loses their answer or
// answers 502 — on 5% and on 30% of them, on SQLite and PostgreSQL. Each
// element of such a bulk is in doubt on its own and looked up before it is
// created again: every alert must end with exactly one issue, linked to it.
func TestJiraBulkExactlyOnceUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	testdb.Each(t, func(t *testing.T, driver string) {
		for _, p := range []float64{0.05, 0.3} {
			t.Run(fmt.Sprintf("%.0fpct", 100*p), func(t *testing.T) { jiraBulkUnderFaults(t, driver, p) })
		}
	})
}

func jiraBulkUnderFaults(t *testing.T, driver string, p float64) {
	total := 300
	sb, err := sandbox.Start(sandbox.Options{
		Deployment: jira.DeploymentCloud, IndexLag: 300 * time.Millisecond, Seed: 11,
		Validate: openapicheck.Validate(t, jira.DeploymentCloud),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	bulk := "/rest/api/3/issue/bulk"
	// The first two bulk creates meet one fault of each kind for sure; the
	// rest meet them at random, p in all.
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultLostAnswer, Method: http.MethodPost, PathPrefix: bulk, Count: 1, Delay: 100 * time.Millisecond})
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultStoredServerError, Method: http.MethodPost, PathPrefix: bulk, Count: 1})
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultLostAnswer, Method: http.MethodPost, PathPrefix: bulk, Probability: p / 2, Delay: 100 * time.Millisecond})
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultStoredServerError, Method: http.MethodPost, PathPrefix: bulk, Probability: p / 2})

	t.Setenv("JIRA_TOKEN", sandbox.DefaultUser.Token)
	t.Setenv("ALERTBRIDGE_RETRY_BACKOFF", "200ms")
	addr := freePort(t)
	storage := testdb.URL(t, driver)
	// Paced, so that creates queue for the site and share bulk creates.
	cfg := writeConfig(t, faultConfig(addr, storage, sb.URL(), 20, 4))
	s := startServer(t, cfg, addr)
	postAlerts(t, s, "b-%04d", 0, total)

	ids := make([]string, total)
	for i := range ids {
		ids[i] = fmt.Sprintf("b-%04d", i)
	}
	jobsDB := openJobsDB(t, driver, storage)
	waitFor(t, 120*time.Second, func() bool {
		return len(sb.Issues()) >= total && jobsDB.pending(t) == 0
	})
	checkOneIssueEach(t, sb, s, "sec-jira", ids)

	// The faults hit bulk creates that carried several alerts, and Jira
	// kept what they made.
	var bulks, stored int
	for _, r := range sb.Requests() {
		if r.Path != bulk {
			continue
		}
		bulks++
		if r.Fault != "" && r.Served == http.StatusCreated && strings.Count(string(r.Body), `"summary"`) > 1 {
			stored++
		}
	}
	t.Logf("%d bulk creates, %d of several alerts stored with the answer lost or a 502, %d requests in all", bulks, stored, len(sb.Requests()))
	if bulks == 0 || stored < 2 {
		t.Errorf("%d bulk creates, %d stored under a fault: the faults did not meet a bulk", bulks, stored)
	}
	if errs := sb.ValidationErrors(); len(errs) > 0 {
		t.Errorf("requests break the OpenAPI spec: %s", strings.Join(errs[:min(3, len(errs))], "\n"))
	}
}

// checkOneIssueEach checks, once every delivery has settled, that each of
// the alerts has exactly one issue in the sandbox (found by its marker)
// and links that issue, and that no issue belongs to no alert.
func checkOneIssueEach(t *testing.T, sb *sandbox.Sandbox, s *server, dest string, ids []string) {
	t.Helper()
	marker := map[string]string{}
	for _, id := range ids {
		marker[jiradest.Marker(dest, id)] = id
	}
	byAlert := map[string][]string{}
	issues := sb.Issues()
	for _, is := range issues {
		for _, l := range is.Labels {
			if id, ok := marker[l]; ok {
				byAlert[id] = append(byAlert[id], is.Key)
			}
		}
	}
	if len(issues) != len(ids) || len(byAlert) != len(ids) {
		t.Errorf("%d issues for %d alerts, want %d", len(issues), len(byAlert), len(ids))
	}
	for id, keys := range byAlert {
		if len(keys) != 1 {
			t.Errorf("alert %s has %d issues: %v", id, len(keys), keys)
		}
	}
	for _, id := range ids {
		var got struct {
			Issues []struct{ Key string } `json:"issues"`
		}
		waitFor(t, 10*time.Second, func() bool {
			code, err := s.api("GET", "/api/v1/alerts/"+id, nil, &got)
			return err == nil && code == 200 && len(got.Issues) == 1
		})
		if want := byAlert[id]; len(want) != 1 || len(got.Issues) != 1 || got.Issues[0].Key != want[0] {
			t.Errorf("alert %s links %+v, Jira has %v", id, got.Issues, want)
		}
	}
}

// waitLagProbe waits until the site's search-lag measurement, which
// follows the site's first create in the background, has found its issue,
// so that a test counting requests from now on does not count its
// searches: a search that arrived index-lag after the first issue was
// made found it, and the probe stops there.
func waitLagProbe(t *testing.T, sb *sandbox.Sandbox, indexLag time.Duration) {
	t.Helper()
	waitFor(t, 30*time.Second, func() bool {
		var first time.Time
		for _, is := range sb.Issues() {
			if first.IsZero() || is.Created.Before(first) {
				first = is.Created
			}
		}
		if first.IsZero() {
			return false
		}
		for _, r := range sb.Requests() {
			if strings.Contains(r.Path, "/search") && !r.Time.Before(first.Add(indexLag)) {
				return true
			}
		}
		return false
	})
}

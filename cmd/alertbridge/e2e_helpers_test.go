package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/jira/sandbox"
)

// sandboxJira is the configuration of a Jira Cloud destination on a
// sandbox, as the binary's end-to-end tests use it: short timeouts and a
// rate no test waits on; extra is more keys of the jira block, each line
// indented six spaces.
func sandboxJira(name string, sb *sandbox.Sandbox, extra string) string {
	return fmt.Sprintf(`
  - name: %s
    type: jira
    jira:
      url: %s
      deployment: cloud
      email: %s
      token_env: JIRA_TOKEN
      project: SEC
      timeout: 5s
      search_lag: 2s
      requests_per_second: 200%s`, name, sb.URL(), sandbox.DefaultUser.Email, extra)
}

// settle waits until the binary has no job left to run: what a step sent
// has all reached Jira, and nothing more is coming.
func (j *jobsDB) settle(t *testing.T, s *server, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for j.pending(t) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d jobs still unfinished after 60s\n%s", what, j.pending(t), s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// faultConfig is the configuration of the exactly-once fault tests: one
// Jira destination at jiraURL (the sandbox, or a front before it) with
// short timeouts and search lag (the tests shorten the retry schedule
// too), paced at rps requests per second with concurrency in flight, and
// no ingest limit to speak of.
func faultConfig(addr, storage, jiraURL string, rps float64, concurrency int) string {
	return fmt.Sprintf(`
server:
  listen: %s
  ingest_rate_limit: {per_second: 100000, burst: 100000}
  api_tokens: [{name: t, token_env: ALERTBRIDGE_API_TOKEN}]
storage:
  url: %s
destinations:
  - name: sec-jira
    type: jira
    jira:
      url: %s
      deployment: cloud
      email: %s
      token_env: JIRA_TOKEN
      project: SEC
      timeout: 2s
      search_lag: 1s
      requests_per_second: %g
      max_concurrency: %d
`, addr, storage, jiraURL, sandbox.DefaultUser.Email, rps, concurrency)
}

// postAlerts posts alerts from..to-1, alertId fmt.Sprintf(idFormat, i),
// from 8 clients at once, each one accepted.
func postAlerts(t *testing.T, s *server, idFormat string, from, to int) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id := fmt.Sprintf(idFormat, i)
				code, err := s.api("POST", "/api/v1/alerts", map[string]any{"alertId": id, "title": "alert " + id, "severity": "HIGH"}, nil)
				if err != nil || code != http.StatusAccepted {
					t.Errorf("post %s: %d %v", id, code, err)
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

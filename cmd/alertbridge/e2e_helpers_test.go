package main

import (
	"fmt"
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

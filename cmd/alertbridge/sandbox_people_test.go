package main

import (
	"bufio"
	"context"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

// The standalone sandbox prints how to act in it as a person other than
// alertbridge's bot, and each printed action works: a transition, an
// assignment and a comment by Ann, on both deployments.
func TestSandboxPeopleCanAct(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	line := regexp.MustCompile(`(transition|assign|comment)\s+curl -s -u (\S+):(\S+) -H 'Content-Type: application/json'(?: -X (\w+))? (\S+) -d '(.*)'$`)
	for _, dep := range []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter} {
		t.Run(string(dep), func(t *testing.T) {
			addr := freePort(t)
			cmd := exec.Command(binary(t), "jira-sandbox", "--listen", addr, "--deployment", string(dep))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			actions := map[string][]string{}
			sc := bufio.NewScanner(out)
			for sc.Scan() && !strings.HasPrefix(sc.Text(), "Stop with") {
				if m := line.FindStringSubmatch(sc.Text()); m != nil {
					actions[m[1]] = m[2:]
				}
			}
			if len(actions) != 3 {
				t.Fatalf("printed actions %v, want transition, assign and comment", actions)
			}
			bot := sandbox.DefaultUser.Email
			if dep == jira.DeploymentDataCenter {
				bot = sandbox.DefaultUser.Name
			}
			c := jira.New(jira.Config{BaseURL: "http://" + addr, Deployment: dep, User: bot, Token: sandbox.DefaultUser.Token})
			ctx := context.Background()
			if _, err := c.CreateIssue(ctx, map[string]any{"project": map[string]string{"key": "SEC"}, "summary": "try me",
				"issuetype": map[string]string{"name": "Task"}, "labels": []string{"x"}}, nil); err != nil {
				t.Fatal(err)
			}
			for _, kind := range []string{"transition", "assign", "comment"} {
				a := actions[kind]
				user, pass, method, url, body := a[0], a[1], a[2], a[3], a[4]
				if method == "" {
					method = http.MethodPost
				}
				req, _ := http.NewRequest(method, url, strings.NewReader(body))
				req.SetBasicAuth(user, pass)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					t.Errorf("%s as %s: %s", kind, user, resp.Status)
				}
			}
			iss, err := c.GetIssue(ctx, "SEC-1", "status", "assignee", "comment")
			if err != nil {
				t.Fatal(err)
			}
			var st jira.Status
			var who jira.User
			_, _ = iss.Field("status", &st)
			_, _ = iss.Field("assignee", &who)
			if st.Name != "Done" || (who.AccountID != sandbox.People[0].AccountID && who.Name != sandbox.People[0].Name) {
				t.Errorf("after Ann's actions: status %q, assignee %+v", st.Name, who)
			}
		})
	}
}

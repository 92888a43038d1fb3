package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jira/sandbox/openapicheck"
)

// runBin runs the binary with JIRA_TOKEN set and returns its exit code and output.
func runBin(t *testing.T, token string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "JIRA_TOKEN="+token)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestJiraSendTestAndOnlineCheck(t *testing.T) {
	sb, err := sandbox.Start(sandbox.Options{Deployment: jira.DeploymentCloud, Validate: openapicheck.Validate(t, jira.DeploymentCloud)})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	cfg := func(extra string) string {
		return writeConfig(t, fmt.Sprintf(`
destinations:
  - name: sec-jira
    type: jira
    jira:
      url: %s
      deployment: auto
      email: %s
      token_env: JIRA_TOKEN
      project: SEC
%s`, sb.URL(), sandbox.DefaultUser.Email, extra))
	}
	good := cfg("      priority: {HIGH: High}\n")
	code, out, errOut := runBin(t, sandbox.DefaultUser.Token, "send-test", "--config", good, "sec-jira")
	if code != 0 || !strings.Contains(out, "sec-jira: created SEC-1 "+sb.URL()+"/browse/SEC-1") {
		t.Fatalf("send-test: %d %q %q", code, out, errOut)
	}
	if is := sb.Issues(); len(is) != 1 || is[0].Summary != "[INFO] alertbridge test alert" {
		t.Fatalf("issues: %+v", is)
	}
	code, _, errOut = runBin(t, "wrong-token", "send-test", "--config", good, "sec-jira")
	if code != 1 || !strings.Contains(errOut, "401") || strings.Contains(errOut, "wrong-token") {
		t.Fatalf("send-test with a bad token: %d %q", code, errOut)
	}

	if code, out, errOut := runBin(t, sandbox.DefaultUser.Token, "check-config", "--config", good, "--online"); code != 0 {
		t.Fatalf("check-config --online on a good config: %d %q %q", code, out, errOut)
	}
	bad := cfg("      issue_type: Task\n      priority: {HIGH: Urgentest, LOW: Meh}\n      custom_fields: {customfield_99999: x}\n")
	code, _, errOut = runBin(t, sandbox.DefaultUser.Token, "check-config", "--config", bad, "--online")
	for _, want := range []string{`priority.HIGH: Jira has no priority "Urgentest"`, `priority.LOW: Jira has no priority "Meh"`, "custom_fields.customfield_99999"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("check-config --online: %d, want %q in:\n%s", code, want, errOut)
		}
	}
	code, _, errOut = runBin(t, sandbox.DefaultUser.Token, "check-config", "--config", cfg("      issue_type: Epic\n"), "--online")
	if code != 1 || !strings.Contains(errOut, `has no issue type "Epic" (it has: Task, Bug, Story)`) {
		t.Errorf("unknown issue type: %d\n%s", code, errOut)
	}
	if errs := sb.ValidationErrors(); len(errs) > 0 {
		t.Errorf("requests break the OpenAPI spec: %v", errs)
	}
}

package config

import (
	"fmt"
	"strings"
	"testing"
)

// jiraSites is a config of Jira destinations, one per (url, project, sync).
func jiraSites(ds ...[3]string) string {
	var b strings.Builder
	b.WriteString("destinations:\n")
	for i, d := range ds {
		fmt.Fprintf(&b, "  - name: d%d\n    type: jira\n    jira:\n      url: %s\n      email: bot@example.com\n      token_env: JIRA_TOKEN\n      project: %s\n      sync: %s\n",
			i, d[0], d[1], d[2])
	}
	return b.String()
}

const (
	twoWaySync = "{status: two-way, webhook_secret_env: JIRA_WEBHOOK_SECRET}"
	oneWaySync = "{status: one-way}"
)

func TestTwoWaySyncAcrossDestinations(t *testing.T) {
	for _, c := range []struct {
		name     string
		src      string
		problems []string // path: message prefix
		warnings int
	}{
		{"one site, one project", jiraSites(
			[3]string{"https://a.atlassian.net", "SEC", twoWaySync},
			[3]string{"https://A.atlassian.net/", "sec", twoWaySync}), nil, 0},
		{"one site, two projects", jiraSites(
			[3]string{"https://a.atlassian.net", "SEC", twoWaySync},
			[3]string{"https://a.atlassian.net", "OPS", oneWaySync},
			[3]string{"https://A.atlassian.net/", "IR", twoWaySync}),
			[]string{`destinations[2].jira.project: two-way sync of project IR on a.atlassian.net, but destination "d0" (destinations[0]) already syncs project SEC`}, 0},
		{"one site, two projects, one of them one-way", jiraSites(
			[3]string{"https://a.atlassian.net", "SEC", twoWaySync},
			[3]string{"https://a.atlassian.net", "OPS", oneWaySync}), nil, 0},
		{"two sites", jiraSites(
			[3]string{"https://a.atlassian.net", "SEC", twoWaySync},
			[3]string{"https://jira.example.com/jira", "SEC", twoWaySync}), nil, 2},
		{"two sites, one of them one-way", jiraSites(
			[3]string{"https://a.atlassian.net", "SEC", twoWaySync},
			[3]string{"https://jira.example.com", "SEC", oneWaySync}), nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(c.src), testEnv())
			if len(c.problems) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if len(cfg.Warnings) != c.warnings {
					t.Errorf("warnings = %v, want %d", cfg.Warnings, c.warnings)
				}
				for _, w := range cfg.Warnings {
					if !strings.HasSuffix(w.Path, ".jira.sync") || !strings.Contains(w.Message, "loop") {
						t.Errorf("warning %v", w)
					}
				}
				return
			}
			ps := problemsOf(t, err)
			if len(ps) != len(c.problems) {
				t.Fatalf("problems = %v, want %d", ps, len(c.problems))
			}
			for i, p := range ps {
				if !strings.HasPrefix(p.Error(), c.problems[i]) || p.Line == 0 {
					t.Errorf("problem %q (line %d), want prefix %q", p.Error(), p.Line, c.problems[i])
				}
			}
		})
	}
}

// An issue per group without status sync never resolves with its group:
// check-config says so, at the key to change.
func TestIssuePerGroupWithoutStatusSync(t *testing.T) {
	for _, c := range []struct {
		name, sync, issuePer string
		warned               bool
	}{
		{"group, status off", "{assignee: one-way}", "group", true},
		{"group, status one-way", oneWaySync, "group", false},
		{"alert, status off", "{assignee: one-way}", "alert", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := jiraSites([3]string{"https://a.atlassian.net", "SEC", c.sync}) + "      issue_per: " + c.issuePer + "\n"
			cfg, err := Parse([]byte(src), testEnv())
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Destinations[0].Jira.IssuePer; got != c.issuePer {
				t.Errorf("issue_per = %q, want %q", got, c.issuePer)
			}
			warned := len(cfg.Warnings) == 1 && cfg.Warnings[0].Path == "destinations[0].jira.sync.status" &&
				strings.Contains(cfg.Warnings[0].Message, "not moved when the last alert resolves")
			if warned != c.warned {
				t.Errorf("warnings = %v, want the status sync warning: %v", cfg.Warnings, c.warned)
			}
		})
	}
	_, err := Parse([]byte(jiraSites([3]string{"https://a.atlassian.net", "SEC", oneWaySync})+"      issue_per: rule\n"), testEnv())
	if ps := problemsOf(t, err); len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), "destinations[0].jira.issue_per: ") {
		t.Errorf("issue_per: rule: problems %v", ps)
	}
}

package ruleengine

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunTests(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"good.yml": ruleYAML("good", `Tests:
  - Name: matches
    ExpectedResult: true
    ExpectedTitle: hello ann
    ExpectedSeverity: high
    ExpectedDedup: ann
    ExpectedDestinations: [sec-jira]
    Log: {user: ann}
  - Name: ignores others
    ExpectedResult: false
    Log: {user: bob}`),
		"good.py": `
def rule(e):
    return e["user"] == "ann"
def title(e):
    return "hello " + e["user"]
def dedup(e):
    return e["user"]
def severity(e):
    return "HIGH"
def destinations(e):
    return ["sec-jira"]
`,
		"bad.yml": ruleYAML("bad", `Tests:
  - Name: wrong result
    ExpectedResult: false
    Log: {user: ann}
  - Name: wrong title
    ExpectedResult: true
    ExpectedTitle: something else
    Log: {user: ann}
  - Name: raises
    ExpectedResult: true
    Log: {}`),
		"bad.py": "def rule(e):\n    print('checking', e)\n    return e['user'] == 'ann'\n",
	})
	var out bytes.Buffer
	failed, err := RunTests(context.Background(), &out, dir)
	if err != nil {
		t.Fatal(err)
	}
	report := out.String()
	t.Log("\n" + report)
	if failed != 3 {
		t.Errorf("failed = %d, want 3", failed)
	}
	for _, want := range []string{
		"PASS good: matches\n",
		"PASS good: ignores others\n",
		"FAIL bad: wrong result: rule() returned true, want false\n",
		`FAIL bad: wrong title: title is "bad", want "something else"` + "\n",
		`FAIL bad: raises: rule() failed: key "user" not in dict`,
		"    print: checking {}\n",
		"2 rules, 5 tests, 3 failed\n",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestRunTestsReturnsLoadErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"x.yml": ruleYAML("x"), "x.py": "def rule(e) return\n"})
	var out bytes.Buffer
	if _, err := RunTests(context.Background(), &out, dir); err == nil || !strings.Contains(err.Error(), "x.yml") {
		t.Errorf("err = %v, want a load error naming x.yml", err)
	}
}

package ruleengine

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

func TestLoadAppliesDefaults(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    return True\n")
	r := rs.Rule("r")
	if r == nil {
		t.Fatal("rule r not loaded")
	}
	if !r.Enabled || r.DedupPeriod != 60*time.Minute || r.Threshold != 1 || r.Severity != alert.SeverityMedium {
		t.Errorf("defaults: enabled %v, period %v, threshold %d, severity %s", r.Enabled, r.DedupPeriod, r.Threshold, r.Severity)
	}
	if r.Version == "" || r.Source == "" || r.Path == "" {
		t.Errorf("version %q, source %q, path %q: want all set", r.Version, r.Source, r.Path)
	}
}

func TestLoadReadsAllMetadata(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    return True\n", `DisplayName: Shown
Enabled: false
DedupPeriodMinutes: 15
Threshold: 5
OutputIds: [sec-jira]
Runbook: do this
Reference: https://example.com
Tags: [a, b]
Description: about it
Tests:
  - Name: t1
    ExpectedResult: true
    ExpectedSeverity: high
    ExpectedDestinations: []
    Log: {n: 3, when: 2024-01-02T03:04:05Z}`)
	r := rs.Rule("r")
	if r.DisplayName != "Shown" || r.Enabled || r.DedupPeriod != 15*time.Minute || r.Threshold != 5 ||
		r.OutputIDs[0] != "sec-jira" || r.Runbook != "do this" || r.Reference != "https://example.com" ||
		len(r.Tags) != 2 || r.Description != "about it" {
		t.Errorf("metadata not read: %+v", r)
	}
	tc := r.Tests[0]
	if tc.Name != "t1" || !tc.ExpectedResult || *tc.ExpectedSeverity != alert.SeverityHigh || tc.ExpectedDestinations == nil {
		t.Errorf("test not read: %+v", tc)
	}
	// Test events look like decoded JSON: a timestamp stays the string it was.
	if got, ok := tc.Log["when"].(string); !ok || got != "2024-01-02T03:04:05Z" {
		t.Errorf("Log.when = %#v, want the string", tc.Log["when"])
	}
	// A disabled rule is loaded but not evaluated.
	if m, errs := eval(t, rs, map[string]any{}); len(m) != 0 || len(errs) != 0 {
		t.Errorf("disabled rule evaluated: %v %v", m, errs)
	}
}

// Every problem, in every file, comes back in one error, each naming the
// file it is in.
func TestLoadReportsEveryProblemWithItsFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"unknown_key.yml": ruleYAML("a", "Treshold: 3"),
		"a.py":            "def rule(e):\n    return True\n",

		"syntax.yml": ruleYAML("b"),
		"b.py":       "def rule(e)\n    return True\n",

		"norule.yml": ruleYAML("c"),
		"c.py":       "def title(e):\n    return 'x'\n",

		"sub/dir/badsev.yml": "AnalysisType: rule\nRuleID: d\nFilename: d.py\nLogTypes: [X]\nSeverity: Urgent\n",
		"sub/dir/d.py":       "def rule(e):\n    return True\n",

		"badyaml.yml":   "AnalysisType: rule\nRuleID: [unclosed\n",
		"missing.yml":   "AnalysisType: rule\nRuleID: e\nFilename: nowhere.py\nLogTypes: [X]\nSeverity: Low\n",
		"nologtype.yml": "AnalysisType: rule\nRuleID: f\nFilename: a.py\nSeverity: Low\n",
		"testkey.yml":   ruleYAML("g", "Tests:\n  - Name: t\n    ExpectedResult: true\n    Expected: 1\n    Log: {}"),
		"g.py":          "def rule(e):\n    return True\n",
		"arity.yml":     ruleYAML("h"),
		"h.py":          "def rule(e):\n    return True\ndef title(a, b):\n    return 'x'\n",
		"zz_dup.yml":    ruleYAML("a"),
		"dupkey.yml":    ruleYAML("i", "Tests:\n  - Name: t\n    ExpectedResult: true\n    Log: {a: 1, a: 2}"),
		"i.py":          "def rule(e):\n    return True\n",
	})
	_, err := LoadDir(dir)
	if err == nil {
		t.Fatal("LoadDir succeeded, want errors")
	}
	msg := err.Error()
	t.Log(msg)
	// One problem a line, and every line says which file it is about.
	for _, line := range strings.Split(msg, "\n") {
		if !strings.HasPrefix(line, "load rule "+dir) {
			t.Errorf("line does not name its file: %q", line)
		}
	}
	for _, want := range []struct{ file, text string }{
		{"unknown_key.yml", `unknown key "Treshold"`},
		{"syntax.yml", "b.py:2:1"},
		{"norule.yml", "no rule(event) function"},
		{filepath.Join("sub", "dir", "badsev.yml"), `unknown severity "Urgent"`},
		{"badyaml.yml", "yaml"},
		{"missing.yml", "nowhere.py"},
		{"nologtype.yml", "LogTypes is required"},
		{"testkey.yml", `unknown key "Expected" in Tests[0]`},
		{"arity.yml", "title must take one argument"},
		{"zz_dup.yml", `RuleID "a" is already used`},
		{"dupkey.yml", `key "a" given twice`},
	} {
		line := lineWith(msg, filepath.Join(dir, want.file)+":")
		if line == "" {
			t.Errorf("no problem reported for %s", want.file)
			continue
		}
		if !strings.Contains(line, want.text) {
			t.Errorf("%s: got %q, want it to mention %q", want.file, line, want.text)
		}
	}
}

func lineWith(s, sub string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func TestLoadSharedHelperAndCycle(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"r.yml":          ruleYAML("r"),
		"r.py":           "load('lib/helpers.py', 'is_hit')\ndef rule(e):\n    return is_hit(e)\n",
		"lib/helpers.py": "def is_hit(e):\n    return e.get('hit') == True\n",
	})
	rs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m, errs := eval(t, rs, map[string]any{"hit": true}); len(m) != 1 || len(errs) != 0 {
		t.Errorf("rule using a loaded helper: %d matches, errors %v", len(m), errs)
	}

	cyc := writeFiles(t, map[string]string{
		"r.yml": ruleYAML("r"),
		"r.py":  "load('a.py', 'x')\ndef rule(e):\n    return True\n",
		"a.py":  "load('b.py', 'y')\nx = 1\n",
		"b.py":  "load('a.py', 'x')\ny = 1\n",
	})
	if _, err := LoadDir(cyc); err == nil || !strings.Contains(err.Error(), "load cycle") {
		t.Errorf("load cycle: got %v", err)
	}
}

func TestLoadRunawayModuleCode(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"r.yml": ruleYAML("r"),
		"r.py":  "n = 0\nwhile True:\n    n += 1\ndef rule(e):\n    return True\n",
	})
	_, err := LoadDir(dir)
	// Which limit trips first depends on the machine (and -race).
	if err == nil || !(strings.Contains(err.Error(), ErrStepLimit.Error()) || strings.Contains(err.Error(), ErrTimeout.Error())) {
		t.Errorf("runaway top-level code: got %v, want a limit error", err)
	}
}

func TestLoadNeedsADirectory(t *testing.T) {
	if _, err := LoadDir(); err == nil {
		t.Error("LoadDir() with no directories succeeded")
	}
	if _, err := LoadDir(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("LoadDir of a missing directory succeeded")
	}
}

package ruleengine

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/upstream"
)

// panther-analysis as published: its rules with the helpers and data models
// beside them, tested as they are. At least 90% of the rules pass every
// test; each that does not is listed with its reason; the run goes on past
// every failure.
func TestPantherAnalysisRulesPassTheirTests(t *testing.T) {
	pa := upstream.Path(t, "panther-analysis")
	var out bytes.Buffer
	sum, err := RunTests(context.Background(), &out, Options{},
		filepath.Join(pa, "rules"), filepath.Join(pa, "global_helpers"), filepath.Join(pa, "data_models"))
	report := out.String()
	t.Log("\n" + report[max(0, strings.Index(report, "Panther CLI Test Summary")):])
	if err != nil {
		t.Fatal(err)
	}
	rules := sum.RulesPassed + sum.RulesFailed + sum.RulesSkipped
	if rules < 89 {
		t.Fatalf("%d rules found, want the sample's 89 (and 2 other analysis types skipped)", rules)
	}
	if sum.RulesPassed*100 < 90*rules {
		t.Errorf("%d of %d rules pass all their tests, want at least 90%%", sum.RulesPassed, rules)
	}
	// Every failed rule is named with a reason in the summary.
	section := report[strings.Index(report, "Failed Tests Summary"):]
	section = section[:strings.Index(section, "\n\n")]
	failed := regexp.MustCompile(`(?m)^\t(\S+): (.+)$`).FindAllStringSubmatch(section, -1)
	if len(failed) != sum.RulesFailed {
		t.Errorf("%d failed rules listed, %d counted", len(failed), sum.RulesFailed)
	}
	if !strings.Contains(report, "skipped, AnalysisType correlation_rule") || !strings.Contains(report, "skipped, AnalysisType scheduled_rule") {
		t.Error("the correlation and scheduled rules are not noted as skipped")
	}
	if !strings.Contains(report, "\t[PASS] [rule] true") || !strings.Contains(report, "\t[PASS] [title] ") {
		t.Error("the report lacks panther_analysis_tool's per-function lines")
	}
	line := regexp.MustCompile(`(\d+) rules: (\d+) passed, (\d+) failed \((\d+) did not load\), (\d+) skipped; (\d+) tests: (\d+) passed, (\d+) failed, (\d+) skipped`).FindStringSubmatch(report)
	if line == nil || line[2] != strconv.Itoa(sum.RulesPassed) {
		t.Errorf("summary line missing or wrong: %q", line)
	}
}

// The example of Panther's alert-destinations page passes its tests, with
// the helpers it imports beside it; without them, the report says where
// helpers come from.
func TestSeedExamplePasses(t *testing.T) {
	pa := upstream.Path(t, "panther-analysis")
	var out bytes.Buffer
	sum, err := RunTests(context.Background(), &out, Options{}, filepath.Join(pa, "seed-example"), filepath.Join(pa, "global_helpers"))
	if err != nil || sum.Failed() || sum.RulesPassed != 1 || sum.TestsPassed != 3 {
		t.Fatalf("%+v %v\n%s", sum, err, out.String())
	}
	if !strings.Contains(out.String(), `[PASS] [destinations] ["dev-alert-destinations","tines-okta-user-lock-out"]`) {
		t.Errorf("destinations not reported:\n%s", out.String())
	}
	out.Reset()
	sum, err = RunTests(context.Background(), &out, Options{}, filepath.Join(pa, "seed-example"))
	if err != nil || !sum.Failed() || sum.RulesInvalid != 1 || !strings.Contains(out.String(), "global_helpers/") {
		t.Errorf("without helpers: %+v %v\n%s", sum, err, out.String())
	}
}

const panthersKeys = `AnalysisType: rule
RuleID: Test.All
DisplayName: All keys
Enabled: true
Filename: all.py
LogTypes: [Test.Log, Other.Log]
Severity: Low
Threshold: 3
DedupPeriodMinutes: 15
Tags: [a]
Reports: {MITRE ATT&CK: ["TA0006:T1110"]}
SummaryAttributes: [p_any_ip_addresses]
Runbook: look
Reference: https://example.com/ref
Description: about it
CreateAlert: false
Status: experimental
OutputIds: [sec-jira]
Tests:
  - Name: mocked
    ExpectedResult: true
    LogType: Other.Log
    Mocks:
      - objectName: lookup
        returnValue: '{"city": "Mocked"}'
    Log: {eventType: x, when: 2024-01-02T03:04:05Z}
`

// Panther's metadata keys load; a test's Mocks replace names in the rule's
// module and its LogType picks the data model.
func TestLoadReadsPanthersMetadata(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "all", panthersKeys, `import json

def lookup(ip):
    raise RuntimeError("no lookup table here")

def rule(event):
    return event.get("p_log_type") == "Other.Log" and event.udm("kind") == "x"

def alert_context(event):
    return {"city": json.loads(lookup("1.2.3.4"))["city"], "when": event.get("when")}
`)
	writeRule(t, dir, "model", "AnalysisType: datamodel\nDataModelID: M\nLogTypes: [Other.Log]\nMappings:\n  - Name: kind\n    Path: $.eventType\n", "")
	rs := loadTemp(t, dir)
	r := rs.Rule("Test.All")
	if r == nil {
		t.Fatal("not loaded")
	}
	if r.CreateAlert || r.Threshold != 3 || r.DedupPeriod != 15*time.Minute || r.Status != "experimental" ||
		len(r.SummaryAttributes) != 1 || r.Reports["MITRE ATT&CK"] == nil || r.Reference != "https://example.com/ref" {
		t.Errorf("metadata: %+v", r)
	}
	tc := r.Tests[0]
	if tc.LogType != "Other.Log" || len(tc.Mocks) != 1 || tc.Mocks[0].ReturnValue != `{"city": "Mocked"}` {
		t.Errorf("test: %+v", tc)
	}
	if s, ok := tc.Log["when"].(string); !ok || s != "2024-01-02T03:04:05Z" {
		t.Errorf("Log.when %#v: a timestamp stays the string JSON would give", tc.Log["when"])
	}
	var out bytes.Buffer
	sum, err := RunTests(context.Background(), &out, Options{}, dir)
	if err != nil || sum.Failed() || sum.TestsPassed != 1 {
		t.Fatalf("%+v %v\n%s", sum, err, out.String())
	}
	if !strings.Contains(out.String(), `"city":"Mocked"`) {
		t.Errorf("the mock did not reach alert_context:\n%s", out.String())
	}
}

// One run reports every problem, each rule on its own: bad metadata (with
// a hint for a misspelt key), Python that does not compile, a missing
// helper; the good rule beside them still passes, and files that are not
// rules are not taken for rules.
func TestRunTestsReportsEachRuleOnItsOwn(t *testing.T) {
	dir := t.TempDir()
	good := "AnalysisType: rule\nRuleID: %s\nFilename: %s.py\nLogTypes: [T]\nSeverity: High\nTests:\n  - Name: t\n    ExpectedResult: true\n    Log: {a: 1}\n"
	writeRule(t, dir, "good", strings.ReplaceAll(strings.Replace(good, "%s", "Good", 1), "%s", "good"),
		"from helper import one\n\ndef rule(event):\n    return event.get('a') == one()\n")
	writeRule(t, dir, "helper", "AnalysisType: global\nGlobalID: helper\nFilename: helper.py\n", "def one():\n    return 1\n")
	writeRule(t, dir, "typo", strings.Replace(strings.ReplaceAll(strings.Replace(good, "%s", "Typo", 1), "%s", "typo"), "Severity", "Treshold: 2\nSeverity", 1),
		"def rule(event):\n    return True\n")
	writeRule(t, dir, "syntax", strings.ReplaceAll(strings.Replace(good, "%s", "Syntax", 1), "%s", "syntax"), "def rule(event)\n    return True\n")
	writeRule(t, dir, "missing", strings.ReplaceAll(strings.Replace(good, "%s", "Missing", 1), "%s", "missing"),
		"from panther_nothing_helpers import x\n\ndef rule(event):\n    return True\n")
	writeRule(t, dir, "wrong", strings.ReplaceAll(strings.Replace(good, "%s", "Wrong", 1), "%s", "wrong"),
		"def rule(event):\n    return False\n")
	writeRule(t, dir, "policy", "AnalysisType: policy\nPolicyID: P\nFilename: p.py\n", "")

	var out bytes.Buffer
	sum, err := RunTests(context.Background(), &out, Options{}, dir)
	report := out.String()
	if err != nil {
		t.Fatal(err)
	}
	if sum.RulesPassed != 1 || sum.RulesFailed != 4 || sum.RulesInvalid != 3 || sum.TestsPassed != 1 || sum.TestsFailed != 1 || !sum.Failed() {
		t.Errorf("summary %+v\n%s", sum, report)
	}
	for _, want := range []string{
		`unknown key "Treshold" (did you mean "Threshold"?)`,
		"SyntaxError",
		"No module named 'panther_nothing_helpers'",
		"global_helpers/",
		"Wrong: 1 of 1 tests failed; first \"t\": rule() returned false, want true",
		"policy.yml: skipped, AnalysisType policy",
		"5 rules: 1 passed, 4 failed (3 did not load), 0 skipped; 5 tests: 1 passed, 1 failed, 3 skipped",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Count(report, "known keys") != 0 {
		t.Error("an unknown key lists every known key")
	}
	// serve's loader refuses the same directory, naming each problem.
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "typo.yml") || !strings.Contains(err.Error(), "syntax.yml") {
		t.Errorf("LoadDir: %v", err)
	}
}

// The event a rule sees behaves as Panther's: deep_get, deep_walk, udm by
// Path and by Method, get with a case-insensitive fallback, to_dict, the
// p_ fields; and every Panther function's result reaches the match.
func TestEventAndFunctionsBehaveAsPanthers(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "model", `AnalysisType: datamodel
DataModelID: Test.Model
LogTypes: [Test.Log]
Filename: model.py
Mappings:
  - Name: actor_user
    Path: $.actor.alternateId
  - Name: first_target
    Path: $.target[0].id
  - Name: shout
    Method: shout
`, "def shout(event):\n    return event.get('eventType', '').upper()\n")
	writeRule(t, dir, "r", "AnalysisType: rule\nRuleID: R\nFilename: r.py\nLogTypes: [Test.Log]\nSeverity: Medium\nDisplayName: Shown\n", `
def rule(event):
    return event.deep_get("actor", "alternateId") == "a@example.com"

def title(event):
    return f"{event.udm('actor_user')} did {event.udm('shout')}"

def dedup(event):
    return event.udm("first_target")

def severity(event):
    return "DEFAULT" if event.get("eventtype") == "x" else "critical"

def destinations(event):
    return ["one", "two"]

def runbook(event):
    return "rb"

def description(event):
    return "desc"

def alert_context(event):
    return {
        "walk": event.deep_walk("target", "id"),
        "first": event.deep_walk("target", "id", return_val="first"),
        "ci": event.get("EVENTTYPE"),
        "missing": event.deep_get("no", "such", default="d"),
        "dict": type(event.to_dict()).__name__,
        "log_type": event.get("p_log_type"),
        "event_time": event.get("p_event_time"),
        "row_id": event.get("p_row_id"),
        "ips": event.get("p_any_ip_addresses"),
        "emails": event.get("p_any_emails"),
        "unmapped": event.udm("nothing", default="none"),
        "readonly": _readonly(event),
    }

def _readonly(event):
    try:
        event.get("target").append(1)
    except TypeError:
        return True
    return False
`)
	rs := loadTemp(t, dir)
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	data := map[string]any{"actor": map[string]any{"alternateId": "a@example.com"}, "eventType": "x",
		"client": map[string]any{"ipAddress": "198.51.100.7"}, "target": []any{map[string]any{"id": "t1"}, map[string]any{"id": "t2"}}}
	m, errs := rs.Evaluate(context.Background(), Event{LogType: "Test.Log", Data: data, Time: at, ID: "ev-1"})
	if len(errs) != 0 || len(m) != 1 {
		t.Fatalf("matches %v, errors %v", m, errs)
	}
	got := m[0]
	if got.Title != "a@example.com did X" || got.Dedup != "t1" || got.Severity != alert.SeverityMedium || got.GeneratedSeverity ||
		strings.Join(got.Destinations, ",") != "one,two" || got.Runbook != "rb" || got.Description != "desc" {
		t.Errorf("match: %+v", got)
	}
	var ctx map[string]any
	if err := json.Unmarshal(got.Context, &ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"walk": []any{"t1", "t2"}, "first": "t1", "ci": "x", "missing": "d", "dict": "dict",
		"log_type": "Test.Log", "event_time": "2026-11-20 10:00:00.000000000", "row_id": "ev-1",
		"ips": []any{"198.51.100.7"}, "emails": []any{"a@example.com"}, "unmapped": "none", "readonly": true,
	}
	for k, v := range want {
		if g, _ := json.Marshal(ctx[k]); string(g) != mustJSON(v) {
			t.Errorf("alert_context[%s] = %s, want %s", k, g, mustJSON(v))
		}
	}
	if _, ok := data["p_log_type"]; ok {
		t.Error("the caller's event was changed")
	}
	// severity() other than DEFAULT is the generated severity.
	data["eventType"] = "y"
	m, _ = rs.Evaluate(context.Background(), Event{LogType: "Test.Log", Data: data})
	if len(m) != 1 || m[0].Severity != alert.SeverityCritical || !m[0].GeneratedSeverity {
		t.Errorf("generated severity: %+v", m)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// A failing optional function costs the match its value, not the match; a
// failing rule() costs the match; both are RuleErrors with the traceback.
func TestFunctionErrors(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "r", "AnalysisType: rule\nRuleID: R\nFilename: r.py\nLogTypes: [T]\nSeverity: High\nDisplayName: Fallback\n", `
def rule(event):
    if event.get("boom"):
        raise ValueError("bad event")
    return True

def title(event):
    return event["no_such_key"]

def alert_context(event):
    return {"x": object()}
`)
	rs := loadTemp(t, dir)
	m, errs := rs.Evaluate(context.Background(), Event{LogType: "T", Data: map[string]any{}})
	if len(m) != 1 || m[0].Title != "Fallback" || m[0].Context != nil || len(errs) != 2 {
		t.Fatalf("matches %+v, errors %v", m, errs)
	}
	if errs[0].Function != "title" || !strings.Contains(errs[0].Err.Error(), "KeyError") || !strings.Contains(errs[0].Traceback, "r.py") {
		t.Errorf("title error %+v", errs[0])
	}
	if errs[1].Function != "alert_context" || !strings.Contains(errs[1].Err.Error(), "JSON") {
		t.Errorf("alert_context error %+v", errs[1])
	}
	m, errs = rs.Evaluate(context.Background(), Event{LogType: "T", Data: map[string]any{"boom": true}, ID: "e9"})
	if len(m) != 0 || len(errs) != 1 || errs[0].Function != "rule" || errs[0].EventID != "e9" || !strings.Contains(errs[0].Err.Error(), "ValueError: bad event") {
		t.Fatalf("rule error: %v %v", m, errs)
	}
	a := ErrorAlert(errs[0], time.Now())
	if a.Type != alert.TypeRuleError || !strings.Contains(string(a.Context), "traceback") {
		t.Errorf("error alert %+v", a)
	}
}

func TestLoadNeedsADirectory(t *testing.T) {
	if _, err := LoadDir(); err == nil {
		t.Error("no directories: no error")
	}
	if _, err := LoadDir(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("absent directory: no error")
	}
	f := filepath.Join(t.TempDir(), "x.txt")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(f); err == nil || !strings.Contains(err.Error(), "neither a directory") {
		t.Errorf("a text file: %v", err)
	}
}

// Panther's InlineFilters decide before rule() runs; a condition we do not
// know fails the rule's load rather than being ignored.
func TestInlineFilters(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "f", `AnalysisType: rule
RuleID: F
Filename: f.py
LogTypes: [T]
Severity: Low
InlineFilters:
  All:
    - KeyPath: event.name
      Condition: Equals
      Value: Login
    - Any:
        - KeyPath: src
          Condition: IsIPAddressInCIDR
          Value: 10.0.0.0/8
        - KeyPath: user
          Condition: IsIn
          Values: [alice, bob]
`, "def rule(event):\n    return True\n")
	rs := loadTemp(t, dir)
	for _, tc := range []struct {
		data map[string]any
		want bool
	}{
		{map[string]any{"event": map[string]any{"name": "Login"}, "src": "10.1.2.3"}, true},
		{map[string]any{"event": map[string]any{"name": "Login"}, "src": "8.8.8.8", "user": "bob"}, true},
		{map[string]any{"event": map[string]any{"name": "Login"}, "src": "8.8.8.8", "user": "eve"}, false},
		{map[string]any{"event": map[string]any{"name": "Logout"}, "src": "10.1.2.3"}, false},
	} {
		m, errs := rs.Evaluate(context.Background(), Event{LogType: "T", Data: tc.data})
		if len(errs) != 0 || (len(m) == 1) != tc.want {
			t.Errorf("%v: matches %d, errors %v, want match %t", tc.data, len(m), errs, tc.want)
		}
	}
	bad := t.TempDir()
	writeRule(t, bad, "b", "AnalysisType: rule\nRuleID: B\nFilename: b.py\nLogTypes: [T]\nSeverity: Low\nInlineFilters:\n  All:\n    - {KeyPath: x, Condition: Resembles, Value: y}\n",
		"def rule(event):\n    return True\n")
	if _, err := LoadDir(bad); err == nil || !strings.Contains(err.Error(), "condition 'Resembles' is not supported") {
		t.Errorf("unknown condition: %v", err)
	}
}

package ruleengine

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

func TestToAlert(t *testing.T) {
	r := &Rule{
		ID: "Test.Rule", DisplayName: "Test rule", Severity: alert.SeverityMedium, Threshold: 1,
		DedupPeriod: time.Hour, LogTypes: []string{"Atlassian.Audit"}, OutputIDs: []string{"sec-jira"},
		Tags: []string{"Atlassian"}, Version: "abc123",
	}
	m := Match{
		Rule: r, Title: "something", Dedup: "d", Severity: alert.SeverityHigh, GeneratedSeverity: true,
		Destinations: []string{"soc-hook"}, Context: json.RawMessage(`{"k":"v"}`),
		Runbook: "rb", Description: "desc", EventTime: t0,
	}
	g, out := Fold(nil, m, t0.Add(time.Minute))
	if out != Raise {
		t.Fatal(out)
	}
	a := ToAlert(m, g)
	if a.ID != "Test.Rule" || a.AlertID != g.AlertID || a.Type != alert.TypeRule || a.Source != alert.SourceDetection ||
		a.Status != alert.StatusOpen || a.Title != "something" || a.Name != "Test rule" ||
		a.Severity != alert.SeverityHigh || a.StaticSeverity != alert.SeverityMedium ||
		!slices.Equal(a.Destinations, []string{"soc-hook"}) || !slices.Equal(a.DestinationOverride, []string{"sec-jira"}) ||
		!slices.Equal(a.LogTypes, []string{"Atlassian.Audit"}) || !slices.Equal(a.Tags, []string{"Atlassian"}) ||
		a.Runbook != "rb" || a.Description != "desc" || string(a.Context) != `{"k":"v"}` || a.Version != "abc123" ||
		!a.CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("alert = %+v", a)
	}
	if d := a.Detection; d == nil || d.MatchCount != 1 || !d.FirstSeen.Equal(t0) || !d.LastSeen.Equal(t0) || d.Dedup != "d" {
		t.Errorf("detection = %+v", a.Detection)
	}
	// The alert does not share slices with the rule.
	a.Tags[0] = "changed"
	if r.Tags[0] != "Atlassian" {
		t.Error("alert tags alias the rule's")
	}

	// A static severity is not repeated as StaticSeverity, and tags are
	// never null.
	m.GeneratedSeverity, m.Severity, r.Tags = false, alert.SeverityMedium, nil
	a = ToAlert(m, g)
	if a.StaticSeverity != "" || a.Tags == nil {
		t.Errorf("static severity %q, tags %v", a.StaticSeverity, a.Tags)
	}
}

func TestErrorAlert(t *testing.T) {
	r := &Rule{ID: "Test.Rule", DisplayName: "Test rule", Severity: alert.SeverityHigh, LogTypes: []string{"X"}, Source: "r.py"}
	e := RuleError{Rule: r, Function: "title", Err: errors.New("boom"), EventID: "ev-9"}
	now := time.Date(2024, 3, 1, 12, 10, 0, 0, time.UTC)
	a := ErrorAlert(e, now)
	if a.Type != alert.TypeRuleError || a.ID != "Test.Rule" || a.Severity != alert.SeverityHigh || a.Status != alert.StatusOpen ||
		a.Title != "Rule Test.Rule failed in title(): boom" || len(a.AlertID) != 32 || !a.CreatedAt.Equal(now) {
		t.Errorf("error alert = %+v", a)
	}
	var ctx map[string]string
	if err := json.Unmarshal(a.Context, &ctx); err != nil || ctx["eventId"] != "ev-9" || ctx["function"] != "title" || ctx["error"] != "boom" {
		t.Errorf("context %s (%v)", a.Context, err)
	}

	same := ErrorAlert(e, now.Add(40*time.Minute))
	nextHour := ErrorAlert(e, now.Add(50*time.Minute))
	otherFn := ErrorAlert(RuleError{Rule: r, Function: "dedup", Err: errors.New("boom")}, now)
	otherMsg := ErrorAlert(RuleError{Rule: r, Function: "title", Err: errors.New("bang")}, now)
	if same.AlertID != a.AlertID {
		t.Error("repeats in the same hour should share an alert ID")
	}
	for _, o := range []alert.Alert{nextHour, otherFn, otherMsg} {
		if o.AlertID == a.AlertID {
			t.Errorf("%q shares the alert ID of %q", o.Title, a.Title)
		}
	}
}

// A rule whose title and dedup come from an event holding a NUL or bad
// UTF-8 still raises its alert, with text every database stores.
func TestToAlertCleansText(t *testing.T) {
	r := &Rule{ID: "Test.Rule", Severity: alert.SeverityMedium, Threshold: 1, DedupPeriod: time.Hour}
	m := Match{Rule: r, Title: "login by a\x00b", Dedup: "user\xc0\x80", Severity: alert.SeverityMedium, EventTime: t0,
		Destinations: []string{"x\x00"}}
	g, _ := Fold(nil, m, t0)
	a := ToAlert(m, g)
	if err := a.Validate(); err != nil {
		t.Fatalf("the alert a rule raised does not validate: %v", err)
	}
	if a.Title != "login by a\uFFFDb" {
		t.Errorf("title %q", a.Title)
	}
	e := ErrorAlert(RuleError{Rule: r, Function: "title", Err: errors.New("bad \x00 value")}, t0)
	if err := e.Validate(); err != nil {
		t.Fatalf("a rule error alert does not validate: %v", err)
	}
}

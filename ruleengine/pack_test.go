package ruleengine

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/upstream"
	"github.com/alertbridge/alertbridge/pyrules"
)

// rulesDir is the shipped rule pack, found from this file so the test runs
// from any working directory.
func rulesDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "rules")
}

func loadPack(t testing.TB) *RuleSet {
	t.Helper()
	rs, err := LoadDir(rulesDir(t))
	if err != nil {
		t.Fatalf("load the shipped rules: %v", err)
	}
	t.Cleanup(func() { rs.Close() })
	return rs
}

func TestShippedRulesPassTheirTests(t *testing.T) {
	var out bytes.Buffer
	sum, err := RunTests(context.Background(), &out, Options{}, rulesDir(t))
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if sum.Failed() || sum.RulesPassed < 15 || sum.TestsPassed < 43 || sum.TestsFailed != 0 {
		t.Fatalf("summary %+v, want every rule and test passing", sum)
	}
}

func TestShippedRulesAreComplete(t *testing.T) {
	rs := loadPack(t)
	if n := len(rs.Rules()); n < 12 {
		t.Errorf("%d shipped rules, want at least 12", n)
	}
	for _, r := range rs.Rules() {
		var pos, neg int
		for _, tc := range r.Tests {
			if tc.ExpectedResult {
				pos++
			} else {
				neg++
			}
		}
		if pos == 0 || neg == 0 || r.Runbook == "" || r.Description == "" || r.DisplayName == "" ||
			len(r.LogTypes) != 1 || r.LogTypes[0] != "Atlassian.Audit" {
			t.Errorf("%s: %d positive and %d negative tests, runbook %t, description %t, log types %v",
				r.ID, pos, neg, r.Runbook != "", r.Description != "", r.LogTypes)
		}
	}
}

// realEvents reads the captured audit events: a page of the Organizations
// API's /events, plus the single-event response.
func realEvents(t testing.TB) []map[string]any {
	t.Helper()
	var page struct {
		Data []map[string]any `json:"data"`
	}
	readJSON(t, upstream.Path(t, "atlassian-admin-api", "go-atlassian-mocks", "get-organization-audit-events.json"), &page)
	var one struct {
		Data map[string]any `json:"data"`
	}
	readJSON(t, upstream.Path(t, "atlassian-admin-api", "go-atlassian-mocks", "get-organization-audit-event.json"), &one)
	if len(page.Data) == 0 || one.Data == nil {
		t.Fatal("no captured events")
	}
	// The single-event response repeats one of the page's events.
	events := page.Data
	for _, e := range events {
		if e["id"] == one.Data["id"] {
			return events
		}
	}
	return append(events, one.Data)
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func packEvent(data map[string]any) Event {
	ev := Event{LogType: "Atlassian.Audit", Data: data}
	ev.ID, _ = data["id"].(string)
	if attrs, ok := data["attributes"].(map[string]any); ok {
		if s, ok := attrs["time"].(string); ok {
			ev.Time, _ = time.Parse(time.RFC3339Nano, s)
		}
	}
	return ev
}

// Every real captured event goes through the whole pack without a rule
// error, and the ones our rules are about are caught.
func TestRealEventsThroughThePack(t *testing.T) {
	rs := loadPack(t)
	hits := map[string]int{}
	for _, data := range realEvents(t) {
		ev := packEvent(data)
		matches, errs := rs.Evaluate(context.Background(), ev)
		for _, e := range errs {
			t.Errorf("event %s: %v", ev.ID, e)
		}
		for _, m := range matches {
			hits[m.Rule.ID]++
			var ctx map[string]any
			if err := json.Unmarshal(m.Context, &ctx); err != nil || ctx["eventId"] != ev.ID {
				t.Errorf("%s on %s: alert context %s lacks the event id", m.Rule.ID, ev.ID, m.Context)
			}
		}
	}
	t.Logf("matches by rule: %v", hits)
	for id, want := range map[string]int{
		"Atlassian.Org.AdminAdded":         1, // added_org_admin
		"Atlassian.Org.APITokenCreated":    1, // api_token_created
		"Atlassian.OrgPolicy.Removed":      1, // policy_deleted
		"Atlassian.AuthPolicy.Changed":     1, // domain_auth_policy_changed
		"Atlassian.Users.MassRemoval":      1, // user_removed_from_site
		"Atlassian.User.AddedToAdminGroup": 1, // jira-administrators
	} {
		if hits[id] != want {
			t.Errorf("%s matched %d real events, want %d", id, hits[id], want)
		}
	}
}

// BenchmarkEvaluatePack measures events per second through the whole
// shipped pack over the real captured events, in batches of benchBatch as
// ingest hands them over, with one worker process. Run it pinned to one core
// (taskset -c 0) for the one-core figure; peak-RSS-MiB is the worker's.
func BenchmarkEvaluatePack(b *testing.B) {
	var events []Event
	for _, data := range realEvents(b) {
		events = append(events, packEvent(data))
	}
	benchEvaluate(b, events, rulesDir(b))
}

// BenchmarkEvaluateBoundary is the cost of the process boundary alone: the
// same events through one rule that returns False at once.
func BenchmarkEvaluateBoundary(b *testing.B) {
	dir := b.TempDir()
	writeRule(b, dir, "noop", "AnalysisType: rule\nRuleID: Noop\nFilename: noop.py\nLogTypes: [Atlassian.Audit]\nSeverity: Low\n",
		"def rule(event):\n    return False\n")
	var events []Event
	for _, data := range realEvents(b) {
		events = append(events, packEvent(data))
	}
	benchEvaluate(b, events, dir)
}

// BenchmarkEvaluatePanther measures events per second through the 89 rules
// of the panther-analysis sample (with its helpers and data models), over
// the rules' own test events, each offered to every rule of its log type.
// Rule errors are counted (errors/event), not fatal: two rules need a
// package that is not installed, and a rule may fail on another's event.
func BenchmarkEvaluatePanther(b *testing.B) {
	pa := upstream.Path(b, "panther-analysis")
	dirs := []string{filepath.Join(pa, "rules"), filepath.Join(pa, "global_helpers"), filepath.Join(pa, "data_models")}
	c, err := collect(dirs)
	if err != nil {
		b.Fatal(err)
	}
	var events []Event
	for _, r := range c.rules {
		for _, t := range r.Tests {
			lt := t.LogType
			if lt == "" {
				lt, _ = t.Log["p_log_type"].(string)
			}
			if lt == "" {
				lt = r.LogTypes[0]
			}
			events = append(events, Event{LogType: lt, Data: t.Log})
		}
	}
	b.Logf("%d events from %d rules' tests", len(events), len(c.rules))
	benchEvaluateWith(b, events, true, dirs...)
}

const benchBatch = 100

func benchEvaluate(b *testing.B, events []Event, dirs ...string) {
	benchEvaluateWith(b, events, false, dirs...)
}

func benchEvaluateWith(b *testing.B, events []Event, allowErrors bool, dirs ...string) {
	rs, err := Load(context.Background(), Options{Pool: pyrules.Config{Workers: 1, CallTimeout: time.Minute}}, dirs...)
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	batch := make([]Event, benchBatch)
	for i := range batch {
		batch[i] = events[i%len(events)]
	}
	// The same-run baseline, interleaved with the measured work so a busy
	// machine slows both alike: decoding the batch's events from JSON.
	raw := make([][]byte, len(batch))
	for i, ev := range batch {
		if raw[i], err = json.Marshal(ev.Data); err != nil {
			b.Fatal(err)
		}
	}
	var decoding, evaluating time.Duration
	ctx := context.Background()
	n, nerrs := 0, 0
	for b.Loop() {
		t0 := time.Now()
		for _, r := range raw {
			var m map[string]any
			if err := json.Unmarshal(r, &m); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		_, errs, err := rs.EvaluateBatch(ctx, batch)
		decoding, evaluating = decoding+t1.Sub(t0), evaluating+time.Since(t1)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range errs {
			if len(e) != 0 && !allowErrors {
				b.Fatal(e)
			}
			nerrs += len(e)
		}
		n += len(batch)
	}
	b.ReportMetric(float64(n)/evaluating.Seconds(), "events/s")
	b.ReportMetric(float64(n)/decoding.Seconds(), "decode-events/s")
	b.ReportMetric(decoding.Seconds()/evaluating.Seconds(), "ratio-to-decode")
	if allowErrors {
		b.ReportMetric(float64(nerrs)/float64(n), "errors/event")
	}
	b.ReportMetric(float64(rs.PeakRSS())/(1<<20), "peak-RSS-MiB")
}

// BenchmarkDecodeEvents is the baseline BenchmarkEvaluatePack is read
// against in the same run: decoding the same events from JSON, the step
// every event pays before any rule sees it. The ratio of the two travels
// between machines better than either figure alone.
func BenchmarkDecodeEvents(b *testing.B) {
	var raw [][]byte
	for _, data := range realEvents(b) {
		buf, err := json.Marshal(data)
		if err != nil {
			b.Fatal(err)
		}
		raw = append(raw, buf)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var m map[string]any
		if err := json.Unmarshal(raw[i%len(raw)], &m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// The threshold rule end to end: ten removals by one admin within 15 minutes
// raise one alert, the eleventh updates it, and a removal an hour later
// starts over.
func TestMassRemovalThresholdEndToEnd(t *testing.T) {
	rs := loadPack(t)
	var removal map[string]any
	for _, e := range realEvents(t) {
		if e["id"] == "d2b25da2-7daa-4796-b6b6-a31fba4bcafe" { // user_removed_from_site
			removal = e
		}
	}
	if removal == nil {
		t.Fatal("captured user_removed_from_site event not found")
	}
	start := time.Date(2021, 3, 3, 0, 52, 0, 0, time.UTC)
	now := start.Add(time.Hour) // processed later: event time is what counts
	var d Deduper
	var alertID string
	for i, tc := range []struct {
		at   time.Duration
		want Outcome
	}{
		{0, Pending}, {time.Minute, Pending}, {2 * time.Minute, Pending}, {3 * time.Minute, Pending},
		{4 * time.Minute, Pending}, {5 * time.Minute, Pending}, {6 * time.Minute, Pending},
		{7 * time.Minute, Pending}, {8 * time.Minute, Pending}, {9 * time.Minute, Raise},
		{14 * time.Minute, Update}, {70 * time.Minute, Pending},
	} {
		ev := packEvent(removal)
		ev.Time = start.Add(tc.at)
		matches, errs := rs.Evaluate(context.Background(), ev)
		if len(errs) != 0 || len(matches) != 1 || matches[0].Rule.ID != "Atlassian.Users.MassRemoval" {
			t.Fatalf("event %d: matches %v, errors %v", i, matches, errs)
		}
		g, out := d.Fold(matches[0], now)
		if out != tc.want {
			t.Fatalf("event %d: %v, want %v", i, out, tc.want)
		}
		switch out {
		case Raise:
			a := ToAlert(matches[0], g)
			if a.Detection.MatchCount != 10 || a.Severity != "HIGH" || !a.Detection.FirstSeen.Equal(start) {
				t.Errorf("raised alert: %+v %+v", a, a.Detection)
			}
			alertID = a.AlertID
		case Update:
			if g.AlertID != alertID || g.Count != 11 {
				t.Errorf("update: alert %s count %d, want %s and 11", g.AlertID, g.Count, alertID)
			}
		}
		if i == 11 && g.AlertID == alertID {
			t.Error("a new period kept the old alert ID")
		}
	}
}

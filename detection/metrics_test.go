package detection_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/store"
)

// pack is a rule pack whose verdicts are known: one rule matches kind
// "a", one fails on kind "b", one reads another log type, one is off.
var pack = map[string]string{
	"match_a.yml": "AnalysisType: rule\nRuleID: Test.MatchA\nEnabled: true\nFilename: match_a.py\nLogTypes: [Test.Log]\nSeverity: High\n",
	"match_a.py":  "def rule(event):\n    return event.get('kind') == 'a'\n",
	"fails_b.yml": "AnalysisType: rule\nRuleID: Test.FailsOnB\nEnabled: true\nFilename: fails_b.py\nLogTypes: [Test.Log]\nSeverity: Low\n",
	// It fails in rule() on "b"; on "c" it matches and then fails in both
	// title() and dedup(), which is one failure of the rule on the event.
	"fails_b.py": "def rule(event):\n    if event.get('kind') == 'b':\n        return 1 // 0\n    return event.get('kind') == 'c'\n\n" +
		"def title(event):\n    return 1 // 0\n\ndef dedup(event):\n    return 1 // 0\n",
	"other.yml": "AnalysisType: rule\nRuleID: Test.OtherLog\nEnabled: true\nFilename: other.py\nLogTypes: [Other.Log]\nSeverity: Low\n",
	"other.py":  "def rule(event):\n    return True\n",
	"off.yml":   "AnalysisType: rule\nRuleID: Test.Off\nEnabled: false\nFilename: off.py\nLogTypes: [Test.Log]\nSeverity: Low\n",
	"off.py":    "def rule(event):\n    return True\n",
}

func loadPack(t *testing.T) *ruleengine.RuleSet {
	t.Helper()
	dir := t.TempDir()
	for name, body := range pack {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := ruleengine.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	return rs
}

// newService is a store of the driver and the alert service over it, with
// a jobs layer that is never started: deliveries stay queued.
func newService(t *testing.T, driver string) (store.Store, *lifecycle.Service) {
	t.Helper()
	st := testdb.Open(t, driver)
	jl, err := jobs.New(context.Background(), jobs.Config{DB: st.Handle(), Queues: map[string]int{delivery.Queue: 1}})
	if err != nil {
		t.Fatal(err)
	}
	svc := lifecycle.New(st, delivery.New(jl, st, delivery.Config{}), nil, lifecycle.Options{})
	t.Cleanup(svc.Close)
	return st, svc
}

func events(kinds ...string) []ruleengine.Event {
	now := time.Now().UTC()
	out := make([]ruleengine.Event, len(kinds))
	for i, k := range kinds {
		out[i] = detection.NewEvent("Test.Log", map[string]any{"id": "e-" + k + "-" + string(rune('0'+i)), "kind": k}, now)
	}
	return out
}

// Every rule that reads an event counts one evaluation of it; matches and
// failures count per event; events a source reads again are not counted
// again, though their evaluation is timed.
func TestRuleMetrics(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st, svc := newService(t, driver)
		rs := loadPack(t)
		reg := prometheus.NewRegistry()
		p := detection.New(detection.Config{Rules: rs, Service: svc, Metrics: detection.NewMetrics(reg, rs)})

		const zero = `
# HELP alertbridge_rule_errors_total Events on which a detection rule failed (rule() or one of its optional functions), by rule.
# TYPE alertbridge_rule_errors_total counter
alertbridge_rule_errors_total{rule="Test.FailsOnB"} 0
alertbridge_rule_errors_total{rule="Test.MatchA"} 0
alertbridge_rule_errors_total{rule="Test.OtherLog"} 0
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(zero), "alertbridge_rule_errors_total"); err != nil {
			t.Errorf("before any event: %v", err)
		}

		st1, err := p.Process(ctx, events("a", "a", "b", "c", "d"))
		if err != nil {
			t.Fatal(err)
		}
		if st1.Matches != 3 || st1.RuleErrors != 3 {
			t.Fatalf("stats = %+v", st1)
		}
		// A source's batch, then the same events read again.
		batch := events("a", "b")
		for range 2 {
			ev, err := p.Evaluate(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			var got detection.Stats
			if err := st.InTx(ctx, func(tx store.Tx) (err error) {
				got, err = p.ApplyTx(ctx, tx, "src", ev)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			p.Record(got)
		}

		want := `
# HELP alertbridge_rule_errors_total Events on which a detection rule failed (rule() or one of its optional functions), by rule.
# TYPE alertbridge_rule_errors_total counter
alertbridge_rule_errors_total{rule="Test.FailsOnB"} 3
alertbridge_rule_errors_total{rule="Test.MatchA"} 0
alertbridge_rule_errors_total{rule="Test.OtherLog"} 0
# HELP alertbridge_rule_evaluations_total Events a detection rule was run on, by rule (new events only: a source's re-reads are not counted).
# TYPE alertbridge_rule_evaluations_total counter
alertbridge_rule_evaluations_total{rule="Test.FailsOnB"} 7
alertbridge_rule_evaluations_total{rule="Test.MatchA"} 7
alertbridge_rule_evaluations_total{rule="Test.OtherLog"} 0
# HELP alertbridge_rule_matches_total Events a detection rule matched, by rule.
# TYPE alertbridge_rule_matches_total counter
alertbridge_rule_matches_total{rule="Test.FailsOnB"} 1
alertbridge_rule_matches_total{rule="Test.MatchA"} 3
alertbridge_rule_matches_total{rule="Test.OtherLog"} 0
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
			"alertbridge_rule_errors_total", "alertbridge_rule_evaluations_total", "alertbridge_rule_matches_total"); err != nil {
			t.Error(err)
		}
		// Five events, then two twice: nine evaluations timed.
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "alertbridge_rule_evaluation_seconds" {
				h := mf.GetMetric()[0].GetHistogram()
				if h.GetSampleCount() != 9 || h.GetSampleSum() <= 0 {
					t.Errorf("evaluation time: %d samples, %gs", h.GetSampleCount(), h.GetSampleSum())
				}
			}
		}
	})
}

// Events no rule reads are not timed: they would only drag the histogram
// to zero.
func TestRuleMetricsSkipUnreadEvents(t *testing.T) {
	rs := loadPack(t)
	reg := prometheus.NewRegistry()
	p := detection.New(detection.Config{Rules: rs, Metrics: detection.NewMetrics(reg, rs)})
	ev := detection.NewEvent("Nobody.Reads", map[string]any{"id": "x"}, time.Now())
	if _, err := p.Evaluate(context.Background(), []ruleengine.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "alertbridge_rule_evaluation_seconds"); n != 1 {
		t.Fatalf("%d histograms", n)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "alertbridge_rule_evaluation_seconds" && mf.GetMetric()[0].GetHistogram().GetSampleCount() != 0 {
			t.Error("an event no rule reads was timed")
		}
	}
}

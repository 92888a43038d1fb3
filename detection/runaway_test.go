package detection_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/pyrules"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/store"
)

// runaways are rules that break their worker on events of kind "bad": one
// loops for ever, one allocates without bound, one ends the process.
var runaways = map[string]string{
	"loop":  "def rule(event):\n    while event.get('kind') == 'bad':\n        pass\n    return False\n",
	"alloc": "def rule(event):\n    hog = []\n    while event.get('kind') == 'bad':\n        hog.append(bytearray(64 << 20))\n    return False\n",
	"exit":  "import os\n\ndef rule(event):\n    if event.get('kind') == 'bad':\n        os._exit(1)\n    return False\n",
	"good":  "def rule(event):\n    return True\n\ndef dedup(event):\n    return event.get('id')\n",
}

// Each runaway rule raises a RULE_ERROR alert, on real CPython, and the
// rule beside them raises its alerts for every event of the batch, before
// and after the bad one.
func TestRunawayRulesRaiseRuleErrorsAndOthersGoOn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dir := t.TempDir()
		for name, code := range runaways {
			yml := "AnalysisType: rule\nRuleID: Runaway." + name + "\nFilename: " + name + ".py\nLogTypes: [Test.Log]\nSeverity: High\n"
			if err := os.WriteFile(filepath.Join(dir, name+".yml"), []byte(yml), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+".py"), []byte(code), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// Three seconds a call: the allocating rule must reach its memory
		// limit (four 64 MiB steps) before its time limit, and on a loaded
		// machine under the race detector one second was not always enough.
		rs, err := ruleengine.Load(ctx, ruleengine.Options{Pool: pyrules.Config{Workers: 1, CallTimeout: 3 * time.Second, Memory: 256 << 20}}, dir)
		if err != nil {
			t.Fatal(err)
		}
		st, svc := newService(t, driver)
		p := detection.New(detection.Config{Rules: rs, Service: svc})
		t.Cleanup(func() { p.Close() })

		stats, err := p.Process(ctx, events("ok", "ok", "bad", "ok"))
		if err != nil {
			t.Fatal(err)
		}
		if stats.Raised != 4 {
			t.Errorf("stats %+v: want the good rule's 4 alerts", stats)
		}
		var alerts []*alert.Alert
		if err := st.InTx(ctx, func(tx store.Tx) (err error) {
			alerts, _, err = tx.ListAlerts(ctx, store.ListQuery{Limit: 100})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		errorsBy, raisedBy := map[string]string{}, map[string]int{}
		for _, a := range alerts {
			switch a.Type {
			case alert.TypeRuleError:
				errorsBy[a.ID] = a.Title
			case alert.TypeRule:
				raisedBy[a.ID]++
			}
		}
		for rule, want := range map[string]string{
			"Runaway.loop":  "time limit exceeded",
			"Runaway.alloc": "MemoryError",
			"Runaway.exit":  "exit status 1",
		} {
			if !strings.Contains(errorsBy[rule], want) {
				t.Errorf("%s: RULE_ERROR alert %q, want one saying %q", rule, errorsBy[rule], want)
			}
		}
		if raisedBy["Runaway.good"] != 4 || len(errorsBy) != 3 {
			t.Errorf("alerts: %d of the good rule, errors %v", raisedBy["Runaway.good"], errorsBy)
		}
		// And the next batch runs on fresh workers, all rules evaluating.
		stats, err = p.Process(ctx, events("fresh"))
		if err != nil || stats.Raised != 1 || stats.RuleErrors != 0 {
			t.Errorf("next batch: %+v, %v", stats, err)
		}
	})
}

// A rule with Panther's CreateAlert: false matches and is counted, and
// raises no alert.
func TestCreateAlertFalseMatchesWithoutAlerting(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dir := t.TempDir()
		for name, body := range map[string]string{
			"quiet.yml": "AnalysisType: rule\nRuleID: Quiet\nFilename: quiet.py\nLogTypes: [Test.Log]\nSeverity: High\nCreateAlert: false\n",
			"quiet.py":  "def rule(event):\n    return True\n",
		} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		rs, err := ruleengine.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		st, svc := newService(t, driver)
		p := detection.New(detection.Config{Rules: rs, Service: svc})
		t.Cleanup(func() { p.Close() })
		stats, err := p.Process(ctx, events("a", "b"))
		if err != nil || stats.Matches != 2 || stats.Raised != 0 || stats.Pending != 0 {
			t.Fatalf("stats %+v, %v", stats, err)
		}
		var alerts []*alert.Alert
		if err := st.InTx(ctx, func(tx store.Tx) (err error) {
			alerts, _, err = tx.ListAlerts(ctx, store.ListQuery{Limit: 10})
			return err
		}); err != nil || len(alerts) != 0 {
			t.Errorf("alerts %v, %v: want none", alerts, err)
		}
	})
}

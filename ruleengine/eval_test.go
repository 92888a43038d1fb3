package ruleengine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

func TestEvaluateDefaults(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    return e['hit']\n", "DisplayName: Something odd", "Runbook: look", "Description: about")
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	m, errs := rs.Evaluate(context.Background(), Event{LogType: "Test.Log", Data: map[string]any{"hit": true}, Time: when, ID: "e1"})
	if len(errs) != 0 || len(m) != 1 {
		t.Fatalf("got %d matches, errors %v", len(m), errs)
	}
	got := m[0]
	if got.Title != "Something odd" || got.Dedup != "Something odd" || got.Severity != alert.SeverityMedium ||
		got.GeneratedSeverity || got.Runbook != "look" || got.Description != "about" || !got.EventTime.Equal(when) ||
		got.Destinations != nil || got.Context != nil || got.Rule.ID != "r" || got.EventID != "e1" {
		t.Errorf("match = %+v", got)
	}

	if m, errs := eval(t, rs, map[string]any{"hit": false}); len(m) != 0 || len(errs) != 0 {
		t.Errorf("non-matching event: %v %v", m, errs)
	}
	// Other log types do not reach the rule.
	if m, errs := rs.Evaluate(context.Background(), Event{LogType: "Other", Data: map[string]any{"hit": true}}); len(m) != 0 || len(errs) != 0 {
		t.Errorf("other log type: %v %v", m, errs)
	}
	// Without a DisplayName the title falls back to the rule ID.
	rs = loadOne(t, "def rule(e):\n    return True\n")
	if m, _ := eval(t, rs, nil); m[0].Title != "r" {
		t.Errorf("title without DisplayName = %q, want the rule ID", m[0].Title)
	}
}

func TestEvaluateGeneratedValues(t *testing.T) {
	rs := loadOne(t, `
def rule(e):
    return True
def title(e):
    return "user %s did it" % deep_get(e, "actor", "name")
def dedup(e):
    return deep_get(e, "actor", "id")
def severity(e):
    return "critical"
def destinations(e):
    return ["sec-jira", "soc-hook"]
def alert_context(e):
    return {"actor": e["actor"], "first_tag": deep_get(e, "tags", 0), "missing": deep_get(e, "x", "y", default="none")}
def runbook(e):
    return "call %s" % e["actor"]["name"]
def description(e):
    return None
`, "Description: static")
	m, errs := eval(t, rs, map[string]any{"actor": map[string]any{"id": "u1", "name": "ann"}, "tags": []any{"t0", "t1"}})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	got := m[0]
	if got.Title != "user ann did it" || got.Dedup != "u1" || got.Severity != alert.SeverityCritical || !got.GeneratedSeverity ||
		strings.Join(got.Destinations, ",") != "sec-jira,soc-hook" || got.Runbook != "call ann" || got.Description != "static" {
		t.Errorf("match = %+v", got)
	}
	var ctx map[string]any
	if err := json.Unmarshal(got.Context, &ctx); err != nil {
		t.Fatalf("context %s: %v", got.Context, err)
	}
	if ctx["first_tag"] != "t0" || ctx["missing"] != "none" || ctx["actor"].(map[string]any)["name"] != "ann" {
		t.Errorf("context = %s", got.Context)
	}
}

func TestEvaluateSeverityDefault(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    return True\ndef severity(e):\n    return 'DEFAULT'\n")
	m, _ := eval(t, rs, nil)
	if m[0].Severity != alert.SeverityMedium || m[0].GeneratedSeverity {
		t.Errorf("DEFAULT severity: %s generated=%v", m[0].Severity, m[0].GeneratedSeverity)
	}
}

// A failing optional function costs its value, not the detection.
func TestEvaluateOptionalFunctionErrorsKeepTheMatch(t *testing.T) {
	rs := loadOne(t, `
def rule(e):
    return True
def title(e):
    return e["absent"]
def severity(e):
    return "SEVERE"
def destinations(e):
    return "sec-jira"
def alert_context(e):
    return ["not", "a", "dict"]
def dedup(e):
    return 42
`, "DisplayName: Shown")
	m, errs := eval(t, rs, nil)
	if len(m) != 1 {
		t.Fatalf("got %d matches, want 1", len(m))
	}
	if m[0].Title != "Shown" || m[0].Dedup != "Shown" || m[0].Severity != alert.SeverityMedium || m[0].Destinations != nil || m[0].Context != nil {
		t.Errorf("defaults not kept: %+v", m[0])
	}
	failed := map[string]string{}
	for _, e := range errs {
		failed[e.Function] = e.Error()
		if e.Rule.ID != "r" || e.EventID != "ev-1" {
			t.Errorf("error %v: rule %s event %q", e, e.Rule.ID, e.EventID)
		}
	}
	for fn, want := range map[string]string{
		"title":         `key "absent" not in dict`,
		"severity":      `unknown severity "SEVERE"`,
		"destinations":  "want a list of str",
		"alert_context": "want dict",
		"dedup":         "returned int, want str",
	} {
		if !strings.Contains(failed[fn], want) {
			t.Errorf("%s error = %q, want it to contain %q", fn, failed[fn], want)
		}
	}
	if !strings.Contains(failed["title"], "r.py:5:") {
		t.Errorf("title error %q does not give the position", failed["title"])
	}
}

func TestEvaluateRuleErrors(t *testing.T) {
	for name, code := range map[string]string{
		"raises":        "def rule(e):\n    fail('boom')\n",
		"wrong type":    "def rule(e):\n    return 'yes'\n",
		"bad attribute": "def rule(e):\n    return e.nothing\n",
	} {
		t.Run(name, func(t *testing.T) {
			rs := loadOne(t, code)
			m, errs := eval(t, rs, nil)
			if len(m) != 0 || len(errs) != 1 || errs[0].Function != "rule" {
				t.Fatalf("got matches %v, errors %v; want one rule() error", m, errs)
			}
		})
	}
}

func TestTitleAndDedupAreTruncated(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    return True\ndef title(e):\n    return 'é' * 1500\n")
	m, _ := eval(t, rs, nil)
	if n := len([]rune(m[0].Title)); n != 1000 {
		t.Errorf("title has %d characters, want 1000", n)
	}
	if n := len([]rune(m[0].Dedup)); n != 1000 {
		t.Errorf("dedup has %d characters, want 1000", n)
	}
}

func TestEventIsReadOnly(t *testing.T) {
	for name, stmt := range map[string]string{
		"set key":        "e['new'] = 1",
		"nested dict":    "e['actor']['name'] = 'mallory'",
		"list append":    "e['tags'].append('x')",
		"dict pop":       "e.pop('actor')",
		"nested via get": "deep_get(e, 'actor').clear()",
	} {
		t.Run(name, func(t *testing.T) {
			rs := loadOne(t, "def rule(e):\n    "+stmt+"\n    return True\n")
			data := map[string]any{"actor": map[string]any{"name": "ann"}, "tags": []any{"a"}}
			m, errs := eval(t, rs, data)
			if len(m) != 0 || len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "frozen") {
				t.Fatalf("mutation allowed: matches %v, errors %v", m, errs)
			}
			if data["actor"].(map[string]any)["name"] != "ann" || len(data["tags"].([]any)) != 1 {
				t.Errorf("Go event changed: %v", data)
			}
		})
	}
}

// Module globals are frozen too, so no rule can carry state from one event
// to the next.
func TestModuleGlobalsAreFrozen(t *testing.T) {
	rs := loadOne(t, "SEEN = []\ndef rule(e):\n    SEEN.append(1)\n    return True\n")
	if _, errs := eval(t, rs, nil); len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "frozen") {
		t.Fatalf("global mutated: %v", errs)
	}
}

func TestEventValueConversion(t *testing.T) {
	rs := loadOne(t, `
def rule(e):
    return (e["int"] == 3 and type(e["int"]) == "int" and e["float"] == 1.5 and
            e["num"] == 7 and e["big"] == 12345678901 and e["nil"] == None and
            e["t"] == "2024-01-02T03:04:05Z" and e["strs"] == ["a", "b"] and
            e["list"][1]["k"] == True and deep_get(e, "list", -1, "k") == True and
            deep_get(e, "list", 5, default = "d") == "d" and deep_get(e, "s", 0) == None)
`)
	data := map[string]any{
		"int": float64(3), "float": 1.5, "num": json.Number("7"), "big": int64(12345678901), "nil": nil,
		"t": time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "strs": []string{"a", "b"},
		"list": []any{map[string]any{"k": false}, map[string]any{"k": true}}, "s": "text",
	}
	if m, errs := eval(t, rs, data); len(m) != 1 || len(errs) != 0 {
		t.Fatalf("conversion: matches %d, errors %v", len(m), errs)
	}
	// A value that is not JSON-like is an error for every rule, not a panic.
	_, errs := eval(t, rs, map[string]any{"ch": make(chan int)})
	if len(errs) != 1 || errs[0].Function != "event" {
		t.Errorf("unconvertible event: %v", errs)
	}
}

func TestEvaluateIsConcurrencySafe(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    return e['n'] % 2 == 0\ndef title(e):\n    return 'n=%d' % e['n']\n")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				n := g*1000 + i
				m, errs := rs.Evaluate(context.Background(), Event{LogType: "Test.Log", Data: map[string]any{"n": float64(n)}})
				if len(errs) != 0 || (len(m) == 1) != (n%2 == 0) {
					t.Errorf("n=%d: matches %v errors %v", n, m, errs)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestPrintIsDiscardedInEvaluation(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    print('noise')\n    return True\n")
	// Starlark's own print writes to stderr; a rule must not reach the
	// service's logs that way.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	m, errs := eval(t, rs, nil)
	os.Stderr = stderr
	w.Close()
	out, _ := io.ReadAll(r)
	if len(m) != 1 || len(errs) != 0 || len(out) != 0 {
		t.Fatalf("matches %v, errors %v, stderr %q", m, errs, out)
	}
}

func TestRuleErrorUnwraps(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    return True\n", "DisplayName: x")
	e := RuleError{Rule: rs.Rule("r"), Function: "rule", Err: ErrStepLimit}
	if !errors.Is(e, ErrStepLimit) {
		t.Error("RuleError does not unwrap to its cause")
	}
}

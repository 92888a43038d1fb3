package ruleengine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// A runaway rule becomes a RULE_ERROR alert, quickly, instead of a hang.
func TestStepLimitBecomesRuleError(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    n = 0\n    while True:\n        n += 1\n")
	rs.Limits = Limits{MaxSteps: 10_000, Timeout: 10 * time.Second}
	start := time.Now()
	m, errs := eval(t, rs, nil)
	if len(m) != 0 || len(errs) != 1 || !errors.Is(errs[0], ErrStepLimit) {
		t.Fatalf("got matches %v, errors %v; want a step limit error", m, errs)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("step limit took %v", d)
	}
	a := ErrorAlert(errs[0], time.Now())
	if a.Type != alert.TypeRuleError || !strings.Contains(a.Title, "step limit") {
		t.Errorf("error alert: type %s, title %q", a.Type, a.Title)
	}
}

func TestTimeoutBecomesRuleError(t *testing.T) {
	// Each step is slow (sorting a big list) so the time limit, not the
	// step limit, is what stops it.
	rs := loadOne(t, `
BIG = list(range(2000))
def rule(e):
    for i in range(1000000):
        sorted(BIG, reverse = True)
    return True
`)
	rs.Limits = Limits{MaxSteps: 1 << 40, Timeout: 50 * time.Millisecond}
	start := time.Now()
	m, errs := eval(t, rs, nil)
	elapsed := time.Since(start)
	if len(m) != 0 || len(errs) != 1 || !errors.Is(errs[0], ErrTimeout) {
		t.Fatalf("got matches %v, errors %v; want a timeout", m, errs)
	}
	if elapsed > 2*time.Second {
		t.Errorf("50ms timeout took %v", elapsed)
	}
	if a := ErrorAlert(errs[0], time.Now()); a.Type != alert.TypeRuleError {
		t.Errorf("error alert type %s", a.Type)
	}
}

func TestDefaultLimitsStopAnInfiniteLoop(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    while True:\n        pass\n")
	done := make(chan []RuleError, 1)
	go func() { _, errs := eval(t, rs, nil); done <- errs }()
	select {
	case errs := <-done:
		if len(errs) != 1 || !(errors.Is(errs[0], ErrStepLimit) || errors.Is(errs[0], ErrTimeout)) {
			t.Fatalf("errors %v, want a limit error", errs)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("infinite loop not stopped by the default limits")
	}
}

// Deep recursion is bounded too (Starlark's recursion is allowed here).
func TestRecursionIsBounded(t *testing.T) {
	rs := loadOne(t, "def f(n):\n    return f(n + 1)\ndef rule(e):\n    return f(0)\n")
	rs.Limits = Limits{MaxSteps: 100_000}
	if _, errs := eval(t, rs, nil); len(errs) != 1 {
		t.Fatalf("errors %v, want one", errs)
	}
}

// The caller's context ends evaluation: the running rule fails with the
// context's error (so the caller can tell it from a rule's fault) and the
// rest are skipped.
func TestCallerContextCancels(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yml": ruleYAML("a"), "a.py": "def rule(e):\n    while True:\n        pass\n",
		"b.yml": ruleYAML("b"), "b.py": "def rule(e):\n    return True\n",
	})
	rs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rs.Limits = Limits{MaxSteps: 1 << 40, Timeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	m, errs := rs.Evaluate(ctx, Event{LogType: "Test.Log"})
	if len(m) != 0 || len(errs) != 1 || !errors.Is(errs[0], context.Canceled) || errs[0].Rule.ID != "a" {
		t.Fatalf("matches %v, errors %v; want only a's cancellation", m, errs)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, errs = rs.Evaluate(ctx, Event{LogType: "Test.Log"})
	if len(errs) != 1 || !errors.Is(errs[0], context.DeadlineExceeded) {
		t.Fatalf("errors %v, want the caller's deadline", errs)
	}
}

// A call stopped by a limit leaves nothing behind for the next rule: it runs
// on a clean thread and matches.
func TestRuleAfterATimeoutRunsNormally(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yml": ruleYAML("a"), "a.py": "def rule(e):\n    while True:\n        sorted(range(500))\n",
		"b.yml": ruleYAML("b"), "b.py": "def rule(e):\n    return True\ndef title(e):\n    return 'b ran'\n",
	})
	rs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rs.Limits = Limits{MaxSteps: 1 << 40, Timeout: 30 * time.Millisecond}
	for range 3 {
		m, errs := eval(t, rs, nil)
		if len(errs) != 1 || errs[0].Rule.ID != "a" || !errors.Is(errs[0], ErrTimeout) {
			t.Fatalf("errors %v, want a's timeout only", errs)
		}
		if len(m) != 1 || m[0].Title != "b ran" {
			t.Fatalf("matches %v, want b's", m)
		}
	}
}

package ruleengine

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// RunTests loads the rules under dirs and runs the unit tests in their YAML,
// writing a line per test and a summary to w. It returns how many tests
// failed; err is for rules that would not load (and for a failed write), and
// means the caller should exit non-zero whatever failed says. Tests run for
// disabled rules too: disabling a rule is no reason to let it rot.
func RunTests(ctx context.Context, w io.Writer, dirs ...string) (failed int, err error) {
	rs, err := LoadDir(dirs...)
	if err != nil {
		return 0, err
	}
	// Tests keep the production step limit, which is deterministic, but get
	// a looser clock: a busy CI machine can stall a call past 100ms of wall
	// time without the rule being at fault.
	rs.Limits.Timeout = testTimeout
	out := &errWriter{w: w}
	tests := 0
	for _, r := range rs.rules {
		if len(r.Tests) == 0 {
			out.printf("NOTE %s: no tests\n", r.ID)
		}
		for _, t := range r.Tests {
			tests++
			var printed []string
			problems := rs.runTest(ctx, r, t, func(s string) { printed = append(printed, s) })
			if len(problems) == 0 {
				out.printf("PASS %s: %s\n", r.ID, t.Name)
				continue
			}
			failed++
			out.printf("FAIL %s: %s: %s\n", r.ID, t.Name, strings.Join(problems, "; "))
			// print() output helps only when something is wrong.
			for _, p := range printed {
				out.printf("    print: %s\n", p)
			}
		}
	}
	out.printf("%d rules, %d tests, %d failed\n", len(rs.rules), tests, failed)
	return failed, out.err
}

const testTimeout = time.Second

// runTest returns what is wrong with one test's outcome, or nothing.
func (rs *RuleSet) runTest(ctx context.Context, r *Rule, t Test, print func(string)) []string {
	event, err := toStarlark(t.Log)
	if err != nil {
		return []string{fmt.Sprintf("cannot use Log as an event: %v", err)}
	}
	e := newEvaluator(newRunner(ctx, rs.Limits, print), event, Event{LogType: r.LogTypes[0], Data: t.Log})
	m, hit, errs := e.evalRule(r)

	var problems []string
	// Any function error fails the test: in production it would be a
	// RULE_ERROR alert.
	for _, e := range errs {
		p := fmt.Sprintf("%s() failed: %v", e.Function, e.Err)
		if e.Position != "" {
			p += " (at " + e.Position + ")"
		}
		problems = append(problems, p)
	}
	ruleFailed := slices.ContainsFunc(errs, func(e RuleError) bool { return e.Function == fnRule })
	if !ruleFailed && hit != t.ExpectedResult {
		problems = append(problems, fmt.Sprintf("rule() returned %t, want %t", hit, t.ExpectedResult))
	}
	if !hit {
		return problems
	}
	if t.ExpectedTitle != nil && m.Title != *t.ExpectedTitle {
		problems = append(problems, fmt.Sprintf("title is %q, want %q", m.Title, *t.ExpectedTitle))
	}
	if t.ExpectedSeverity != nil && m.Severity != *t.ExpectedSeverity {
		problems = append(problems, fmt.Sprintf("severity is %s, want %s", m.Severity, *t.ExpectedSeverity))
	}
	if t.ExpectedDedup != nil && m.Dedup != *t.ExpectedDedup {
		problems = append(problems, fmt.Sprintf("dedup is %q, want %q", m.Dedup, *t.ExpectedDedup))
	}
	if t.ExpectedDestinations != nil && !slices.Equal(m.Destinations, t.ExpectedDestinations) {
		problems = append(problems, fmt.Sprintf("destinations are %q, want %q", m.Destinations, t.ExpectedDestinations))
	}
	return problems
}

// errWriter keeps the first write error so the report can be written
// without checking every line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

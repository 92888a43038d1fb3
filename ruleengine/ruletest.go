package ruleengine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// TestSummary counts what RunTests did.
type TestSummary struct {
	RulesPassed, RulesFailed, RulesSkipped int // skipped: no tests
	RulesInvalid                           int // did not load (counted in RulesFailed too)
	TestsPassed, TestsFailed, TestsSkipped int
	FilesInvalid                           int // helper, data model or other files that do not load
}

// Failed says whether anything failed or did not load.
func (s TestSummary) Failed() bool { return s.RulesFailed > 0 || s.FilesInvalid > 0 }

// RunTests loads the analysis files under dirs and runs each rule's unit
// tests with their mocks, writing a report in panther_analysis_tool test's
// shape: a block per rule with a line per test and per function checked,
// then the summary, the failed rules each with its reason, and a summary
// line. A rule that does not load is one failure among the others, never the
// end of the run. err is only for a run that could not start (no python3,
// no directories) or a failed write. Tests run for disabled rules too:
// disabling a rule is no reason to let it rot.
func RunTests(ctx context.Context, w io.Writer, opts Options, dirs ...string) (TestSummary, error) {
	var sum TestSummary
	c, err := collect(dirs)
	if err != nil {
		return sum, err
	}
	rs, err := c.start(ctx, opts)
	if err != nil {
		return sum, err
	}
	defer rs.Close()
	out := &errWriter{w: w}
	out.printf("[INFO]: Testing analysis items in %s\n\n", strings.Join(dirs, ", "))
	for _, n := range rs.notes {
		out.printf("[NOTE]: %s\n", n)
	}
	if len(rs.notes) > 0 {
		out.printf("\n")
	}

	type failure struct{ id, reason string }
	var failures []failure
	for _, r := range sortedRules(c.rules) {
		if problems := c.ruleProblems[r]; len(problems) > 0 {
			sum.RulesFailed++
			sum.RulesInvalid++
			sum.TestsSkipped += len(r.Tests)
			out.printf("%s\n\t[INVALID] %s\n\n", r.ID, indent(strings.Join(problems, "\n"), "\t\t"))
			failures = append(failures, failure{r.ID, "does not load: " + firstLine(problems[0])})
			continue
		}
		out.printf("%s\n", r.ID)
		if len(r.Tests) == 0 {
			sum.RulesSkipped++
			out.printf("\t[SKIP] no tests\n\n")
			continue
		}
		failedTests := 0
		firstReason := ""
		for _, t := range r.Tests {
			lines, problems, err := rs.runTest(ctx, r, t)
			if err != nil {
				return sum, err
			}
			verdict := "PASS"
			if len(problems) > 0 {
				verdict = "FAIL"
				failedTests++
				sum.TestsFailed++
				if firstReason == "" {
					firstReason = fmt.Sprintf("%q: %s", t.Name, problems[0])
				}
			} else {
				sum.TestsPassed++
			}
			out.printf("\t[%s] %s\n", verdict, t.Name)
			for _, l := range lines {
				out.printf("\t\t%s\n", l)
			}
		}
		out.printf("\n")
		if failedTests > 0 {
			sum.RulesFailed++
			failures = append(failures, failure{r.ID, fmt.Sprintf("%d of %d tests failed; first %s", failedTests, len(r.Tests), firstReason)})
		} else {
			sum.RulesPassed++
		}
	}
	for _, p := range c.problems {
		out.printf("[INVALID] %v\n", p)
	}
	sum.FilesInvalid = len(c.problems)

	out.printf("--------------------------\nPanther CLI Test Summary\n\tPath: %s\n\tPassed: %d\n\tFailed: %d\n\tInvalid: %d\n\n",
		strings.Join(dirs, ", "), sum.RulesPassed, sum.RulesFailed-sum.RulesInvalid, sum.RulesInvalid+len(c.problems))
	if len(failures) > 0 {
		out.printf("--------------------------\nFailed Tests Summary\n")
		for _, f := range failures {
			out.printf("\t%s: %s\n", f.id, f.reason)
		}
		out.printf("\n")
	}
	total := sum.RulesPassed + sum.RulesFailed + sum.RulesSkipped
	out.printf("%d rules: %d passed, %d failed (%d did not load), %d skipped; %d tests: %d passed, %d failed, %d skipped\n",
		total, sum.RulesPassed, sum.RulesFailed, sum.RulesInvalid, sum.RulesSkipped,
		sum.TestsPassed+sum.TestsFailed+sum.TestsSkipped, sum.TestsPassed, sum.TestsFailed, sum.TestsSkipped)
	if sum.FilesInvalid > 0 {
		out.printf("%d other analysis files do not load (listed as [INVALID] above)\n", sum.FilesInvalid)
	}
	return sum, out.err
}

func sortedRules(rules []*Rule) []*Rule {
	s := slices.Clone(rules)
	slices.SortFunc(s, func(a, b *Rule) int { return strings.Compare(a.ID, b.ID) })
	return s
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// runTest runs one test and returns the report's lines for it and what is
// wrong with its outcome (nothing when it passed).
func (rs *RuleSet) runTest(ctx context.Context, r *Rule, t Test) (lines, problems []string, err error) {
	logType := t.LogType
	if logType == "" {
		if lt, ok := t.Log["p_log_type"].(string); ok {
			logType = lt
		} else {
			logType = r.LogTypes[0]
		}
	}
	log := t.Log
	if _, ok := log["p_log_type"]; !ok {
		log = maps.Clone(log)
		log["p_log_type"] = logType
	}
	o, err := rs.pool.Test(ctx, r.idx, logType, log, t.Mocks)
	if err != nil {
		return nil, nil, err
	}
	m, hit, errs := r.match(Event{LogType: logType, Data: log}, o)

	line := func(ok bool, fn, value string) {
		v := "PASS"
		if !ok {
			v = "FAIL"
		}
		lines = append(lines, fmt.Sprintf("[%s] [%s] %s", v, fn, value))
	}
	// Any function error fails the test: in production it would be a
	// RULE_ERROR alert.
	for _, e := range errs {
		msg := e.Err.Error()
		lines = append(lines, fmt.Sprintf("[ERROR] [%s] %s", e.Function, msg))
		if e.Traceback != "" {
			lines = append(lines, "\t"+indent(strings.TrimSpace(e.Traceback), "\t\t\t"))
		}
		problems = append(problems, fmt.Sprintf("%s() failed: %s", e.Function, firstLine(msg)))
	}
	ruleFailed := slices.ContainsFunc(errs, func(e RuleError) bool { return e.Function == fnRule })
	if !ruleFailed {
		ok := hit == t.ExpectedResult
		line(ok, "rule", fmt.Sprintf("%t", hit))
		if !ok {
			problems = append(problems, fmt.Sprintf("rule() returned %t, want %t", hit, t.ExpectedResult))
		}
	}
	if o.Printed != "" {
		lines = append(lines, "[PRINT] "+indent(strings.TrimRight(o.Printed, "\n"), "\t\t\t"))
	}
	if !hit {
		return lines, problems, nil
	}
	check := func(fn string, defined bool, got string, want *string) {
		if want != nil {
			ok := got == *want
			line(ok, fn, got)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s is %q, want %q", fn, got, *want))
			}
		} else if defined {
			line(true, fn, got)
		}
	}
	defined := func(fn string) bool { return slices.Contains(r.Funcs, fn) }
	check("title", defined("title"), m.Title, t.ExpectedTitle)
	check("dedup", defined("dedup"), m.Dedup, t.ExpectedDedup)
	if t.ExpectedSeverity != nil {
		want := string(*t.ExpectedSeverity)
		check("severity", true, string(m.Severity), &want)
	} else if defined("severity") {
		line(true, "severity", string(m.Severity))
	}
	if defined("destinations") || t.ExpectedDestinations != nil {
		got, _ := json.Marshal(m.Destinations)
		ok := t.ExpectedDestinations == nil || slices.Equal(m.Destinations, t.ExpectedDestinations)
		line(ok, "destinations", string(got))
		if !ok {
			problems = append(problems, fmt.Sprintf("destinations are %q, want %q", m.Destinations, t.ExpectedDestinations))
		}
	}
	if defined("alert_context") && m.Context != nil {
		line(true, "alertContext", string(m.Context))
	}
	return lines, problems, nil
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

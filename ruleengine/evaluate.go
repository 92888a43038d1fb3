package ruleengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"

	"github.com/alertbridge/alertbridge/alert"
)

// Limits on what a rule may generate. Panther's, where it has one.
const (
	maxTitleLen   = 1000 // characters
	maxDedupLen   = 1000 // characters
	maxContextLen = 200 << 10
)

// Evaluate runs every enabled rule whose LogTypes include ev.LogType. It is
// safe for concurrent use. If ctx ends part-way, rules not yet run are
// skipped and the one running fails with ctx's error; a caller should check
// ctx.Err() afterwards and treat the event as not evaluated rather than raise
// error alerts for it.
func (rs *RuleSet) Evaluate(ctx context.Context, ev Event) (matches []Match, errs []RuleError) {
	rules := rs.byLogType[ev.LogType]
	if len(rules) == 0 {
		return nil, nil
	}
	event, err := toStarlark(ev.Data)
	if err != nil {
		// Every rule would fail the same way; say so once per rule, since
		// each has lost coverage of this event.
		for _, r := range rules {
			errs = append(errs, RuleError{Rule: r, Function: "event", EventID: ev.ID, Err: fmt.Errorf("convert event: %w", err)})
		}
		return nil, errs
	}
	e := newEvaluator(newRunner(ctx, rs.Limits, nil), event, ev)
	for _, r := range rules {
		if ctx.Err() != nil {
			break
		}
		m, ok, rerrs := e.evalRule(r)
		errs = append(errs, rerrs...)
		if ok {
			matches = append(matches, m)
		}
		// The caller's deadline can pass before its context says so; a rule
		// stopped by it means the rest would be too.
		if slices.ContainsFunc(rerrs, stoppedByCaller) {
			break
		}
	}
	return matches, errs
}

func stoppedByCaller(e RuleError) bool {
	return errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded)
}

// evaluator runs rules' functions over one event, one rule at a time. It is
// made once per event, not per rule: at a dozen rules an event, the saving
// is measurable.
type evaluator struct {
	run  *runner
	args starlark.Tuple // (event,)
	ev   Event
	rule *Rule
	errs []RuleError
}

func newEvaluator(run *runner, event starlark.Value, ev Event) *evaluator {
	return &evaluator{run: run, args: starlark.Tuple{event}, ev: ev}
}

// evalRule runs one rule: rule(), then its optional functions if it matched.
func (e *evaluator) evalRule(r *Rule) (Match, bool, []RuleError) {
	e.rule, e.errs = r, nil
	v, ok := e.call(fnRule)
	if !ok {
		return Match{}, false, e.errs
	}
	hit, isBool := v.(starlark.Bool)
	if !isBool {
		e.fail(fnRule, fmt.Errorf("returned %s, want bool", v.Type()))
		return Match{}, false, e.errs
	}
	if !hit {
		return Match{}, false, nil
	}

	m := Match{
		Rule:        r,
		Title:       r.defaultTitle(),
		Severity:    r.Severity,
		Runbook:     r.Runbook,
		Description: r.Description,
		EventTime:   e.ev.Time,
		EventID:     e.ev.ID,
	}
	if s, ok := e.str(fnTitle); ok && s != "" {
		m.Title = truncate(s, maxTitleLen)
	}
	m.Dedup = truncate(m.Title, maxDedupLen)
	if s, ok := e.str(fnDedup); ok && s != "" {
		m.Dedup = truncate(s, maxDedupLen)
	}
	if sev, ok := e.severity(); ok {
		m.Severity, m.GeneratedSeverity = sev, true
	}
	m.Destinations = e.destinations()
	m.Context = e.context()
	if s, ok := e.str(fnRunbook); ok && s != "" {
		m.Runbook = s
	}
	if s, ok := e.str(fnDescription); ok && s != "" {
		m.Description = s
	}
	return m, true, e.errs
}

func (e *evaluator) fail(fn string, err error) {
	e.errs = append(e.errs, RuleError{Rule: e.rule, Function: fn, EventID: e.ev.ID, Err: err, Position: position(err)})
}

// call runs fn(event) if the rule defines fn. ok is false when it does not,
// or when the call failed (and the failure is recorded).
func (e *evaluator) call(fn string) (starlark.Value, bool) {
	f := e.rule.mod.fn(fn)
	if f == nil {
		return nil, false
	}
	out, err := e.run.call(f, e.args)
	if err != nil {
		e.fail(fn, err)
		return nil, false
	}
	return out, true
}

// str calls a function that must return a string (None meaning "use the
// default").
func (e *evaluator) str(fn string) (string, bool) {
	v, ok := e.call(fn)
	if !ok || v == starlark.None {
		return "", false
	}
	s, isStr := starlark.AsString(v)
	if !isStr {
		e.fail(fn, fmt.Errorf("returned %s, want str", v.Type()))
		return "", false
	}
	return s, true
}

// severity is the generated severity, if severity() gave one other than
// "DEFAULT" (Panther's word for "the rule's own").
func (e *evaluator) severity() (alert.Severity, bool) {
	s, ok := e.str(fnSeverity)
	if !ok || s == "" || strings.EqualFold(s, "DEFAULT") {
		return "", false
	}
	sev, err := alert.ParseSeverity(s)
	if err != nil {
		e.fail(fnSeverity, err)
		return "", false
	}
	return sev, true
}

func (e *evaluator) destinations() []string {
	v, ok := e.call(fnDestinations)
	if !ok || v == starlark.None {
		return nil
	}
	seq, isSeq := v.(starlark.Sequence)
	if !isSeq || isString(v) {
		e.fail(fnDestinations, fmt.Errorf("returned %s, want a list of str", v.Type()))
		return nil
	}
	out := make([]string, 0, seq.Len())
	it := seq.Iterate()
	defer it.Done()
	var x starlark.Value
	for it.Next(&x) {
		s, isStr := starlark.AsString(x)
		if !isStr {
			e.fail(fnDestinations, fmt.Errorf("list holds a %s, want only str", x.Type()))
			return nil
		}
		out = append(out, s)
	}
	return out
}

func (e *evaluator) context() json.RawMessage {
	v, ok := e.call(fnAlertContext)
	if !ok || v == starlark.None {
		return nil
	}
	if _, isMap := v.(starlark.IterableMapping); !isMap {
		e.fail(fnAlertContext, fmt.Errorf("returned %s, want dict", v.Type()))
		return nil
	}
	raw, err := appendJSON(nil, v, 0)
	if err != nil {
		e.fail(fnAlertContext, fmt.Errorf("encode as JSON: %w", err))
		return nil
	}
	if len(raw) > maxContextLen {
		e.fail(fnAlertContext, fmt.Errorf("result is %d bytes of JSON, over the %d limit", len(raw), maxContextLen))
		return nil
	}
	return json.RawMessage(raw)
}

// position is where in Starlark code err arose: the innermost frame that is
// rule code rather than a built-in.
func position(err error) string {
	var ee *starlark.EvalError
	if !errors.As(err, &ee) {
		return ""
	}
	for i := len(ee.CallStack) - 1; i >= 0; i-- {
		if p := ee.CallStack[i].Pos; p.IsValid() && p.Filename() != "<builtin>" {
			return p.String()
		}
	}
	return ""
}

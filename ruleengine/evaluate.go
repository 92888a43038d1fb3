package ruleengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/pyrules"
)

// Limits on what a rule may generate. Panther's, where it has one.
const (
	maxTitleLen   = 1000 // characters
	maxDedupLen   = 1000 // characters
	maxContextLen = 200 << 10
)

// Evaluate runs every enabled rule whose LogTypes include ev.LogType; it is
// EvaluateBatch for one event. If ctx ends first, it returns no matches and
// no errors: a caller should check ctx.Err() and treat the event as not
// evaluated.
func (rs *RuleSet) Evaluate(ctx context.Context, ev Event) (matches []Match, errs []RuleError) {
	m, e, err := rs.EvaluateBatch(ctx, []Event{ev})
	if err != nil {
		return nil, nil
	}
	return m[0], e[0]
}

// ErrClosed is what evaluating with a closed RuleSet fails with: a caller
// holding a set that a reload replaced evaluates with the new one.
var ErrClosed = pyrules.ErrClosed

// EvaluateBatch runs the rules over a batch of events in the worker pool
// and returns, by event, the matches and the failed rule functions. It is
// safe for concurrent use. It fails only when ctx ends, the set is closed
// (ErrClosed) or no worker can be run, and then nothing of the batch may be
// applied.
func (rs *RuleSet) EvaluateBatch(ctx context.Context, events []Event) ([][]Match, [][]RuleError, error) {
	matches := make([][]Match, len(events))
	errs := make([][]RuleError, len(events))
	var (
		wire []pyrules.Event
		at   []int // wire[j] is events[at[j]]
	)
	for i, ev := range events {
		rules := rs.byLogType[ev.LogType]
		if len(rules) == 0 {
			continue
		}
		w, err := pyrules.EncodeEvent(ev.LogType, WithPantherFields(ev))
		if err != nil {
			// Every rule would fail the same way; say so once per rule,
			// since each has lost coverage of this event.
			for _, r := range rules {
				errs[i] = append(errs[i], RuleError{Rule: r, Function: "event", EventID: ev.ID, Err: err})
			}
			continue
		}
		wire, at = append(wire, w), append(at, i)
	}
	if len(wire) == 0 {
		return matches, errs, nil
	}
	out, err := rs.pool.Eval(ctx, wire)
	if err != nil {
		return nil, nil, fmt.Errorf("evaluate events: %w", err)
	}
	for j, outcomes := range out {
		i := at[j]
		for _, o := range outcomes {
			r := rs.byIdx[o.Rule]
			if r == nil {
				continue
			}
			m, ok, rerrs := r.match(events[i], o)
			errs[i] = append(errs[i], rerrs...)
			if ok {
				matches[i] = append(matches[i], m)
			}
		}
	}
	return matches, errs, nil
}

// match turns a worker's outcome into the match, with the YAML defaults
// where a function was not defined or failed (as Panther does: losing a
// detection over a broken title is worse than a plain title), and the
// failures as RuleErrors.
func (r *Rule) match(ev Event, o pyrules.Outcome) (Match, bool, []RuleError) {
	var errs []RuleError
	fail := func(fn string, err error, tb string) {
		errs = append(errs, RuleError{Rule: r, Function: fn, EventID: ev.ID, Err: err, Traceback: tb})
	}
	for _, e := range o.Errors {
		fail(e.Function, ruleErr(e.Message), e.Traceback)
	}
	if !o.Matched {
		return Match{}, false, errs
	}
	v := o.Values
	m := Match{
		Rule:        r,
		Title:       r.defaultTitle(),
		Severity:    r.Severity,
		Runbook:     r.Runbook,
		Reference:   r.Reference,
		Description: r.Description,
		EventTime:   ev.Time,
		EventID:     ev.ID,
	}
	if s := str(v.Title); s != "" {
		m.Title = truncate(s, maxTitleLen)
	}
	m.Dedup = truncate(m.Title, maxDedupLen)
	if s := str(v.Dedup); s != "" {
		m.Dedup = truncate(s, maxDedupLen)
	}
	if s := str(v.Severity); s != "" && !strings.EqualFold(s, "DEFAULT") {
		if sev, err := alert.ParseSeverity(s); err != nil {
			fail(fnSeverity, err, "")
		} else {
			m.Severity, m.GeneratedSeverity = sev, true
		}
	}
	m.Destinations = v.Destinations
	if v.AlertContext != nil {
		raw := []byte(*v.AlertContext)
		switch {
		case len(raw) > maxContextLen:
			fail(fnAlertContext, fmt.Errorf("result is %d bytes of JSON, over the %d limit", len(raw), maxContextLen), "")
		case !json.Valid(raw):
			fail(fnAlertContext, errors.New("result is not valid JSON"), "")
		default:
			m.Context = json.RawMessage(raw)
		}
	}
	if s := str(v.Runbook); s != "" {
		m.Runbook = s
	}
	if s := str(v.Reference); s != "" {
		m.Reference = s
	}
	if s := str(v.Description); s != "" {
		m.Description = s
	}
	return m, true, errs
}

// Function names Panther calls.
const (
	fnRule         = "rule"
	fnSeverity     = "severity"
	fnAlertContext = "alert_context"
)

// ErrTimeout is what a rule function that ran past its time limit fails
// with; test with errors.Is.
var ErrTimeout = errors.New("time limit exceeded")

// funcError is a failure the worker reported, as its message.
type funcError struct {
	msg     string
	timeout bool
}

func (e funcError) Error() string        { return e.msg }
func (e funcError) Is(target error) bool { return e.timeout && target == ErrTimeout }

func ruleErr(msg string) error {
	return funcError{msg: msg, timeout: strings.HasPrefix(msg, "time limit exceeded") ||
		strings.Contains(msg, "the worker was killed: it said nothing")}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

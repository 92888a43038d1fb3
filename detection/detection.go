// Package detection runs log events through the rules and turns matches into
// alerts: each match is folded into its persisted dedup group, and the
// alert is raised, updated or left pending in the same transaction as the
// group's new state, so a crash can neither lose a raise nor make a second.
package detection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/store"
)

// groupRetention is how long a group is kept after its period ended. A
// match arriving later than this for an ended period starts a period of its
// own; until then it joins the stored one (ruleengine.Fold).
const groupRetention = 7 * 24 * time.Hour

// Actor is who detection alerts and comments are attributed to.
const Actor = "alertbridge detection"

// Pipeline evaluates events and applies the results. It is safe for
// concurrent use.
type Pipeline struct {
	rules   atomic.Pointer[ruleengine.RuleSet] // swapped whole on a reload
	svc     *lifecycle.Service
	now     func() time.Time
	logger  *slog.Logger
	metrics *Metrics

	lastExpire atomic.Int64 // unix seconds of the last group expiry
}

// Config builds a Pipeline.
type Config struct {
	Rules   *ruleengine.RuleSet
	Service *lifecycle.Service
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
}

// New builds a pipeline.
func New(cfg Config) *Pipeline {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Pipeline{svc: cfg.Service, now: func() time.Time { return cfg.Now().UTC() }, logger: cfg.Logger, metrics: cfg.Metrics}
	p.SetRules(cfg.Rules)
	return p
}

// SetRules replaces the rules (a reload). A batch is evaluated and applied
// with the rules it started with; the old set's workers stop once the
// evaluations using them end.
func (p *Pipeline) SetRules(rs *ruleengine.RuleSet) {
	if rs == nil {
		rs = &ruleengine.RuleSet{}
	}
	if old := p.rules.Swap(rs); old != nil && old != rs {
		_ = old.Close()
	}
}

// Close stops the rules' workers.
func (p *Pipeline) Close() error { return p.rules.Load().Close() }

// Listening says how many enabled rules read logType.
func (p *Pipeline) Listening(logType string) int { return p.rules.Load().Listening(logType) }

// Stats counts what one batch of events did.
type Stats struct {
	Events     int // evaluated
	Duplicates int // skipped: the source had fed them before
	Matches    int
	Raised     int // alerts created
	Updated    int // existing alerts whose facts changed
	Pending    int // matches below their rule's threshold
	Comments   int
	RuleErrors int

	tally *tally // by rule, for Record
}

// Evaluated is a batch of events with the rules' verdicts, ready to apply.
type Evaluated struct {
	rules   *ruleengine.RuleSet
	events  []ruleengine.Event
	matches [][]ruleengine.Match
	errs    [][]ruleengine.RuleError
}

// Evaluate runs the rules over events. It does no I/O: callers evaluate
// before they open a transaction, so the CPU-bound part never holds the
// writer. It fails only when ctx ends, and then nothing may be applied,
// since rules cut short would be reported as broken.
func (p *Pipeline) Evaluate(ctx context.Context, events []ruleengine.Event) (*Evaluated, error) {
	rules := p.rules.Load()
	start := time.Now()
	matches, errs, err := rules.EvaluateBatch(ctx, events)
	for errors.Is(err, ruleengine.ErrClosed) && p.rules.Load() != rules {
		// A reload replaced the set between loading and using it.
		rules = p.rules.Load()
		matches, errs, err = rules.EvaluateBatch(ctx, events)
	}
	if err != nil {
		return nil, fmt.Errorf("evaluate events: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("evaluate events: %w", err)
	}
	// The batch is evaluated as one in the worker pool; each event that
	// rules read is recorded at its share of the time. Events no rule reads
	// take no time, and would only pull the histogram towards zero.
	listened := 0
	for _, e := range events {
		if rules.Listening(e.LogType) > 0 {
			listened++
		}
	}
	if listened > 0 {
		per := time.Since(start) / time.Duration(listened)
		for range listened {
			p.metrics.evaluated(per)
		}
	}
	return &Evaluated{rules: rules, events: events, matches: matches, errs: errs}, nil
}

// Process evaluates events and applies them in a group commit. When it
// returns nil, every alert they raised is on disk with its deliveries.
func (p *Pipeline) Process(ctx context.Context, events []ruleengine.Event) (Stats, error) {
	ev, err := p.Evaluate(ctx, events)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	err = p.svc.Batch().Do(ctx, func(tx store.Tx) (err error) {
		// Assigned afresh: a failed shared commit runs this again alone.
		st, err = p.ApplyTx(ctx, tx, "", ev)
		return err
	})
	if err == nil {
		p.Record(st)
	}
	return st, err
}

// Record counts in the rule metrics what the new events of a batch did.
// A caller of ApplyTx calls it once the transaction committed, so that a
// batch rolled back, or applied again after a failed shared commit, is
// counted once or not at all.
func (p *Pipeline) Record(st Stats) { p.metrics.record(st.tally) }

// ApplyTx applies evaluated events inside the caller's transaction. With a
// source name, events with an ID that source has applied before are skipped,
// so a source may re-read an overlapping window safely.
func (p *Pipeline) ApplyTx(ctx context.Context, tx store.Tx, source string, ev *Evaluated) (Stats, error) {
	now := p.now()
	st := Stats{}
	if p.metrics != nil {
		st.tally = &tally{rules: map[string]*ruleCounts{}}
	}
	fresh, err := p.markSeen(ctx, tx, source, ev.events, now)
	if err != nil {
		return st, err
	}
	for i, e := range ev.events {
		if !fresh[i] {
			st.Duplicates++
			continue
		}
		st.Events++
		if st.tally != nil {
			st.tally.add(ev.rules, e.LogType, ev.matches[i], ev.errs[i])
		}
		for _, re := range ev.errs[i] {
			st.RuleErrors++
			p.logger.Warn("detection rule failed", "rule", re.Rule.ID, "function", re.Function, "event", e.ID, "error", re.Err)
			a := ruleengine.ErrorAlert(re, now)
			// Deterministic per rule, error and hour: a rule failing on every
			// event raises one alert, the rest are duplicates.
			if _, err := p.svc.AcceptTx(ctx, tx, []lifecycle.Item{{Alert: &a, Actor: Actor}}); err != nil {
				return st, err
			}
		}
		for _, m := range ev.matches[i] {
			st.Matches++
			if !m.Rule.CreateAlert {
				continue // Panther's CreateAlert: false: matches are counted, not alerted
			}
			if err := p.fold(ctx, tx, m, now, &st); err != nil {
				return st, err
			}
		}
	}
	if err := p.maybeExpire(ctx, tx, now); err != nil {
		return st, err
	}
	return st, nil
}

func (p *Pipeline) markSeen(ctx context.Context, tx store.SourceTx, source string, events []ruleengine.Event, now time.Time) ([]bool, error) {
	fresh := make([]bool, len(events))
	var (
		ids []string
		at  []int
	)
	for i, e := range events {
		fresh[i] = true
		if source != "" && e.ID != "" {
			ids, at = append(ids, e.ID), append(at, i)
		}
	}
	if len(ids) == 0 {
		return fresh, nil
	}
	// The same id twice in one batch is a repeat too: the second insert
	// finds the first.
	marks, err := tx.MarkSourceEvents(ctx, source, ids, now)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		fresh[i] = marks[j]
	}
	return fresh, nil
}

// fold folds one match into its stored group and acts on the outcome.
func (p *Pipeline) fold(ctx context.Context, tx store.Tx, m ruleengine.Match, now time.Time, st *Stats) error {
	row, err := tx.LockDetectionGroup(ctx, m.Rule.ID, m.Dedup)
	var prev *ruleengine.Group
	switch {
	case errors.Is(err, store.ErrNotFound):
		row = nil
	case err != nil:
		return err
	default:
		var g ruleengine.Group
		if err := json.Unmarshal(row.State, &g); err != nil {
			return fmt.Errorf("decode detection group %s: %w", m.Rule.ID, err)
		}
		prev = &g
	}
	next, out := ruleengine.Fold(prev, m, now)
	state, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("encode detection group %s: %w", m.Rule.ID, err)
	}
	put := &store.DetectionGroup{
		RuleID: next.RuleID, Dedup: next.Dedup, PeriodStart: next.PeriodStart, PeriodEnd: next.PeriodEnd,
		Count: next.Count, FirstSeen: next.FirstSeen, LastSeen: next.LastSeen, Raised: next.Raised,
		AlertID: next.AlertID, State: state, UpdatedAt: now,
	}
	if row != nil && row.AlertID == next.AlertID {
		put.CommentedCount, put.CommentedAt = row.CommentedCount, row.CommentedAt
	}

	switch out {
	case ruleengine.Pending:
		st.Pending++
	case ruleengine.Raise:
		if err := p.raise(ctx, tx, m, next); err != nil {
			return err
		}
		st.Raised++
		// Comments summarise matches after the one the alert was raised on.
		put.CommentedCount = next.Count
	case ruleengine.Update:
		facts := alert.Detection{MatchCount: next.Count, FirstSeen: next.FirstSeen, LastSeen: next.LastSeen, Dedup: next.Dedup}
		err := tx.UpdateAlertDetection(ctx, next.AlertID, facts, now)
		if errors.Is(err, store.ErrNotFound) {
			// The group says raised but the alert is gone (a database
			// restored without it): raise it again rather than lose it.
			if err := p.raise(ctx, tx, m, next); err != nil {
				return err
			}
			st.Raised++
			break
		}
		if err != nil {
			return err
		}
		st.Updated++
		commented, err := p.maybeComment(ctx, tx, m, next, put, now)
		if err != nil {
			return err
		}
		if commented {
			st.Comments++
		}
	}
	return tx.PutDetectionGroup(ctx, put)
}

func (p *Pipeline) raise(ctx context.Context, tx store.Tx, m ruleengine.Match, g ruleengine.Group) error {
	a := ruleengine.ToAlert(m, g)
	_, err := p.svc.AcceptTx(ctx, tx, []lifecycle.Item{{Alert: &a, Actor: Actor}})
	return err
}

// maybeComment adds one comment summarising the matches since the last one,
// when the alert has an issue somewhere and the rule's dedup period has
// passed since the last comment: people following the issue hear that the
// activity goes on, without a comment per event.
func (p *Pipeline) maybeComment(ctx context.Context, tx store.Tx, m ruleengine.Match, g ruleengine.Group, put *store.DetectionGroup, now time.Time) (bool, error) {
	if g.Count <= put.CommentedCount {
		return false, nil
	}
	period := m.Rule.DedupPeriod
	if !put.CommentedAt.IsZero() && now.Sub(put.CommentedAt) < period {
		return false, nil
	}
	issues, err := tx.ListIssues(ctx, g.AlertID)
	if err != nil || len(issues) == 0 {
		return false, err
	}
	n := g.Count - put.CommentedCount
	word := "matches"
	if n == 1 {
		word = "match"
	}
	body := fmt.Sprintf("**%d new %s** of rule `%s` since the last update (%d in all; first seen %s, last seen %s).",
		n, word, m.Rule.ID, g.Count, g.FirstSeen.Format(time.RFC3339), g.LastSeen.Format(time.RFC3339))
	c := &alert.Comment{AlertID: g.AlertID, Author: Actor, Body: body, Origin: "alertbridge", CreatedAt: now, UpdatedAt: now}
	if err := tx.AddComment(ctx, c); err != nil {
		return false, err
	}
	if err := tx.AddEvent(ctx, g.AlertID, alert.Event{At: now, Actor: Actor, Action: alert.ActionCommented,
		Detail: fmt.Sprintf("comment %d", c.ID)}); err != nil {
		return false, err
	}
	put.CommentedCount, put.CommentedAt = g.Count, now
	return true, nil
}

// maybeExpire drops long-ended groups, at most once an hour per process.
func (p *Pipeline) maybeExpire(ctx context.Context, tx store.DetectionTx, now time.Time) error {
	last := p.lastExpire.Load()
	if now.Unix()-last < 3600 || !p.lastExpire.CompareAndSwap(last, now.Unix()) {
		return nil
	}
	_, err := tx.ExpireDetectionGroups(ctx, now.Add(-groupRetention))
	return err
}

// Package jirasync keeps each Jira issue in step with its alert. It is
// level-triggered: for every alert and Jira destination the issue has a
// desired state derived from the alert alone (its status through the
// status map, its assignee, the comments and status notes that should be
// there), and any change from any path — the API, a source resolving or
// re-firing the alert, a detection, an inbound Jira webhook, the link of a
// new issue landing — queues one unique reconcile job for the pair in the
// change's own transaction. The job compares the desired state with what
// was last confirmed in Jira and sends only the difference, so jobs that
// run late, twice or after a crash still end at the latest state.
//
// Every effect is looked up before it is repeated: a transition reads the
// current status first, an assignment the current assignee, and a comment
// carries a property naming its row here, written down before the request
// goes out, so a post whose answer was lost is found instead of doubled.
package jirasync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

// Queue is the jobs queue reconciles run on, apart from deliveries so that
// a slow Jira does not hold them up.
const Queue = "jira_sync"

// Timeline actions of reconciles.
const (
	ActionSynced     = "jira_synced"
	ActionSyncFailed = "jira_sync_failed"
)

// PropertyKey is the comment property that marks the comments alertbridge
// writes: {"outbound": row id, "alertId": …, "destination": …}.
const PropertyKey = "alertbridge"

// Args is one reconcile: bring the issue of one alert in one destination
// into step. It is unique while queued or running; a change made while it
// runs makes it run again (see Work).
type Args struct {
	AlertID     string `json:"alertId"`
	Destination string `json:"destination"`
}

// Kind is River's name for the job.
func (Args) Kind() string { return "jira_reconcile" }

// InsertOpts makes the job unique per pair until it finishes.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 20, UniqueOpts: river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
			rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled},
	}}
}

// legacyArgs are the per-change sync jobs of earlier versions; one left in
// the queue at an upgrade becomes a reconcile of its pair.
type legacyArgs struct {
	AlertID     string `json:"alertId"`
	Destination string `json:"destination"`
}

func (legacyArgs) Kind() string { return "jira_sync" }

// Destination is one Jira destination as sync sees it.
type Destination struct {
	Name   string
	Client *jira.Client
	Sync   config.JiraSync
	Reopen string // config.ReopenTransition (default), ReopenNewIssue or ReopenOff
	// ReopenWindow: with ReopenTransition, an issue closed longer ago than
	// this gets a new issue instead of a transition; zero: no window.
	ReopenWindow time.Duration
	// Group: the destination has an issue per group, whose issue is told
	// of alerts joining and resolving whatever the sync modes say.
	Group bool
}

// Options tune a Syncer.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// UserTTL is how long a found e-mail → user mapping is trusted; default
	// 24h. A miss is retried after a tenth of that, since the user may be
	// added to Jira soon after an alert is assigned to them.
	UserTTL time.Duration
	// MaxHops bounds a path of transitions to a status; default 5.
	MaxHops int
	Metrics *Metrics
}

// Syncer queues and works reconciles.
type Syncer struct {
	st      store.Store
	jobs    *jobs.Layer
	destMap atomic.Pointer[map[string]*Destination] // swapped whole on a reload
	opts    Options
}

// New builds a syncer for the destinations that sync anything and
// registers its workers with the jobs layer.
func New(l *jobs.Layer, st store.Store, dests []Destination, opts Options) *Syncer {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.UserTTL <= 0 {
		opts.UserTTL = 24 * time.Hour
	}
	if opts.MaxHops <= 0 {
		opts.MaxHops = 5
	}
	s := &Syncer{st: st, jobs: l, opts: opts}
	s.SetDestinations(dests)
	s.SetMetrics(opts.Metrics)
	jobs.Add(l, &worker{s: s})
	jobs.Add(l, &legacyWorker{s: s})
	return s
}

// SetDestinations replaces the destinations sync follows (a reload). A
// reconcile reads them once as it starts, and runs to its end with them.
func (s *Syncer) SetDestinations(dests []Destination) {
	m := map[string]*Destination{}
	for i := range dests {
		d := dests[i]
		if on(d.Sync.Status) || on(d.Sync.Assignee) || on(d.Sync.Comments) || d.Group {
			m[d.Name] = &d
		}
	}
	s.destMap.Store(&m)
	if s.opts.Metrics != nil {
		s.SetMetrics(s.opts.Metrics)
	}
}

// dests is the destinations sync follows now.
func (s *Syncer) dests() map[string]*Destination { return *s.destMap.Load() }

func on(m config.SyncMode) bool { return m == config.SyncOneWay || m == config.SyncTwoWay }

// OnChange is lifecycle.Options.OnChange: in the change's transaction it
// notes the change for every Jira destination that follows the alert —
// those with an issue and those still delivering one, so that a change
// made before the link is applied when it lands — and queues their
// reconciles. A change that came from a destination's Jira is not sent
// back to it as a note or comment, and what that Jira said is recorded as
// confirmed there.
func (s *Syncer) OnChange(ctx context.Context, tx store.Tx, c lifecycle.Change) error {
	if len(s.dests()) == 0 {
		return nil
	}
	names, err := s.following(ctx, tx, c.AlertID)
	if err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	for _, name := range names {
		d := s.dests()[name]
		if name == c.Origin {
			if err := s.confirmFromJira(ctx, tx, c); err != nil {
				return err
			}
			continue
		}
		var note string
		switch {
		case c.Group != nil:
			// One note per notification, which says what the status
			// change would.
			note = groupNote(c.Group)
		case c.NewStatus != "" && on(d.Sync.Status):
			note = fmt.Sprintf("%s changed the status from %s to %s", c.Actor, c.OldStatus, c.NewStatus)
			if c.Reopened {
				note = fmt.Sprintf("%s: the alert is firing again (%s → %s)", c.Actor, c.OldStatus, c.NewStatus)
			}
		}
		if note != "" {
			if err := tx.AddOutboundComment(ctx, &store.OutboundComment{AlertID: c.AlertID, Destination: name, Note: note, CreatedAt: now}); err != nil {
				return err
			}
		}
		if err := s.queue(ctx, tx, c.AlertID, name); err != nil {
			return err
		}
	}
	return nil
}

// confirmFromJira records what a Jira webhook told us of its own issue, so
// that the reconcile does not send it back: the alert status its Jira
// status now stands for, the assignee it has, and the status by name.
func (s *Syncer) confirmFromJira(ctx context.Context, tx store.SyncTx, c lifecycle.Change) error {
	if c.NewStatus == "" && !c.AssigneeChanged {
		return nil
	}
	st, err := tx.LockSync(ctx, c.AlertID, c.Origin)
	if errors.Is(err, store.ErrNotFound) {
		st, err = &store.SyncState{AlertID: c.AlertID, Destination: c.Origin}, nil
	}
	if err != nil {
		return err
	}
	if c.NewStatus != "" {
		st.StatusFor = string(c.NewStatus)
		st.ClosedAt = closedAt(c.NewStatus, st.ClosedAt, s.opts.Now())
	}
	if c.AssigneeChanged {
		st.Assignee = c.NewAssignee
	}
	return tx.PutSync(ctx, st)
}

// following lists the synced destinations an alert's issues are or will be
// in.
func (s *Syncer) following(ctx context.Context, tx interface {
	store.IssueTx
	store.DeliveryTx
}, alertID string) ([]string, error) {
	var names []string
	issues, err := tx.ListIssues(ctx, alertID)
	if err != nil {
		return nil, err
	}
	for _, is := range issues {
		if s.dests()[is.Destination] != nil && !slices.Contains(names, is.Destination) {
			names = append(names, is.Destination)
		}
	}
	ds, err := tx.ListDeliveries(ctx, alertID)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if s.dests()[d.Destination] != nil && d.Reason != store.ReasonTest && !slices.Contains(names, d.Destination) {
			names = append(names, d.Destination)
		}
	}
	return names, nil
}

// queue notes a change for the pair and inserts its reconcile.
func (s *Syncer) queue(ctx context.Context, tx interface {
	store.SyncTx
	Raw() any
}, alertID, dest string) error {
	if err := tx.BumpSync(ctx, alertID, dest); err != nil {
		return err
	}
	if err := s.jobs.InsertTx(ctx, tx, river.InsertManyParams{Args: Args{AlertID: alertID, Destination: dest}}); err != nil {
		return fmt.Errorf("queue the Jira reconcile of alert %s in %s: %w", alertID, dest, err)
	}
	return nil
}

// OnLinked is delivery.Config.OnLinked: when an issue is linked, its status
// is the one new issues start in, standing for an open alert; if the alert
// changed before the link (or was resolved before its issue existed), the
// reconcile that applies it is queued with the link.
func (s *Syncer) OnLinked(ctx context.Context, tx store.Tx, alertID, dest string) error {
	if s.dests()[dest] == nil {
		return nil
	}
	st, err := tx.LockSync(ctx, alertID, dest)
	fresh := errors.Is(err, store.ErrNotFound)
	if fresh {
		st, err = &store.SyncState{AlertID: alertID, Destination: dest}, nil
	}
	if err != nil {
		return err
	}
	if st.StatusFor == "" {
		st.StatusFor = string(alert.StatusOpen)
	}
	if err := tx.PutSync(ctx, st); err != nil {
		return err
	}
	a, err := tx.GetAlert(ctx, alertID)
	if err != nil {
		return err
	}
	is, err := tx.GetIssue(ctx, alertID, dest)
	if err != nil {
		return err
	}
	if fresh && a.Status == alert.StatusOpen && a.Assignee == "" && is.Status != "" {
		// Nothing happened to the alert before its issue existed and its
		// status is known: the new issue already is what the alert wants.
		// (Comments always come with a change, which would have made the
		// row.)
		return nil
	}
	return s.queue(ctx, tx, alertID, dest)
}

type legacyWorker struct {
	river.WorkerDefaults[legacyArgs]
	s *Syncer
}

func (w *legacyWorker) Work(ctx context.Context, job *river.Job[legacyArgs]) error {
	if w.s.dests()[job.Args.Destination] == nil {
		return nil
	}
	return w.s.st.InTx(ctx, func(tx store.Tx) error { return w.s.queue(ctx, tx, job.Args.AlertID, job.Args.Destination) })
}

type worker struct {
	river.WorkerDefaults[Args]
	s *Syncer
}

// Work brings one issue into step. It reads the change generation first;
// at the end, holding the pair's row (which every change's transaction
// also takes), it completes the job in the same transaction only if no
// change came meanwhile. A change that came runs the job again, so none is
// lost between a run's last read and its completion.
func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	s, a := w.s, job.Args
	d := s.dests()[a.Destination]
	if d == nil {
		return nil // a destination removed from the configuration, or one that no longer syncs
	}
	var (
		al       *alert.Alert
		is       *alert.Issue
		st       *store.SyncState
		comments []alert.Comment
		outs     []store.OutboundComment
		legacy   = map[int64]string{}
	)
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		// The generation first: whatever this run reads after it is at
		// least as new, so a change it does not see bumps it past.
		if st, err = tx.GetSync(ctx, a.AlertID, a.Destination); errors.Is(err, store.ErrNotFound) {
			st, err = &store.SyncState{AlertID: a.AlertID, Destination: a.Destination}, nil
		}
		if err != nil {
			return err
		}
		if al, err = tx.GetAlert(ctx, a.AlertID); err != nil {
			return err
		}
		if is, err = tx.GetIssue(ctx, a.AlertID, a.Destination); err != nil {
			return err
		}
		if comments, err = tx.ListComments(ctx, a.AlertID); err != nil {
			return err
		}
		if outs, err = tx.ListOutboundComments(ctx, a.AlertID, a.Destination); err != nil {
			return err
		}
		for _, c := range comments {
			// Comments posted by versions before outbound rows existed.
			if id, err := tx.JiraCommentOf(ctx, c.ID, a.Destination); err == nil {
				legacy[c.ID] = id
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		// No alert, or no issue yet: the link, when it lands, queues the
		// reconcile — unless it landed while this run read, when the job it
		// queued was this one, still running, and must run again.
		return w.finishEarly(ctx, job, st)
	}
	if err != nil {
		err = fmt.Errorf("reconcile alert %s in %s: %w", a.AlertID, a.Destination, err)
		s.opts.Metrics.reconciled(a.Destination, outcome(jobs.Decide(err, job.Attempt, job.MaxAttempts)))
		return err
	}
	r := &run{s: s, d: d, al: al, is: is, st: st, began: *st}
	rerr := r.apply(ctx, comments, outs, legacy)
	return w.finish(ctx, job, r, rerr)
}

// finishEarly ends a run that had nothing to send: complete, unless a
// change came since the run read its generation (st nil: it read none).
func (w *worker) finishEarly(ctx context.Context, job *river.Job[Args], st *store.SyncState) error {
	var began int64
	if st != nil {
		began = st.Wanted
	}
	var again bool
	err := w.s.st.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.LockSync(ctx, job.Args.AlertID, job.Args.Destination)
		if errors.Is(err, store.ErrNotFound) {
			return jobs.CompleteTx(ctx, w.s.jobs, tx, job)
		}
		if err != nil {
			return err
		}
		if cur.Wanted != began {
			again = true
			return nil
		}
		return jobs.CompleteTx(ctx, w.s.jobs, tx, job)
	})
	if err != nil {
		return fmt.Errorf("finish the Jira reconcile of alert %s in %s: %w", job.Args.AlertID, job.Args.Destination, err)
	}
	if again {
		return river.JobSnooze(0)
	}
	return nil
}

// finish records what the run did and decides what comes next.
func (w *worker) finish(ctx context.Context, job *river.Job[Args], r *run, rerr error) error {
	s, a := w.s, job.Args
	now := s.opts.Now().UTC()
	actor := "sync:" + a.Destination
	decision := jobs.Decide(classify(rerr), job.Attempt, job.MaxAttempts)
	var again bool
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		// The alert first, as every change's transaction takes it first:
		// one order for the alert, its sync row and its issue row, or two
		// transactions on PostgreSQL could each hold what the other waits
		// for (a Jira webhook's change against this run's record).
		if _, err := tx.LockAlert(ctx, a.AlertID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		cur, err := tx.LockSync(ctx, a.AlertID, a.Destination)
		if errors.Is(err, store.ErrNotFound) {
			cur, err = &store.SyncState{AlertID: a.AlertID, Destination: a.Destination}, nil
		}
		if err != nil {
			return err
		}
		// What this run confirmed is written unless a Jira webhook
		// confirmed something newer meanwhile (the person's change wins
		// over our view from before it).
		statusNews := r.st.StatusFor != r.began.StatusFor && cur.StatusFor == r.began.StatusFor
		if statusNews {
			cur.StatusFor, cur.ClosedAt = r.st.StatusFor, r.st.ClosedAt
		}
		if r.st.Assignee != r.began.Assignee && cur.Assignee == r.began.Assignee {
			cur.Assignee = r.st.Assignee
		}
		if rerr == nil {
			cur.Done = r.st.Wanted
		}
		if rerr == nil && r.newIssue {
			// The closed issue is let go, and a delivery opens the next;
			// what its link confirms starts afresh.
			if err := tx.UnlinkIssue(ctx, a.AlertID, a.Destination); err != nil {
				return err
			}
			if err := delivery.Insert(ctx, s.jobs, tx, []*store.Delivery{{AlertID: a.AlertID, Destination: a.Destination,
				Reason: store.ReasonReopened, State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now}}, nil); err != nil {
				return err
			}
			cur.StatusFor, cur.Assignee, cur.ClosedAt = "", "", time.Time{}
		}
		if err := tx.PutSync(ctx, cur); err != nil {
			return err
		}
		if r.status != "" && (statusNews || cur.StatusFor == r.st.StatusFor) {
			if err := tx.SetIssueStatus(ctx, a.AlertID, a.Destination, r.status); err != nil {
				return err
			}
		}
		if len(r.done) > 0 {
			if err := tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: actor, Action: ActionSynced,
				Detail: r.is.Key + ": " + strings.Join(r.done, "; ")}); err != nil {
				return err
			}
		}
		switch {
		case rerr != nil && (decision.Final() || job.Attempt == 1):
			// Once on the timeline is enough to show the sync is waiting;
			// each retry would only add noise.
			detail := fmt.Sprintf("%s: %v", r.is.Key, rerr)
			if !decision.Final() {
				detail += " (will retry)"
			}
			if err := tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: actor, Action: ActionSyncFailed, Detail: detail}); err != nil {
				return err
			}
			if decision.Final() {
				return tx.RecordDestinationResult(ctx, a.Destination, now, "sync "+detail)
			}
		case rerr == nil && len(r.done) > 0:
			if err := tx.RecordDestinationResult(ctx, a.Destination, now, ""); err != nil {
				return err
			}
		}
		if rerr != nil {
			return nil
		}
		if cur.Wanted != r.st.Wanted {
			again = true
			return nil
		}
		return jobs.CompleteTx(ctx, s.jobs, tx, job)
	})
	if err != nil {
		err = fmt.Errorf("record the Jira reconcile of alert %s in %s: %w", a.AlertID, a.Destination, err)
		s.opts.Metrics.reconciled(a.Destination, outcome(jobs.Decide(err, job.Attempt, job.MaxAttempts)))
		return err
	}
	if rerr != nil {
		if decision.Final() {
			s.opts.Logger.Warn("Jira sync failed", "alert", a.AlertID, "destination", a.Destination, "error", rerr)
		}
		s.opts.Metrics.reconciled(a.Destination, outcome(decision))
		return decision.River()
	}
	if again {
		s.opts.Metrics.reconciled(a.Destination, outcomeAgain)
		return river.JobSnooze(0)
	}
	s.opts.Metrics.reconciled(a.Destination, outcomeDone)
	return nil
}

// outcome names a run's decision for the reconciles metric: a failure
// that will run again is a retry, whether after backoff or a Retry-After.
func outcome(d jobs.Decision) string {
	switch {
	case d.Kind == jobs.Done:
		return outcomeDone
	case d.Final():
		return outcomeFailed
	}
	return outcomeRetry
}

// classify says what a Jira failure means to the jobs layer: a 429 waits
// for the site's Retry-After, a server or network failure is retried with
// backoff, and any other answer (a 4xx) needs a person.
func classify(err error) error {
	var je *jira.Error
	if err == nil || !errors.As(err, &je) {
		return err
	}
	switch {
	case je.Status == http.StatusTooManyRequests:
		return destination.RetryAfter(err, max(je.RetryAfter, time.Second))
	case je.Temporary():
		return err
	default:
		return destination.Permanent(err)
	}
}

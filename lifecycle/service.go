// Package lifecycle is the alert lifecycle: accepting alerts (in group
// commits), routing them to deliveries, and the changes people make to them
// afterwards. Every change is written with its timeline entry and the jobs
// it causes in one transaction.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/route"
	"github.com/alertbridge/alertbridge/store"
)

// Destination is what the service needs to know of a configured destination.
type Destination struct {
	route.Destination
	Type           string
	ManualDispatch bool
	// IssuePerGroup: the alerts of an Alertmanager or Grafana group routed
	// here share one issue, their group's (jira.issue_per: group).
	IssuePerGroup bool
}

// Errors the API maps to statuses.
var (
	ErrNotFound          = store.ErrNotFound
	ErrUnknownDest       = errors.New("unknown destination")
	ErrDispatchForbidden = errors.New("destination does not allow manual dispatch")
	// ErrCommentLinked: an external comment arrived for one alert but is
	// already linked to another. It is the sender's mistake (or a replay
	// against the wrong issue), not ours, and retrying cannot change it.
	ErrCommentLinked = errors.New("comment is linked to another alert")
)

// Deliveries queues deliveries in the caller's transaction (package
// delivery does).
type Deliveries interface {
	Enqueue(ctx context.Context, tx store.Tx, ds []*store.Delivery) error
}

// Service runs the alert operations.
type Service struct {
	st store.Store
	q  Deliveries
	// dests are swapped whole on a configuration reload; every reader
	// takes one snapshot, so an alert is routed against one configuration.
	dests atomic.Pointer[[]Destination]
	now   func() time.Time
	batch *store.Batcher
	// accept runs Ingest's calls, merged in each group commit.
	accept *store.Merge[[]Item, []Result]
	owned  bool // batch was made here, so Close closes it
	// onChange sees each triage change and comment inside its transaction.
	onChange func(ctx context.Context, tx store.Tx, c Change) error
}

// Options tune the service.
type Options struct {
	// Batch group-commits the service's writes; by default the service makes
	// its own with DefaultBatcher.
	Batch *store.Batcher
	Now   func() time.Time
	// OnChange is called inside the transaction of every status, assignee
	// or comment change, from whatever path (the API, a source resolving or
	// re-firing an alert, a Jira webhook), after it is written, so that
	// work it causes (such as syncing linked issues) is queued atomically
	// with it; an error rolls the change back. The lifecycle package stays
	// free of what that work is.
	OnChange func(ctx context.Context, tx store.Tx, c Change) error
}

// Change is one committed change to an alert, as OnChange sees it.
type Change struct {
	AlertID string
	Actor   string
	// Origin is the destination the change came from; "" for a change made
	// through alertbridge itself. Sync never sends a change back where it
	// came from.
	Origin string
	// OldStatus and NewStatus are set when the status changed.
	OldStatus, NewStatus alert.Status
	// AssigneeChanged reports a new assignee ("" for none).
	AssigneeChanged          bool
	OldAssignee, NewAssignee string
	// Comment is set for a new or (CommentEdited) edited comment.
	Comment       *alert.Comment
	CommentEdited bool
	// Reopened marks a source firing an alert again after it was resolved.
	Reopened bool
	// Group, on the alert standing for a group, is what a notification
	// changed in it: its issue is told in one note, which also carries
	// any status change.
	Group *GroupChange
}

// changed hands a committed change to OnChange.
func (s *Service) changed(ctx context.Context, tx store.Tx, c Change) error {
	if s.onChange == nil {
		return nil
	}
	return s.onChange(ctx, tx, c)
}

// DefaultBatcher is the group committer sized for the store: one writer on
// SQLite (one writer is all it has); on PostgreSQL four: commits overlap
// across connections, and with each commit's statements pipelined and its
// jobs inserted once, fewer, larger groups beat more, smaller ones
// (measured with ingestbench, one destination: 2, 4 and 8 writers gave
// 1,203, 1,635 and 1,396 alerts/s).
func DefaultBatcher(st store.Store) *store.Batcher {
	writers := 1
	if st.Driver() == "postgres" {
		writers = 4
	}
	return store.NewBatcher(st, writers, 256)
}

// New builds the service.
func New(st store.Store, q Deliveries, dests []Destination, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{st: st, q: q, batch: opts.Batch, now: func() time.Time { return opts.Now().UTC() }, onChange: opts.OnChange}
	s.SetDestinations(dests)
	if s.batch == nil {
		s.batch, s.owned = DefaultBatcher(st), true
	}
	s.accept = store.NewMerge(s.batch, s.acceptCalls)
	return s
}

// Close stops accepting alerts and waits for the writers to finish what they
// hold, when the service owns its batcher; a shared one is its owner's to close.
func (s *Service) Close() {
	if s.owned {
		s.batch.Close()
	}
}

// Destinations lists the configured destinations.
func (s *Service) Destinations() []Destination { return *s.dests.Load() }

// SetDestinations replaces the configured destinations (a reload): alerts
// accepted from now on route to them; deliveries already queued keep the
// destination they name.
func (s *Service) SetDestinations(dests []Destination) { s.dests.Store(&dests) }

func (s *Service) destination(name string) (Destination, bool) {
	dests := s.Destinations()
	i := slices.IndexFunc(dests, func(d Destination) bool { return d.Name == name })
	if i < 0 {
		return Destination{}, false
	}
	return dests[i], true
}

func (s *Service) routes() []route.Destination {
	dests := s.Destinations()
	out := make([]route.Destination, len(dests))
	for i, d := range dests {
		out[i] = d.Destination
	}
	return out
}

// Record is an alert with everything that happened to it.
type Record struct {
	Alert      *alert.Alert
	Comments   []alert.Comment
	Timeline   []alert.Event
	Issues     []alert.Issue
	Deliveries []store.Delivery
}

// Get reads an alert and its history.
func (s *Service) Get(ctx context.Context, alertID string) (*Record, error) {
	var r Record
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		r, err = readRecord(ctx, tx, alertID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// recordTx is what reading an alert's record takes.
type recordTx interface {
	store.AlertTx
	store.CommentTx
	store.TimelineTx
	store.IssueTx
	store.DeliveryTx
}

func readRecord(ctx context.Context, tx recordTx, alertID string) (r Record, err error) {
	if r.Alert, err = tx.GetAlert(ctx, alertID); err != nil {
		return r, err
	}
	if r.Comments, err = tx.ListComments(ctx, alertID); err != nil {
		return r, err
	}
	if r.Timeline, err = tx.ListEvents(ctx, alertID); err != nil {
		return r, err
	}
	if r.Issues, err = tx.ListIssues(ctx, alertID); err != nil {
		return r, err
	}
	r.Deliveries, err = tx.ListDeliveries(ctx, alertID)
	return r, err
}

// List pages through alerts, newest first.
func (s *Service) List(ctx context.Context, q store.ListQuery) (as []*alert.Alert, next string, err error) {
	err = s.st.View(ctx, func(tx store.Tx) error {
		as, next, err = tx.ListAlerts(ctx, q)
		return err
	})
	return as, next, err
}

// Patch is a change to an alert's triage state. Nil fields stay as they are.
type Patch struct {
	Status   *alert.Status
	Assignee *string
	Actor    string
	// Origin is the destination the change came from (a Jira webhook), ""
	// for the API.
	Origin string
	// IssueStatus is the status the origin's Jira reported for its issue;
	// it is recorded as the issue's status whether or not the alert changes.
	IssueStatus string
}

// Update applies a patch and records each change on the timeline.
func (s *Service) Update(ctx context.Context, alertID string, p Patch) (*Record, error) {
	var r Record
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.LockAlert(ctx, alertID)
		if err != nil {
			return err
		}
		now := s.now()
		var events []alert.Event
		ch := Change{AlertID: alertID, Actor: p.Actor, Origin: p.Origin}
		if p.Origin != "" && p.IssueStatus != "" {
			if err := tx.SetIssueStatus(ctx, alertID, p.Origin, p.IssueStatus); err != nil {
				return err
			}
		}
		if p.Status != nil && *p.Status != a.Status {
			ch.OldStatus, ch.NewStatus = a.Status, *p.Status
			events = append(events, alert.Event{At: now, Actor: p.Actor, Action: alert.ActionStatusChanged,
				Detail: fmt.Sprintf("%s → %s", a.Status, *p.Status)})
			if a.Status.Firing() != p.Status.Firing() {
				// Not the sender's doing: its next notice decides afresh
				// (see staleNotice), so a person's resolve yields to the
				// alert firing on.
				a.StateSince = time.Time{}
			}
			a.Status = *p.Status
		}
		if p.Assignee != nil && *p.Assignee != a.Assignee {
			ch.AssigneeChanged, ch.OldAssignee, ch.NewAssignee = true, a.Assignee, *p.Assignee
			events = append(events, alert.Event{At: now, Actor: p.Actor, Action: alert.ActionAssigneeChanged,
				Detail: fmt.Sprintf("%s → %s", orNone(a.Assignee), orNone(*p.Assignee))})
			a.Assignee = *p.Assignee
		}
		if len(events) > 0 {
			a.UpdatedAt = now
			if err := tx.UpdateAlertState(ctx, a); err != nil {
				return err
			}
			for _, e := range events {
				if err := tx.AddEvent(ctx, alertID, e); err != nil {
					return err
				}
			}
			if err := s.changed(ctx, tx, ch); err != nil {
				return err
			}
		}
		r, err = readRecord(ctx, tx, alertID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Comment adds a Markdown comment to an alert.
func (s *Service) Comment(ctx context.Context, alertID, author, body string) (*alert.Comment, error) {
	return s.CommentFrom(ctx, alertID, author, body, "", "")
}

// CommentFrom adds a Markdown comment that came from a destination (origin,
// its name) where it is the comment external (Jira's comment id). The two
// are linked (store comment_links, origin "jira"), so that the comment is
// not posted back there, and so that the same external comment arriving
// again — an edit — rewrites the alert comment it became instead of adding
// another. With origin "" it is Comment.
func (s *Service) CommentFrom(ctx context.Context, alertID, author, body, origin, external string) (*alert.Comment, error) {
	now := s.now()
	c := &alert.Comment{AlertID: alertID, Author: author, Body: body, Origin: "alertbridge", CreatedAt: now, UpdatedAt: now}
	if origin != "" {
		c.Origin = "jira:" + origin
	}
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.LockAlert(ctx, alertID); err != nil {
			return err
		}
		ch := Change{AlertID: alertID, Actor: author, Origin: origin, Comment: c}
		linked := false
		if origin != "" && external != "" {
			linkedAlert, id, _, err := tx.CommentLink(ctx, origin, external)
			switch {
			case err == nil && linkedAlert == alertID:
				old, err := tx.GetComment(ctx, id)
				if err != nil {
					return err
				}
				c.ID, c.CreatedAt, c.Origin = old.ID, old.CreatedAt, old.Origin
				if old.Body == body && old.Author == author {
					*c = *old // the same text again: nothing to record or sync
					return nil
				}
				if err := tx.UpdateComment(ctx, c); err != nil {
					return err
				}
				ch.CommentEdited, linked = true, true
			case err == nil:
				return fmt.Errorf("comment %s of %s is linked to alert %s, not %s: %w", external, origin, linkedAlert, alertID, ErrCommentLinked)
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		if !linked {
			if err := tx.AddComment(ctx, c); err != nil {
				return err
			}
			if origin != "" && external != "" {
				if err := tx.LinkComment(ctx, alertID, c.ID, origin, external, store.LinkOriginJira); err != nil {
					return err
				}
			}
		}
		detail := fmt.Sprintf("comment %d", c.ID)
		if linked {
			detail += " edited"
		}
		if origin != "" {
			detail += " (from " + origin + ")"
		}
		if err := tx.AddEvent(ctx, alertID, alert.Event{At: now, Actor: author, Action: alert.ActionCommented, Detail: detail}); err != nil {
			return err
		}
		return s.changed(ctx, tx, ch)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Dispatch sends an alert to a destination on request, whatever its routing
// said, if the destination allows manual dispatch.
func (s *Service) Dispatch(ctx context.Context, alertID, dest, actor string) (*store.Delivery, error) {
	d, ok := s.destination(dest)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownDest, dest)
	}
	if !d.ManualDispatch {
		return nil, fmt.Errorf("%q: %w", dest, ErrDispatchForbidden)
	}
	now := s.now()
	del := &store.Delivery{AlertID: alertID, Destination: dest, Reason: store.ReasonManual, State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now}
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.LockAlert(ctx, alertID); err != nil {
			return err
		}
		if err := s.q.Enqueue(ctx, tx, []*store.Delivery{del}); err != nil {
			return err
		}
		return tx.AddEvent(ctx, alertID, alert.Event{At: now, Actor: actor, Action: alert.ActionDispatched, Detail: dest})
	})
	if err != nil {
		return nil, err
	}
	return del, nil
}

// SendTest stores a sample alert and delivers it to one destination only.
// It returns the test alert's ID, under which its delivery can be followed.
func (s *Service) SendTest(ctx context.Context, dest, actor string) (string, error) {
	if _, ok := s.destination(dest); !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownDest, dest)
	}
	now := s.now()
	a := TestAlert(now)
	del := &store.Delivery{AlertID: a.AlertID, Destination: dest, Reason: store.ReasonTest, State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now}
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.InsertAlert(ctx, a); err != nil {
			return err
		}
		if err := tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: actor, Action: alert.ActionCreated, Detail: "test alert for " + dest}); err != nil {
			return err
		}
		return s.q.Enqueue(ctx, tx, []*store.Delivery{del})
	})
	if err != nil {
		return "", err
	}
	return a.AlertID, nil
}

// TestAlert is the sample alert test deliveries send.
func TestAlert(now time.Time) *alert.Alert {
	return &alert.Alert{
		ID:          "alertbridge.Test",
		AlertID:     fmt.Sprintf("test-%d", now.UnixNano()),
		CreatedAt:   now,
		Severity:    alert.SeverityInfo,
		Type:        alert.TypeRule,
		Title:       "alertbridge test alert",
		Name:        "Test Alert",
		Description: "A test alert sent by alertbridge to check a destination. No action is needed.",
		Tags:        []string{"test"},
		Context:     []byte(`{"test":true}`),
		Source:      alert.SourceTest,
		Status:      alert.StatusOpen,
		UpdatedAt:   now,
	}
}

package jirasync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/store"
)

// run is one reconcile of one issue: what it started from and what it did.
type run struct {
	s  *Syncer
	d  *Destination
	al *alert.Alert
	is *alert.Issue
	st *store.SyncState // updated as effects are confirmed
	// began is the state the run started from, to tell what it changed
	// from what a Jira webhook changed meanwhile.
	began store.SyncState

	// newIssue: the alert fired again after its issue closed, and the
	// destination opens a new issue for it instead of moving the old back.
	newIssue bool
	status   string   // the issue's Jira status, when this run learned it
	done     []string // what was sent, for the timeline
	listed   []jira.CommentWithProperties
	didList  bool
}

// apply sends the difference between the alert and its issue, field by
// field; the first failure stops it, and the next run starts from what
// was confirmed.
func (r *run) apply(ctx context.Context, comments []alert.Comment, outs []store.OutboundComment, legacy map[int64]string) error {
	if err := r.syncStatus(ctx); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if r.newIssue {
		return nil // the old issue is left as it is; the new one gets the rest
	}
	if err := r.syncAssignee(ctx); err != nil {
		return fmt.Errorf("assignee: %w", err)
	}
	if err := r.syncComments(ctx, comments, outs, legacy); err != nil {
		return fmt.Errorf("comments: %w", err)
	}
	return nil
}

// wantStatus is the alert status the issue should stand for, and whether
// it is to be moved there at all. With reopen off, an issue that is done
// stays done when its alert fires again (or is reopened by hand).
func wantStatus(a alert.Status, statusFor string, reopen string) (alert.Status, bool) {
	if statusFor == string(a) {
		return a, false
	}
	closed := statusFor == string(alert.StatusResolved) || statusFor == string(alert.StatusClosed)
	open := a.Firing()
	if reopen == config.ReopenOff && closed && open {
		return a, false
	}
	return a, true
}

func (r *run) syncStatus(ctx context.Context) error {
	if !on(r.d.Sync.Status) {
		return nil
	}
	want, move := wantStatus(r.al.Status, r.st.StatusFor, r.d.Reopen)
	if !move {
		if r.is.Status == "" {
			// The create's answer does not say, and the notifier may not
			// have learned it: the alert's view of its issue is read once.
			iss, err := r.d.Client.GetIssue(ctx, r.is.Key, "status")
			if err != nil {
				return err
			}
			var st jira.Status
			if _, err := iss.Field("status", &st); err != nil {
				return err
			}
			r.status = st.Name
		}
		return nil
	}
	if reopens(want, r.st.StatusFor) && r.newIssueOnReopen() {
		r.newIssue = true
		r.done = append(r.done, fmt.Sprintf("the alert fired again after %s closed: a new issue is opened (reopen: %s)", r.is.Key, r.d.Reopen))
		return nil
	}
	target := r.d.Sync.StatusMap[want]
	if target == "" {
		r.st.StatusFor = string(want)
		r.done = append(r.done, fmt.Sprintf("no Jira status is mapped for %s; status left alone", want))
		return nil
	}
	moved, name, err := r.s.transition(ctx, r.d, r.is.Key, target, statusCategory(want))
	if err != nil {
		return err
	}
	r.st.StatusFor, r.status = string(want), name
	r.st.ClosedAt = closedAt(want, r.st.ClosedAt, r.s.opts.Now())
	r.done = append(r.done, moved)
	return nil
}

func closed(s alert.Status) bool { return s == alert.StatusResolved || s == alert.StatusClosed }

// reopens says whether moving the issue to want is bringing a closed issue
// back.
func reopens(want alert.Status, statusFor string) bool {
	return !closed(want) && closed(alert.Status(statusFor))
}

// closedAt is when an issue that now stands for s closed: kept while it
// stays closed, now when it just closed, zero when it is open.
func closedAt(s alert.Status, was, now time.Time) time.Time {
	switch {
	case !closed(s):
		return time.Time{}
	case was.IsZero():
		return now.UTC()
	}
	return was
}

// newIssueOnReopen applies jira.reopen and jira.reopen_window to an alert
// firing again after its issue closed.
func (r *run) newIssueOnReopen() bool {
	switch {
	case r.d.Reopen == config.ReopenNewIssue:
		return true
	case r.d.ReopenWindow > 0 && !r.st.ClosedAt.IsZero():
		return r.s.opts.Now().Sub(r.st.ClosedAt) > r.d.ReopenWindow
	}
	return false
}

func (r *run) syncAssignee(ctx context.Context) error {
	if !on(r.d.Sync.Assignee) || r.al.Assignee == r.st.Assignee {
		return nil
	}
	did, err := r.s.assign(ctx, r.d, r.al.Assignee, r.is.Key)
	if err != nil {
		return err
	}
	r.st.Assignee = r.al.Assignee
	r.done = append(r.done, did)
	return nil
}

// syncComments posts the alert's comments (not those that came from this
// issue) and the status notes, and edits those whose alert comment changed
// since it was written.
func (r *run) syncComments(ctx context.Context, comments []alert.Comment, outs []store.OutboundComment, legacy map[int64]string) error {
	byComment := map[int64]*store.OutboundComment{}
	var notes []*store.OutboundComment
	for i := range outs {
		if outs[i].CommentID == 0 {
			notes = append(notes, &outs[i])
		} else {
			byComment[outs[i].CommentID] = &outs[i]
		}
	}
	if on(r.d.Sync.Comments) {
		for _, c := range comments {
			if c.Origin == "jira:"+r.d.Name {
				continue // came from this issue: never posted back
			}
			o := byComment[c.ID]
			if o == nil {
				o = &store.OutboundComment{AlertID: c.AlertID, Destination: r.d.Name, CommentID: c.ID, CreatedAt: r.s.opts.Now().UTC()}
				if id, ok := legacy[c.ID]; ok {
					o.JiraCommentID, o.SyncedAt = id, c.UpdatedAt
				}
				if err := r.s.st.InTx(ctx, func(tx store.Tx) error { return tx.AddOutboundComment(ctx, o) }); err != nil {
					return err
				}
			}
			md := fmt.Sprintf("[%s] commented on alertbridge:\n\n%s", c.Author, c.Body)
			if err := r.post(ctx, o, md, &c); err != nil {
				return err
			}
			if c.UpdatedAt.After(o.SyncedAt) {
				// Edited after it was written here (in alertbridge, or in
				// another destination's Jira): an edit is idempotent.
				body, err := r.s.body(ctx, r.d, md)
				if err != nil {
					return err
				}
				if _, err := r.d.Client.UpdateComment(ctx, r.is.Key, o.JiraCommentID, body); err != nil {
					return err
				}
				r.s.opts.Metrics.sent(r.d.Name, fieldCommentEdit)
				o.SyncedAt = c.UpdatedAt
				if err := r.save(ctx, o, nil); err != nil {
					return err
				}
				r.done = append(r.done, fmt.Sprintf("comment %d edited as Jira comment %s", c.ID, o.JiraCommentID))
			}
		}
	}
	for _, o := range notes {
		if err := r.post(ctx, o, o.Note, nil); err != nil {
			return err
		}
	}
	return nil
}

// post writes one comment on the issue exactly once. Before the request
// goes out its row says so; a row that says so and has no Jira comment is
// an earlier post whose outcome is unknown, and the issue's comments are
// searched for its property first — once that post cannot still be in
// flight: it returned, or its timeout has passed since it began (it was
// cut off by a crash, or a replica taken for dead still runs it).
func (r *run) post(ctx context.Context, o *store.OutboundComment, md string, c *alert.Comment) error {
	if o.JiraCommentID != "" {
		return nil
	}
	if !o.SentAt.IsZero() {
		if o.EndedAt.Before(o.SentAt) {
			if wait := o.SentAt.Add(r.d.Client.Timeout()).Sub(r.s.opts.Now()); wait > 0 {
				return destination.RetryAfter(fmt.Errorf("comment %d may still be on its way to %s", o.ID, r.is.Key), wait)
			}
		}
		id, err := r.find(ctx, o)
		if err != nil {
			return err
		}
		if id != "" {
			o.JiraCommentID = id
			if c != nil {
				o.SyncedAt = c.UpdatedAt
			}
			r.done = append(r.done, "found comment "+id+" an earlier attempt posted")
			return r.save(ctx, o, c)
		}
	}
	body, err := r.s.body(ctx, r.d, md)
	if err != nil {
		return err
	}
	o.SentAt = r.s.opts.Now().UTC()
	if err := r.save(ctx, o, nil); err != nil {
		return err
	}
	prop := map[string]any{"outbound": o.ID, "alertId": o.AlertID, "destination": o.Destination}
	jc, err := r.d.Client.AddCommentWithProperty(ctx, r.is.Key, body, PropertyKey, prop)
	o.EndedAt = r.s.opts.Now().UTC()
	if err != nil {
		if serr := r.save(ctx, o, nil); serr != nil {
			return errors.Join(err, serr)
		}
		return err
	}
	o.JiraCommentID = jc.ID
	if c != nil {
		o.SyncedAt = c.UpdatedAt
		r.done = append(r.done, fmt.Sprintf("comment %d posted as Jira comment %s", c.ID, jc.ID))
		r.s.opts.Metrics.sent(r.d.Name, fieldComment)
	} else {
		r.done = append(r.done, "status note posted as Jira comment "+jc.ID)
		r.s.opts.Metrics.sent(r.d.Name, fieldNote)
	}
	return r.save(ctx, o, c)
}

// save writes a comment's row and, once it has a Jira comment, the link
// that tells the inbound webhook for it that it is ours.
func (r *run) save(ctx context.Context, o *store.OutboundComment, c *alert.Comment) error {
	return r.s.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.UpdateOutboundComment(ctx, o); err != nil {
			return err
		}
		if o.JiraCommentID == "" {
			return nil
		}
		return tx.LinkComment(ctx, o.AlertID, o.CommentID, o.Destination, o.JiraCommentID, store.LinkOriginAlertbridge)
	})
}

// find looks for the comment an earlier post of o left, by its property.
// The issue's comments are read once per run.
func (r *run) find(ctx context.Context, o *store.OutboundComment) (string, error) {
	if !r.didList {
		cs, err := r.d.Client.Comments(ctx, r.is.Key)
		if err != nil {
			return "", fmt.Errorf("look for a comment posted earlier: %w", err)
		}
		r.listed, r.didList = cs, true
	}
	for i := range r.listed {
		var p struct {
			Outbound    int64  `json:"outbound"`
			Destination string `json:"destination"`
		}
		ok, err := r.listed[i].Property(PropertyKey, &p)
		if err != nil {
			continue // someone else's property under our key: not ours
		}
		if ok && p.Outbound == o.ID && p.Destination == o.Destination {
			return r.listed[i].ID, nil
		}
	}
	return "", nil
}

// assign gives the issue the Jira user with the alert assignee's e-mail
// ("" unassigns), unless it already has them.
func (s *Syncer) assign(ctx context.Context, d *Destination, email, key string) (string, error) {
	var want *jira.User
	if email != "" {
		u, err := s.user(ctx, d, email)
		if err != nil {
			return "", err
		}
		if u == nil {
			return fmt.Sprintf("no Jira user has the e-mail %s; assignee left alone", email), nil
		}
		want = u
	}
	iss, err := d.Client.GetIssue(ctx, key, "assignee")
	if err != nil {
		return "", err
	}
	var cur jira.User
	has, err := iss.Field("assignee", &cur)
	if err != nil {
		return "", err
	}
	switch {
	case want == nil && !has:
		return "already unassigned", nil
	case want != nil && has && (want.AccountID != "" && want.AccountID == cur.AccountID || want.AccountID == "" && want.Name != "" && want.Name == cur.Name):
		return "already assigned to " + email, nil
	}
	if err := d.Client.AssignIssue(ctx, key, want); err != nil {
		return "", err
	}
	s.opts.Metrics.sent(d.Name, fieldAssignee)
	if want == nil {
		return "unassigned", nil
	}
	return "assigned to " + email, nil
}

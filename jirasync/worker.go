package jirasync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/wiki"
	"github.com/alertbridge/alertbridge/store"
)

type worker struct {
	river.WorkerDefaults[Args]
	s *Syncer
}

// Work runs one sync job and records what it did, or why it could not, on
// the alert's timeline and, for failures a person must act on, on the
// destination's health.
func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	s, a := w.s, job.Args
	d := s.dests[a.Destination]
	if d == nil {
		// A destination removed from the configuration, or one that no
		// longer syncs: nothing to bring into step.
		return nil
	}
	var (
		al *alert.Alert
		is *alert.Issue
	)
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		if al, err = tx.GetAlert(ctx, a.AlertID); err != nil {
			return err
		}
		is, err = tx.GetIssue(ctx, a.AlertID, a.Destination)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // the alert or its link is gone: nothing to sync
	}
	if err != nil {
		return fmt.Errorf("jira sync %s of %s: %w", a.What, a.AlertID, err)
	}
	var result string
	switch a.What {
	case WhatStatus:
		result, err = s.syncStatus(ctx, d, al, is, a)
	case WhatAssignee:
		result, err = s.syncAssignee(ctx, d, al, is)
	case WhatComment:
		result, err = s.syncComment(ctx, d, is, a)
	default:
		return river.JobCancel(fmt.Errorf("jira sync: unknown kind %q", a.What))
	}
	return s.finish(ctx, job, d, is, result, err)
}

// finish records the outcome and tells River what to do next: a 429 waits
// for the site's Retry-After, a server or network failure is retried with
// River's backoff, and anything else (a 4xx, no workflow path) is final.
func (s *Syncer) finish(ctx context.Context, job *river.Job[Args], d *Destination, is *alert.Issue, result string, err error) error {
	a := job.Args
	now := s.opts.Now().UTC()
	actor := "sync:" + d.Name
	if err == nil {
		return s.record(ctx, a.AlertID, alert.Event{At: now, Actor: actor, Action: ActionSynced,
			Detail: fmt.Sprintf("%s %s: %s", a.What, is.Key, result)}, d.Name, "")
	}
	var je *jira.Error
	temporary := !errors.As(err, &je) || je.Temporary()
	if errors.Is(err, errFinal) {
		temporary = false
	}
	if temporary && job.Attempt < job.MaxAttempts {
		if job.Attempt == 1 {
			// Once on the timeline is enough to show the sync is waiting;
			// each retry would only add noise.
			if rerr := s.record(ctx, a.AlertID, alert.Event{At: now, Actor: actor, Action: ActionSyncFailed,
				Detail: fmt.Sprintf("%s %s: %v (will retry)", a.What, is.Key, err)}, "", ""); rerr != nil {
				return rerr
			}
		}
		if je != nil && je.Status == http.StatusTooManyRequests {
			return river.JobSnooze(je.RetryAfter)
		}
		return fmt.Errorf("jira sync %s of %s to %s: %w", a.What, a.AlertID, is.Key, err)
	}
	msg := fmt.Sprintf("%s %s: %v", a.What, is.Key, err)
	if rerr := s.record(ctx, a.AlertID, alert.Event{At: now, Actor: actor, Action: ActionSyncFailed, Detail: msg}, d.Name, "sync "+msg); rerr != nil {
		return rerr
	}
	s.opts.Logger.Warn("Jira sync failed", "alert", a.AlertID, "destination", d.Name, "what", a.What, "error", err)
	return river.JobCancel(fmt.Errorf("jira sync %s of %s: %w", a.What, a.AlertID, err))
}

// record writes a timeline event and, when health names a destination, its
// health: healthErr "" is a success.
func (s *Syncer) record(ctx context.Context, alertID string, e alert.Event, health, healthErr string) error {
	return s.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.AddEvent(ctx, alertID, e); err != nil {
			return err
		}
		if health != "" {
			return tx.RecordDestinationResult(ctx, health, e.At, healthErr)
		}
		return nil
	})
}

// errFinal marks an error no retry can fix.
var errFinal = errors.New("final")

type finalError struct{ msg string }

func (e finalError) Error() string        { return e.msg }
func (e finalError) Is(target error) bool { return target == errFinal }

// statusCategory is the Jira status category an alert status belongs in,
// used to steer a multi-hop path when no transition reaches the target.
func statusCategory(s alert.Status) string {
	switch s {
	case alert.StatusOpen:
		return "new"
	case alert.StatusTriaged:
		return "indeterminate"
	default:
		return "done"
	}
}

var categoryRank = map[string]int{"new": 0, "indeterminate": 1, "done": 2}

func matches(target string, st jira.Status) bool {
	return st.ID == target || strings.EqualFold(st.Name, target)
}

func (s *Syncer) syncStatus(ctx context.Context, d *Destination, al *alert.Alert, is *alert.Issue, a Args) (string, error) {
	target := d.Sync.StatusMap[al.Status]
	var done []string
	if target == "" {
		done = append(done, fmt.Sprintf("no Jira status is mapped for %s; status left alone", al.Status))
	} else {
		moved, err := s.transition(ctx, d, is.Key, target, statusCategory(al.Status))
		if err != nil {
			return "", err
		}
		done = append(done, moved)
	}
	if a.From != "" && a.To != "" {
		// The note is posted even when the issue was already there (another
		// destination's webhook, or a retry, may have moved it): it records
		// the alert's change, not the request.
		note := fmt.Sprintf("%s changed the status from %s to %s", a.Actor, a.From, a.To)
		if err := s.postNote(ctx, d, al.AlertID, is.Key, note); err != nil {
			return "", err
		}
		done = append(done, "comment posted")
	}
	return strings.Join(done, "; "), nil
}

// transition moves an issue to the status named target (id or name).
//
// Jira's REST API shows only the transitions open from the issue's current
// status (the workflow graph needs admin rights), so a path to a status
// that is not one step away can only be explored by moving the issue. Each
// hop takes a transition to a status not yet visited, preferring one in the
// target's category and then one whose category is closest to it (a new →
// in progress → done workflow is walked in order), and looks again from
// there, up to MaxHops. When no unvisited status is left, or the hops run
// out, there is no path: the error says where the issue was left.
func (s *Syncer) transition(ctx context.Context, d *Destination, key, target, category string) (string, error) {
	iss, err := d.Client.GetIssue(ctx, key, "status")
	if err != nil {
		return "", err
	}
	var cur jira.Status
	if _, err := iss.Field("status", &cur); err != nil {
		return "", err
	}
	if matches(target, cur) {
		return fmt.Sprintf("already %s", cur.Name), nil // settled: no request
	}
	start := cur.Name
	visited := map[string]bool{cur.ID + "\x00" + strings.ToLower(cur.Name): true}
	var path []string
	for hop := 0; hop < s.opts.MaxHops; hop++ {
		ts, err := d.Client.Transitions(ctx, key)
		if err != nil {
			return "", err
		}
		var next *jira.Transition
		for i := range ts {
			if matches(target, ts[i].To) {
				next = &ts[i]
				break
			}
		}
		final := next != nil
		if next == nil {
			best := -1
			for i := range ts {
				if visited[ts[i].To.ID+"\x00"+strings.ToLower(ts[i].To.Name)] {
					continue
				}
				score := 10 - abs(categoryRank[ts[i].To.Category]-categoryRank[category])
				if score > best {
					best, next = score, &ts[i]
				}
			}
		}
		if next == nil {
			break
		}
		if err := d.Client.DoTransition(ctx, key, next.ID); err != nil {
			return "", err
		}
		path = append(path, fmt.Sprintf("%s (%s)", next.To.Name, next.Name))
		visited[next.To.ID+"\x00"+strings.ToLower(next.To.Name)] = true
		if final {
			return fmt.Sprintf("transitioned %s → %s", start, strings.Join(path, " → ")), nil
		}
	}
	where := start
	if len(path) > 0 {
		where = strings.Join(path, " → ") + ", where it was left"
	}
	return "", finalError{fmt.Sprintf("no workflow path from %s to status %q within %d transitions (tried %s)", start, target, s.opts.MaxHops, where)}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// postNote posts a comment of alertbridge's own and links it (to no alert
// comment), so that the webhook Jira sends for it is known to be ours.
func (s *Syncer) postNote(ctx context.Context, d *Destination, alertID, key, md string) error {
	body, err := s.body(ctx, d, md)
	if err != nil {
		return err
	}
	c, err := d.Client.AddComment(ctx, key, body)
	if err != nil {
		return err
	}
	return s.st.InTx(ctx, func(tx store.Tx) error {
		return tx.LinkComment(ctx, alertID, 0, d.Name, c.ID, store.LinkOriginAlertbridge)
	})
}

// body converts Markdown to the deployment's comment body: ADF on Cloud,
// wiki markup on Data Center.
func (s *Syncer) body(ctx context.Context, d *Destination, md string) (any, error) {
	dep, err := d.Client.Deployment(ctx)
	if err != nil {
		return nil, err
	}
	if dep == jira.DeploymentCloud {
		return adf.FromMarkdown(md), nil
	}
	return wiki.FromMarkdown(md), nil
}

func (s *Syncer) syncAssignee(ctx context.Context, d *Destination, al *alert.Alert, is *alert.Issue) (string, error) {
	var want *jira.User
	if al.Assignee != "" {
		u, err := s.user(ctx, d, al.Assignee)
		if err != nil {
			return "", err
		}
		if u == nil {
			return fmt.Sprintf("no Jira user has the e-mail %s; assignee left alone", al.Assignee), nil
		}
		want = u
	}
	iss, err := d.Client.GetIssue(ctx, is.Key, "assignee")
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
		return "already assigned to " + al.Assignee, nil
	}
	if err := d.Client.AssignIssue(ctx, is.Key, want); err != nil {
		return "", err
	}
	if want == nil {
		return "unassigned", nil
	}
	return "assigned to " + al.Assignee, nil
}

// user finds the Jira user with an e-mail through the jira_users cache.
func (s *Syncer) user(ctx context.Context, d *Destination, email string) (*jira.User, error) {
	now := s.opts.Now().UTC()
	var cached *store.JiraUser
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		cached, err = tx.GetJiraUser(ctx, d.Name, strings.ToLower(email))
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if cached != nil {
		ttl := s.opts.UserTTL
		if cached.AccountID == "" {
			ttl /= 10
		}
		if now.Sub(cached.FoundAt) < ttl {
			if cached.AccountID == "" {
				return nil, nil
			}
			return &jira.User{AccountID: cached.AccountID, Name: cached.Name, EmailAddress: email}, nil
		}
	}
	u, err := d.Client.FindUserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	entry := store.JiraUser{Destination: d.Name, Email: strings.ToLower(email), FoundAt: now}
	if u != nil {
		entry.AccountID, entry.Name = u.AccountID, u.Name
		if entry.AccountID == "" {
			// Data Center identifies users by name; keep it in both columns
			// so an empty account id still means "not found".
			entry.AccountID = u.Name
		}
	}
	if err := s.st.InTx(ctx, func(tx store.Tx) error { return tx.PutJiraUser(ctx, entry) }); err != nil {
		return nil, err
	}
	return u, nil
}

func (s *Syncer) syncComment(ctx context.Context, d *Destination, is *alert.Issue, a Args) (string, error) {
	var (
		c      *alert.Comment
		linked string
	)
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		if c, err = tx.GetComment(ctx, a.CommentID); err != nil {
			return err
		}
		linked, err = tx.JiraCommentOf(ctx, a.CommentID, d.Name)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if c.Origin == "jira:"+d.Name {
		return "came from this issue; not posted back", nil
	}
	md := fmt.Sprintf("[%s] commented on alertbridge:\n\n%s", c.Author, c.Body)
	body, err := s.body(ctx, d, md)
	if err != nil {
		return "", err
	}
	if linked != "" {
		// The comment was edited (in another destination's Jira) after we
		// posted it here: edit ours to match.
		if _, err := d.Client.UpdateComment(ctx, is.Key, linked, body); err != nil {
			return "", err
		}
		return fmt.Sprintf("comment %d updated as Jira comment %s", c.ID, linked), nil
	}
	jc, err := d.Client.AddComment(ctx, is.Key, body)
	if err != nil {
		return "", err
	}
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		return tx.LinkComment(ctx, c.AlertID, c.ID, d.Name, jc.ID, store.LinkOriginAlertbridge)
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("comment %d posted as Jira comment %s", c.ID, jc.ID), nil
}

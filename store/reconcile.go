package store

import (
	"context"
	"fmt"
	"time"
)

// SyncState is what reconciliation keeps for one alert and destination.
type SyncState struct {
	AlertID, Destination string
	// Wanted counts changes; Done is the Wanted a reconcile last finished.
	Wanted, Done int64
	// StatusFor is the alert status the issue's Jira status stands for;
	// "" when unknown.
	StatusFor string
	// Assignee is the alert assignee last confirmed on the issue.
	Assignee string
	// ClosedAt is when the issue was last seen to close (zero: open).
	ClosedAt time.Time
}

// OutboundComment is one comment alertbridge writes on an issue.
type OutboundComment struct {
	ID          int64
	AlertID     string
	Destination string
	CommentID   int64  // the alert comment; 0 for a status note
	Note        string // a status note's Markdown
	CreatedAt   time.Time
	// SentAt is when the last post began; with no JiraCommentID its
	// outcome is unknown. EndedAt is when it returned, answered or not.
	SentAt, EndedAt time.Time
	JiraCommentID   string
	// SyncedAt is the alert comment's UpdatedAt last written to Jira.
	SyncedAt time.Time
}

// BumpSync records a change that the pair's issue must follow, creating
// the pair's row on its first change; it holds the row until the
// transaction ends, which is what orders it against a finishing reconcile.
func (t *tx) BumpSync(ctx context.Context, alertID, destination string) error {
	_, err := t.q.exec(ctx, `INSERT INTO issue_sync (alert_id, destination, wanted) VALUES (?, ?, 1)
		ON CONFLICT (alert_id, destination) DO UPDATE SET wanted = issue_sync.wanted + 1`, alertID, destination)
	if err != nil {
		return fmt.Errorf("note a change of alert %s for %s: %w", alertID, destination, err)
	}
	return nil
}

func (t *tx) getSync(ctx context.Context, alertID, destination, suffix string) (*SyncState, error) {
	s := SyncState{AlertID: alertID, Destination: destination}
	var closed int64
	err := t.q.queryRow(ctx, `SELECT wanted, done, status_for, assignee, closed_at FROM issue_sync WHERE alert_id = ? AND destination = ?`+suffix,
		alertID, destination).Scan(&s.Wanted, &s.Done, &s.StatusFor, &s.Assignee, &closed)
	if err != nil {
		return nil, fmt.Errorf("read sync state of alert %s in %s: %w", alertID, destination, err)
	}
	s.ClosedAt = fromMicros(closed)
	return &s, nil
}

// GetSync reads a pair's sync state; ErrNotFound before its first change.
func (t *tx) GetSync(ctx context.Context, alertID, destination string) (*SyncState, error) {
	return t.getSync(ctx, alertID, destination, "")
}

// LockSync reads a pair's sync state and holds it against BumpSync until
// the transaction ends.
func (t *tx) LockSync(ctx context.Context, alertID, destination string) (*SyncState, error) {
	return t.getSync(ctx, alertID, destination, t.forUpdate)
}

// PutSync writes a pair's done generation and what is confirmed on its
// issue; wanted is only ever raised, by BumpSync, and is not written here
// unless the row is new.
func (t *tx) PutSync(ctx context.Context, s *SyncState) error {
	_, err := t.q.exec(ctx, `INSERT INTO issue_sync (alert_id, destination, wanted, done, status_for, assignee, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (alert_id, destination) DO UPDATE SET done = excluded.done, status_for = excluded.status_for,
			assignee = excluded.assignee, closed_at = excluded.closed_at`,
		s.AlertID, s.Destination, s.Wanted, s.Done, s.StatusFor, s.Assignee, micros(s.ClosedAt))
	if err != nil {
		return fmt.Errorf("write sync state of alert %s in %s: %w", s.AlertID, s.Destination, err)
	}
	return nil
}

// UnlinkIssue forgets the issue of an alert in a destination, so that a
// new one is made for it (an alert firing again after its issue closed,
// with jira.reopen: new_issue).
func (t *tx) UnlinkIssue(ctx context.Context, alertID, destination string) error {
	if _, err := t.q.exec(ctx, `DELETE FROM issues WHERE alert_id = ? AND destination = ?`, alertID, destination); err != nil {
		return fmt.Errorf("unlink the issue of alert %s in %s: %w", alertID, destination, err)
	}
	return nil
}

// SetIssueStatus records the status Jira last reported for an issue.
func (t *tx) SetIssueStatus(ctx context.Context, alertID, destination, status string) error {
	_, err := t.q.exec(ctx, `UPDATE issues SET status = ? WHERE alert_id = ? AND destination = ?`, status, alertID, destination)
	if err != nil {
		return fmt.Errorf("record the status of alert %s's issue in %s: %w", alertID, destination, err)
	}
	return nil
}

// AddOutboundComment stores a comment to write on an issue; its ID is set
// on return.
func (t *tx) AddOutboundComment(ctx context.Context, c *OutboundComment) error {
	err := t.q.queryRow(ctx, `INSERT INTO outbound_comments (alert_id, destination, comment_id, note, created_at, sent_at, ended_at, jira_comment_id, synced_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.AlertID, c.Destination, c.CommentID, c.Note, micros(c.CreatedAt), micros(c.SentAt), micros(c.EndedAt), c.JiraCommentID, micros(c.SyncedAt)).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("queue a comment of alert %s for %s: %w", c.AlertID, c.Destination, err)
	}
	return nil
}

// UpdateOutboundComment writes a comment's send state.
func (t *tx) UpdateOutboundComment(ctx context.Context, c *OutboundComment) error {
	_, err := t.q.exec(ctx, `UPDATE outbound_comments SET sent_at = ?, ended_at = ?, jira_comment_id = ?, synced_at = ? WHERE id = ?`,
		micros(c.SentAt), micros(c.EndedAt), c.JiraCommentID, micros(c.SyncedAt), c.ID)
	if err != nil {
		return fmt.Errorf("update outbound comment %d: %w", c.ID, err)
	}
	return nil
}

// ListOutboundComments lists what alertbridge writes on an alert's issue in
// a destination, oldest first.
func (t *tx) ListOutboundComments(ctx context.Context, alertID, destination string) ([]OutboundComment, error) {
	rs, err := t.q.query(ctx, `SELECT id, comment_id, note, created_at, sent_at, ended_at, jira_comment_id, synced_at
		FROM outbound_comments WHERE alert_id = ? AND destination = ? ORDER BY id`, alertID, destination)
	if err != nil {
		return nil, fmt.Errorf("list outbound comments of alert %s in %s: %w", alertID, destination, err)
	}
	defer rs.Close()
	var out []OutboundComment
	for rs.Next() {
		c := OutboundComment{AlertID: alertID, Destination: destination}
		var created, sent, ended, synced int64
		if err := rs.Scan(&c.ID, &c.CommentID, &c.Note, &created, &sent, &ended, &c.JiraCommentID, &synced); err != nil {
			return nil, fmt.Errorf("list outbound comments of alert %s in %s: %w", alertID, destination, err)
		}
		c.CreatedAt, c.SentAt, c.EndedAt, c.SyncedAt = fromMicros(created), fromMicros(sent), fromMicros(ended), fromMicros(synced)
		out = append(out, c)
	}
	return out, rs.Err()
}

// ClaimDelivery starts an attempt of d: it counts it and notes when it
// began, before anything is sent, and only if no other run claimed an
// attempt since d was read. It reports false when one did (d is then
// stale: another run owns the delivery).
func (t *tx) ClaimDelivery(ctx context.Context, d *Delivery, at time.Time) (bool, error) {
	n, err := t.q.exec(ctx, `UPDATE deliveries SET attempts = attempts + 1, sending_since = ?, updated_at = ?
		WHERE id = ? AND attempts = ? AND state IN ('pending', 'retrying')`,
		micros(at), micros(at), d.ID, d.Attempts)
	if err != nil {
		return false, fmt.Errorf("claim an attempt of delivery %d: %w", d.ID, err)
	}
	if n == 0 {
		return false, nil
	}
	d.Attempts++
	d.SendingSince, d.UpdatedAt = at.UTC(), at.UTC()
	return true, nil
}

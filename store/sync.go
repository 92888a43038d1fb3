package store

import (
	"context"
	"fmt"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// Comment link origins: which side a mirrored comment was first written on.
const (
	LinkOriginAlertbridge = "alertbridge"
	LinkOriginJira        = "jira"
)

// JiraUser is a cached e-mail → Jira user lookup for one destination. An
// empty AccountID records that no user had the e-mail when FoundAt was.
type JiraUser struct {
	Destination string
	Email       string
	AccountID   string // accountId on Cloud, the user name on Data Center
	Name        string
	FoundAt     time.Time
}

func (t *tx) LinkComment(ctx context.Context, alertID string, commentID int64, destination, jiraCommentID, origin string) error {
	_, err := t.q.exec(ctx, `INSERT INTO comment_links (alert_id, comment_id, destination, jira_comment_id, origin)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (destination, jira_comment_id) DO UPDATE SET alert_id = excluded.alert_id,
			comment_id = excluded.comment_id, origin = excluded.origin`,
		alertID, commentID, destination, jiraCommentID, origin)
	if err != nil {
		return fmt.Errorf("link comment %d of alert %s to %s comment %s: %w", commentID, alertID, destination, jiraCommentID, err)
	}
	return nil
}

func (t *tx) CommentLink(ctx context.Context, destination, jiraCommentID string) (alertID string, commentID int64, origin string, err error) {
	err = t.q.queryRow(ctx, `SELECT alert_id, comment_id, origin FROM comment_links WHERE destination = ? AND jira_comment_id = ?`,
		destination, jiraCommentID).Scan(&alertID, &commentID, &origin)
	if err != nil {
		return "", 0, "", fmt.Errorf("find link of %s comment %s: %w", destination, jiraCommentID, err)
	}
	return alertID, commentID, origin, nil
}

func (t *tx) JiraCommentOf(ctx context.Context, commentID int64, destination string) (string, error) {
	var id string
	err := t.q.queryRow(ctx, `SELECT jira_comment_id FROM comment_links WHERE comment_id = ? AND destination = ?`,
		commentID, destination).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("find %s comment of comment %d: %w", destination, commentID, err)
	}
	return id, nil
}

func (t *tx) GetComment(ctx context.Context, id int64) (*alert.Comment, error) {
	c := alert.Comment{ID: id}
	var created, updated int64
	err := t.q.queryRow(ctx, `SELECT alert_id, author, body, origin, created_at, updated_at FROM comments WHERE id = ?`, id).
		Scan(&c.AlertID, &c.Author, &c.Body, &c.Origin, &created, &updated)
	if err != nil {
		return nil, fmt.Errorf("get comment %d: %w", id, err)
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

func (t *tx) UpdateComment(ctx context.Context, c *alert.Comment) error {
	n, err := t.q.exec(ctx, `UPDATE comments SET author = ?, body = ?, updated_at = ? WHERE id = ?`,
		c.Author, c.Body, micros(c.UpdatedAt), c.ID)
	if err != nil {
		return fmt.Errorf("update comment %d: %w", c.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("update comment %d: %w", c.ID, ErrNotFound)
	}
	return nil
}

func (t *tx) GetJiraUser(ctx context.Context, destination, email string) (*JiraUser, error) {
	u := JiraUser{Destination: destination, Email: email}
	var found int64
	err := t.q.queryRow(ctx, `SELECT account_id, name, found_at FROM jira_users WHERE destination = ? AND email = ?`,
		destination, email).Scan(&u.AccountID, &u.Name, &found)
	if err != nil {
		return nil, fmt.Errorf("get %s user for %s: %w", destination, email, err)
	}
	u.FoundAt = fromMicros(found)
	return &u, nil
}

func (t *tx) PutJiraUser(ctx context.Context, u JiraUser) error {
	_, err := t.q.exec(ctx, `INSERT INTO jira_users (destination, email, account_id, name, found_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (destination, email) DO UPDATE SET account_id = excluded.account_id, name = excluded.name,
			found_at = excluded.found_at`,
		u.Destination, u.Email, u.AccountID, u.Name, micros(u.FoundAt))
	if err != nil {
		return fmt.Errorf("cache %s user for %s: %w", u.Destination, u.Email, err)
	}
	return nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Inbound Jira webhooks: replay protection and the issue → alert lookup.

func (t *tx) JiraWebhookSeen(ctx context.Context, destination, identifier string) (bool, error) {
	var n int64
	err := t.q.queryRow(ctx, `SELECT COUNT(*) FROM jira_webhooks WHERE destination = ? AND identifier = ?`,
		destination, identifier).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up jira webhook %s of %s: %w", identifier, destination, err)
	}
	return n > 0, nil
}

func (t *tx) MarkJiraWebhook(ctx context.Context, destination, identifier string, at time.Time) error {
	_, err := t.q.exec(ctx, `INSERT INTO jira_webhooks (destination, identifier, received_at) VALUES (?, ?, ?)
		ON CONFLICT (destination, identifier) DO NOTHING`, destination, identifier, micros(at))
	if err != nil {
		return fmt.Errorf("mark jira webhook %s of %s: %w", identifier, destination, err)
	}
	return nil
}

func (t *tx) PruneJiraWebhooks(ctx context.Context, before time.Time) (int64, error) {
	n, err := t.q.exec(ctx, `DELETE FROM jira_webhooks WHERE received_at < ?`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("prune jira webhooks: %w", err)
	}
	return n, nil
}

func (t *tx) AlertByIssue(ctx context.Context, destination, key, id string) (string, error) {
	// An empty key or id must not match rows whose column is empty.
	var alertID string
	err := t.q.queryRow(ctx, `SELECT alert_id FROM issues
		WHERE destination = ? AND ((key = ? AND key <> '') OR (external_id = ? AND external_id <> ''))
		ORDER BY alert_id LIMIT 1`, destination, key, id).Scan(&alertID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return "", ErrNotFound
		}
		return "", fmt.Errorf("find the alert of issue %s (id %s) in %s: %w", key, id, destination, err)
	}
	return alertID, nil
}

package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/alertbridge/alertbridge/alert"
)

// GroupTx keeps the members of the alerts that stand for groups.
type GroupTx interface {
	// AddGroupMembers makes alerts members of a group; a member already
	// there stays as it is.
	AddGroupMembers(ctx context.Context, groupID string, alertIDs []string) error
	// GroupMembersAmong reports which of alertIDs are members of the group.
	GroupMembersAmong(ctx context.Context, groupID string, alertIDs []string) (map[string]bool, error)
	// CountGroup counts a group's members, and those open or triaged.
	CountGroup(ctx context.Context, groupID string) (members, firing int, err error)
	// ListGroupMembers lists up to limit members, those firing first, each
	// set in the order it arrived.
	ListGroupMembers(ctx context.Context, groupID string, limit int) ([]*alert.Alert, error)
	// UpdateGroupAlert rewrites what the alert standing for a group says of
	// it: its group facts and its context.
	UpdateGroupAlert(ctx context.Context, a *alert.Alert) error
}

// groupChunk bounds the rows of one statement, well inside both databases'
// limits on bound parameters.
const groupChunk = 500

func (t *tx) AddGroupMembers(ctx context.Context, groupID string, alertIDs []string) error {
	for len(alertIDs) > 0 {
		n := min(len(alertIDs), groupChunk)
		args := make([]any, 0, 2*n)
		for _, id := range alertIDs[:n] {
			args = append(args, groupID, id)
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ")
		if _, err := t.q.exec(ctx, `INSERT INTO group_members (group_id, alert_id) VALUES `+values+
			` ON CONFLICT (group_id, alert_id) DO NOTHING`, args...); err != nil {
			return fmt.Errorf("add members to group %s: %w", groupID, err)
		}
		alertIDs = alertIDs[n:]
	}
	return nil
}

func (t *tx) GroupMembersAmong(ctx context.Context, groupID string, alertIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(alertIDs) > 0 {
		n := min(len(alertIDs), groupChunk)
		args := make([]any, 0, n+1)
		args = append(args, groupID)
		for _, id := range alertIDs[:n] {
			args = append(args, id)
		}
		if err := into(out)(t.q.query(ctx, `SELECT alert_id FROM group_members WHERE group_id = ? AND alert_id IN (`+
			strings.TrimSuffix(strings.Repeat("?, ", n), ", ")+`)`, args...)); err != nil {
			return nil, fmt.Errorf("members of group %s: %w", groupID, err)
		}
		alertIDs = alertIDs[n:]
	}
	return out, nil
}

// firingStatus is SQL true for a member that is still firing.
const firingStatus = `a.status IN ('` + string(alert.StatusOpen) + `', '` + string(alert.StatusTriaged) + `')`

func (t *tx) CountGroup(ctx context.Context, groupID string) (members, firing int, err error) {
	err = t.q.queryRow(ctx, `SELECT count(*), coalesce(sum(CASE WHEN `+firingStatus+` THEN 1 ELSE 0 END), 0)
		FROM group_members g JOIN alerts a ON a.alert_id = g.alert_id WHERE g.group_id = ?`, groupID).Scan(&members, &firing)
	if err != nil {
		return 0, 0, fmt.Errorf("count group %s: %w", groupID, err)
	}
	return members, firing, nil
}

func (t *tx) ListGroupMembers(ctx context.Context, groupID string, limit int) ([]*alert.Alert, error) {
	rs, err := t.q.query(ctx, `SELECT a.seq, a.status, a.assignee, a.updated_at, a.state_since, a.body
		FROM group_members g JOIN alerts a ON a.alert_id = g.alert_id WHERE g.group_id = ?
		ORDER BY CASE WHEN `+firingStatus+` THEN 0 ELSE 1 END, a.seq LIMIT ?`, groupID, limit)
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", groupID, err)
	}
	defer rs.Close()
	var out []*alert.Alert
	for rs.Next() {
		a, _, err := scanAlert(rs)
		if err != nil {
			return nil, fmt.Errorf("list members of group %s: %w", groupID, err)
		}
		out = append(out, a)
	}
	return out, rs.Err()
}

func (t *tx) UpdateGroupAlert(ctx context.Context, a *alert.Alert) error {
	body, err := json.Marshal((*alertBody)(a))
	if err != nil {
		return fmt.Errorf("update group alert %s: encode: %w", a.AlertID, err)
	}
	n, err := t.q.exec(ctx, `UPDATE alerts SET body = ?, updated_at = ? WHERE alert_id = ?`, string(body), micros(a.UpdatedAt), a.AlertID)
	if err != nil {
		return fmt.Errorf("update group alert %s: %w", a.AlertID, err)
	}
	if n == 0 {
		return fmt.Errorf("update group alert %s: %w", a.AlertID, ErrNotFound)
	}
	return nil
}

package store

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// DetectionGroup is the stored dedup state of one rule and dedup string.
// State holds the detection engine's own record (ruleengine.Group as JSON); the
// other fields repeat what is worth querying, plus what only the store
// tracks (the comment throttle).
type DetectionGroup struct {
	RuleID      string
	Dedup       string
	PeriodStart time.Time
	PeriodEnd   time.Time
	Count       int
	FirstSeen   time.Time
	LastSeen    time.Time
	Raised      bool
	AlertID     string
	// CommentedCount is the match count the last issue comment summarised;
	// CommentedAt when it was written.
	CommentedCount int
	CommentedAt    time.Time
	State          json.RawMessage
	UpdatedAt      time.Time
}

// groupLockKey is the advisory lock serialising writers of one group on
// PostgreSQL. A row lock is not enough: two transactions creating the same
// new group would both find no row to lock.
func groupLockKey(ruleID, dedup string) int64 {
	h := fnv.New64a()
	h.Write([]byte("detection-group\x00"))
	h.Write([]byte(ruleID))
	h.Write([]byte{0})
	h.Write([]byte(dedup))
	return int64(h.Sum64())
}

func (t *tx) LockDetectionGroup(ctx context.Context, ruleID, dedup string) (*DetectionGroup, error) {
	if err := t.AdvisoryLock(ctx, groupLockKey(ruleID, dedup)); err != nil {
		return nil, fmt.Errorf("lock detection group %s: %w", ruleID, err)
	}
	var (
		g                                       = DetectionGroup{RuleID: ruleID, Dedup: dedup}
		start, end, first, last, commented, upd int64
		raised                                  int64
		state                                   string
	)
	err := t.q.queryRow(ctx, `SELECT period_start, period_end, match_count, first_seen, last_seen, raised, alert_id,
			commented_count, commented_at, state, updated_at
		FROM detection_groups WHERE rule_id = ? AND dedup = ?`+t.forUpdate, ruleID, dedup).
		Scan(&start, &end, &g.Count, &first, &last, &raised, &g.AlertID, &g.CommentedCount, &commented, &state, &upd)
	if err != nil {
		return nil, fmt.Errorf("lock detection group %s: %w", ruleID, err)
	}
	g.PeriodStart, g.PeriodEnd, g.FirstSeen, g.LastSeen = fromMicros(start), fromMicros(end), fromMicros(first), fromMicros(last)
	g.CommentedAt, g.UpdatedAt, g.Raised, g.State = fromMicros(commented), fromMicros(upd), raised != 0, json.RawMessage(state)
	return &g, nil
}

func (t *tx) PutDetectionGroup(ctx context.Context, g *DetectionGroup) error {
	raised := 0
	if g.Raised {
		raised = 1
	}
	_, err := t.q.exec(ctx, `INSERT INTO detection_groups (rule_id, dedup, period_start, period_end, match_count,
			first_seen, last_seen, raised, alert_id, commented_count, commented_at, state, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (rule_id, dedup) DO UPDATE SET period_start = excluded.period_start, period_end = excluded.period_end,
			match_count = excluded.match_count, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
			raised = excluded.raised, alert_id = excluded.alert_id, commented_count = excluded.commented_count,
			commented_at = excluded.commented_at, state = excluded.state, updated_at = excluded.updated_at`,
		g.RuleID, g.Dedup, micros(g.PeriodStart), micros(g.PeriodEnd), g.Count, micros(g.FirstSeen), micros(g.LastSeen),
		raised, g.AlertID, g.CommentedCount, micros(g.CommentedAt), string(g.State), micros(g.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put detection group %s: %w", g.RuleID, err)
	}
	return nil
}

func (t *tx) ExpireDetectionGroups(ctx context.Context, before time.Time) (int64, error) {
	n, err := t.q.exec(ctx, `DELETE FROM detection_groups WHERE period_end <= ? AND updated_at <= ?`, micros(before), micros(before))
	if err != nil {
		return 0, fmt.Errorf("expire detection groups: %w", err)
	}
	return n, nil
}

func (t *tx) MarkSourceEvents(ctx context.Context, source string, ids []string, at time.Time) ([]bool, error) {
	fresh := make([]bool, len(ids))
	for i, id := range ids {
		n, err := t.q.exec(ctx, `INSERT INTO source_events (source, event_id, seen_at) VALUES (?, ?, ?)
			ON CONFLICT (source, event_id) DO NOTHING`, source, id, micros(at))
		if err != nil {
			return nil, fmt.Errorf("mark event %s of source %s: %w", id, source, err)
		}
		fresh[i] = n == 1
	}
	return fresh, nil
}

func (t *tx) PruneSourceEvents(ctx context.Context, source string, seenBefore time.Time) (int64, error) {
	n, err := t.q.exec(ctx, `DELETE FROM source_events WHERE source = ? AND seen_at < ?`, source, micros(seenBefore))
	if err != nil {
		return 0, fmt.Errorf("prune events of source %s: %w", source, err)
	}
	return n, nil
}

func (t *tx) UpdateAlertDetection(ctx context.Context, alertID string, d alert.Detection, at time.Time) error {
	a, err := t.LockAlert(ctx, alertID)
	if err != nil {
		return fmt.Errorf("update detection facts: %w", err)
	}
	a.Detection = &d
	a.UpdatedAt = at
	body, err := json.Marshal((*alertBody)(a))
	if err != nil {
		return fmt.Errorf("update detection facts of alert %s: encode: %w", alertID, err)
	}
	if _, err := t.q.exec(ctx, `UPDATE alerts SET body = ?, updated_at = ? WHERE alert_id = ?`,
		string(body), micros(at), alertID); err != nil {
		return fmt.Errorf("update detection facts of alert %s: %w", alertID, err)
	}
	return nil
}

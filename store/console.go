package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// ConsoleTx is what the web console keeps and reads besides alerts:
// sign-in sessions, failed sign-ins, and summaries for its pages.
type ConsoleTx interface {
	PutSession(ctx context.Context, s Session) error
	// GetSession reads a session by the hash of its cookie; ErrNotFound
	// when there is none (expired sessions are still returned: the caller
	// compares ExpiresAt with its clock).
	GetSession(ctx context.Context, idHash string) (*Session, error)
	DeleteSession(ctx context.Context, idHash string) error
	PruneSessions(ctx context.Context, expiredBefore time.Time) (int64, error)
	// LoginFailures reads a key's failed sign-ins in a row; zero when none.
	LoginFailures(ctx context.Context, key string) (int, time.Time, error)
	// RecordLoginFailure counts one more failure at at; a key whose last
	// failure was before restartBefore starts again from one.
	RecordLoginFailure(ctx context.Context, key string, at, restartBefore time.Time) error
	ClearLoginFailures(ctx context.Context, key string) error

	// CountAlerts counts the alerts q selects in each status, ignoring its
	// status, cursor and limit, and stopping at upTo+1 in each: a count
	// over upTo means "more than upTo".
	CountAlerts(ctx context.Context, q ListQuery, upTo int) (map[alert.Status]int, error)
	// IssuesOf lists the issues of several alerts at once.
	IssuesOf(ctx context.Context, alertIDs []string) (map[string][]alert.Issue, error)
	// LatestAlertOf is the newest alert of a rule (by its id) of the given
	// type; ErrNotFound when it has none.
	LatestAlertOf(ctx context.Context, ruleID string, typ alert.Type) (*alert.Alert, error)
	// SyncStates lists the sync state of each of an alert's issues.
	SyncStates(ctx context.Context, alertID string) ([]SyncState, error)
	// Checkpoint reads a source's position and when it was written;
	// ErrNotFound when it has none.
	Checkpoint(ctx context.Context, name string) (string, time.Time, error)
}

// Session is one signed-in browser.
type Session struct {
	IDHash    string
	Username  string
	Method    string // "password" or "oidc"
	CreatedAt time.Time
	ExpiresAt time.Time
}

func (t *tx) PutSession(ctx context.Context, s Session) error {
	_, err := t.q.exec(ctx, `INSERT INTO console_sessions (id_hash, username, method, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		s.IDHash, s.Username, s.Method, micros(s.CreatedAt), micros(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store a session of %s: %w", s.Username, err)
	}
	return nil
}

func (t *tx) GetSession(ctx context.Context, idHash string) (*Session, error) {
	s := Session{IDHash: idHash}
	var created, expires int64
	err := t.q.queryRow(ctx, `SELECT username, method, created_at, expires_at FROM console_sessions WHERE id_hash = ?`, idHash).
		Scan(&s.Username, &s.Method, &created, &expires)
	if err != nil {
		return nil, fmt.Errorf("read a session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &s, nil
}

func (t *tx) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := t.q.exec(ctx, `DELETE FROM console_sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("end a session: %w", err)
	}
	return nil
}

func (t *tx) PruneSessions(ctx context.Context, expiredBefore time.Time) (int64, error) {
	n, err := t.q.exec(ctx, `DELETE FROM console_sessions WHERE expires_at < ?`, micros(expiredBefore))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return n, nil
}

func (t *tx) LoginFailures(ctx context.Context, key string) (int, time.Time, error) {
	var (
		n    int
		last int64
	)
	err := t.q.queryRow(ctx, `SELECT failures, last_at FROM login_failures WHERE key = ?`, key).Scan(&n, &last)
	if errors.Is(err, ErrNotFound) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read failed sign-ins: %w", err)
	}
	return n, fromMicros(last), nil
}

func (t *tx) RecordLoginFailure(ctx context.Context, key string, at, restartBefore time.Time) error {
	_, err := t.q.exec(ctx, `INSERT INTO login_failures (key, failures, last_at) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at,
			failures = CASE WHEN login_failures.last_at < ? THEN 1 ELSE login_failures.failures + 1 END`,
		key, micros(at), micros(restartBefore))
	if err != nil {
		return fmt.Errorf("count a failed sign-in: %w", err)
	}
	return nil
}

func (t *tx) ClearLoginFailures(ctx context.Context, key string) error {
	if _, err := t.q.exec(ctx, `DELETE FROM login_failures WHERE key = ?`, key); err != nil {
		return fmt.Errorf("clear failed sign-ins: %w", err)
	}
	return nil
}

// listFilter is the WHERE of the alert list but for status and cursor,
// shared by the list and its counts.
func (t *tx) listFilter(lq ListQuery) (where []string, args []any) {
	if lq.Severity != "" {
		where, args = append(where, "severity = ?"), append(args, string(lq.Severity))
	}
	if !lq.IncludeTest {
		where, args = append(where, "source <> ?"), append(args, string(alert.SourceTest))
	}
	if lq.RuleID != "" {
		where, args = append(where, "rule_id = ?"), append(args, lq.RuleID)
	}
	if lq.Destination != "" {
		where = append(where, "EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = alerts.alert_id AND d.destination = ?)")
		args = append(args, lq.Destination)
	}
	if lq.Text != "" {
		op := "LIKE" // SQLite's LIKE ignores ASCII case already
		if t.ilike != "" {
			op = t.ilike
		}
		where = append(where, "body "+op+` ? ESCAPE '\'`)
		args = append(args, "%"+likeEscaper.Replace(lq.Text)+"%")
	}
	return where, args
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func (t *tx) CountAlerts(ctx context.Context, lq ListQuery, upTo int) (map[alert.Status]int, error) {
	where, args := t.listFilter(lq)
	// One bounded count per status: each reads at most upTo+1 entries of
	// the (status, severity, source) index, so the counts cost the same
	// over a hundred alerts as over a million.
	cond := ""
	if len(where) > 0 {
		cond = " AND " + strings.Join(where, " AND ")
	}
	out := map[alert.Status]int{}
	for _, st := range alert.Statuses {
		var n int
		q := `SELECT COUNT(*) FROM (SELECT 1 FROM alerts WHERE status = ?` + cond + ` LIMIT ?) c`
		if err := t.q.queryRow(ctx, q, append(append([]any{string(st)}, args...), upTo+1)...).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s alerts: %w", st, err)
		}
		if n > 0 {
			out[st] = n
		}
	}
	return out, nil
}

func (t *tx) IssuesOf(ctx context.Context, alertIDs []string) (map[string][]alert.Issue, error) {
	out := map[string][]alert.Issue{}
	if len(alertIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(alertIDs))
	for i, id := range alertIDs {
		args[i] = id
	}
	rs, err := t.q.query(ctx, `SELECT alert_id, destination, key, external_id, url, status FROM issues
		WHERE alert_id IN (?`+strings.Repeat(", ?", len(alertIDs)-1)+`) ORDER BY destination`, args...)
	if err != nil {
		return nil, fmt.Errorf("list issues of %d alerts: %w", len(alertIDs), err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			id string
			is alert.Issue
		)
		if err := rs.Scan(&id, &is.Destination, &is.Key, &is.ID, &is.URL, &is.Status); err != nil {
			return nil, fmt.Errorf("list issues of %d alerts: %w", len(alertIDs), err)
		}
		out[id] = append(out[id], is)
	}
	return out, rs.Err()
}

func (t *tx) LatestAlertOf(ctx context.Context, ruleID string, typ alert.Type) (*alert.Alert, error) {
	a, _, err := scanAlert(t.q.queryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE rule_id = ? AND type = ? ORDER BY seq DESC LIMIT 1`,
		ruleID, string(typ)))
	if err != nil {
		return nil, fmt.Errorf("latest %s alert of rule %s: %w", typ, ruleID, err)
	}
	return a, nil
}

func (t *tx) SyncStates(ctx context.Context, alertID string) ([]SyncState, error) {
	rs, err := t.q.query(ctx, `SELECT destination, wanted, done, status_for, assignee, closed_at FROM issue_sync WHERE alert_id = ? ORDER BY destination`, alertID)
	if err != nil {
		return nil, fmt.Errorf("list sync states of alert %s: %w", alertID, err)
	}
	defer rs.Close()
	var out []SyncState
	for rs.Next() {
		s := SyncState{AlertID: alertID}
		var closed int64
		if err := rs.Scan(&s.Destination, &s.Wanted, &s.Done, &s.StatusFor, &s.Assignee, &closed); err != nil {
			return nil, fmt.Errorf("list sync states of alert %s: %w", alertID, err)
		}
		s.ClosedAt = fromMicros(closed)
		out = append(out, s)
	}
	return out, rs.Err()
}

func (t *tx) Checkpoint(ctx context.Context, name string) (string, time.Time, error) {
	var (
		v  string
		at int64
	)
	if err := t.q.queryRow(ctx, `SELECT value, updated_at FROM checkpoints WHERE name = ?`, name).Scan(&v, &at); err != nil {
		return "", time.Time{}, fmt.Errorf("get checkpoint %s: %w", name, err)
	}
	return v, fromMicros(at), nil
}

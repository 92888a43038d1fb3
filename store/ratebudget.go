package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// JiraBudget keeps, per Jira site, what every process on this database
// must agree on: the Retry-After window the last 429 opened. On PostgreSQL,
// where several replicas share the database, a PacedJiraBudget also keeps
// the site's pace (see Reserve); on SQLite one process owns the file, so
// its own limiter is the site's, and only the window needs to outlive it.
type JiraBudget interface {
	Block(ctx context.Context, site string, until time.Time) error
	BlockedUntil(ctx context.Context, site string) (time.Time, error)
}

// NewJiraBudget returns the budget for st: a *PacedJiraBudget on
// PostgreSQL, windows alone on SQLite.
func NewJiraBudget(st Store) JiraBudget {
	w := &jiraWindows{st: st}
	if pool, ok := st.Handle().(*pgxpool.Pool); ok {
		return &PacedJiraBudget{jiraWindows: w, pool: pool}
	}
	return w
}

type jiraWindows struct{ st Store }

// Block records the window, keeping a later one already there: 429s that
// several replicas receive together must not shorten it.
func (w *jiraWindows) Block(ctx context.Context, site string, until time.Time) error {
	err := w.st.InTx(ctx, func(t Tx) error {
		_, err := t.(*tx).q.exec(ctx, `INSERT INTO jira_sites (site, blocked_until) VALUES (?, ?)
			ON CONFLICT (site) DO UPDATE SET blocked_until = CASE
				WHEN excluded.blocked_until > jira_sites.blocked_until THEN excluded.blocked_until
				ELSE jira_sites.blocked_until END`, site, micros(until))
		return err
	})
	if err != nil {
		return fmt.Errorf("record the rate-limit window of %s: %w", site, err)
	}
	return nil
}

func (w *jiraWindows) BlockedUntil(ctx context.Context, site string) (time.Time, error) {
	var until int64
	err := w.st.View(ctx, func(t Tx) error {
		err := t.(*tx).q.queryRow(ctx, `SELECT blocked_until FROM jira_sites WHERE site = ?`, site).Scan(&until)
		if errors.Is(err, ErrNotFound) {
			until = 0
			return nil
		}
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read the rate-limit window of %s: %w", site, err)
	}
	if until == 0 {
		return time.Time{}, nil
	}
	return fromMicros(until), nil
}

// PacedJiraBudget is the budget of replicas sharing PostgreSQL: besides
// the window, the site's request slots, so that N replicas send at the
// site's rate, not N times it.
type PacedJiraBudget struct {
	*jiraWindows
	pool *pgxpool.Pool
	now  func() time.Time
}

// Reserve takes the site's next request slot, requests spaced interval
// apart, in one statement (one round trip, no transaction of its own to
// begin), and returns how long to wait for it and the site's window. A
// slot is the later of now and the previous slot's end: a quiet site's
// request goes at once.
func (b *PacedJiraBudget) Reserve(ctx context.Context, site string, interval time.Duration) (time.Duration, time.Time, error) {
	now := time.Now()
	if b.now != nil {
		now = b.now()
	}
	n, iv := micros(now), interval.Microseconds()
	var next, until int64
	err := b.pool.QueryRow(ctx, `INSERT INTO jira_sites AS s (site, next_at) VALUES ($1, $2::BIGINT + $3::BIGINT)
		ON CONFLICT (site) DO UPDATE SET next_at = GREATEST(s.next_at, $2::BIGINT) + $3::BIGINT
		RETURNING next_at, blocked_until`, site, n, iv).Scan(&next, &until)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("reserve a request to %s: %w", site, err)
	}
	var blocked time.Time
	if until > 0 {
		blocked = fromMicros(until)
	}
	return time.Duration(next-iv-n) * time.Microsecond, blocked, nil
}

// TakeSlot takes a free one of the site's n request slots for lease, in
// one statement, and returns its number; ok is false when every slot is
// held. A slot's lease bounds how long a replica that died holding it
// keeps it.
func (b *PacedJiraBudget) TakeSlot(ctx context.Context, site string, n int, lease time.Duration) (int, bool, error) {
	now := time.Now()
	var slot int
	err := b.pool.QueryRow(ctx, `WITH wanted AS (
			INSERT INTO jira_site_slots (site, slot) SELECT $1, g FROM generate_series(0, $2::INTEGER - 1) g
			ON CONFLICT DO NOTHING)
		UPDATE jira_site_slots s SET held_until = $4 FROM (
			SELECT slot FROM jira_site_slots WHERE site = $1 AND slot < $2 AND held_until < $3
			ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) free
		WHERE s.site = $1 AND s.slot = free.slot RETURNING s.slot`,
		site, n, micros(now), micros(now.Add(lease))).Scan(&slot)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("take a request slot of %s: %w", site, err)
	}
	return slot, true, nil
}

// FreeSlot gives a slot back.
func (b *PacedJiraBudget) FreeSlot(ctx context.Context, site string, slot int) error {
	if _, err := b.pool.Exec(ctx, `UPDATE jira_site_slots SET held_until = 0 WHERE site = $1 AND slot = $2`, site, slot); err != nil {
		return fmt.Errorf("free request slot %d of %s: %w", slot, site, err)
	}
	return nil
}

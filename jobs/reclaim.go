package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// River rescues a running job only once RescueStuckJobsAfter has passed
// since it started, and only when its rescuer next runs: about two minutes
// for a replica that was killed. Replicas on PostgreSQL therefore say that
// they are alive every Heartbeat; a replica silent for Dead is gone, and
// any replica hands the jobs it was running back to the queue. A replica
// that was only slow gets no say: the work it may still be doing is
// guarded by the workers' own rows (a delivery claims each attempt before
// it sends), which is also what makes a repeated run harmless.
//
// A job handed back keeps its scheduled_at, which is in the past: River
// takes available jobs oldest first, so the orphans run before the backlog
// that queued behind them, not after it.

const createReplicas = `CREATE TABLE IF NOT EXISTS alertbridge_replicas (
	id      TEXT PRIMARY KEY,
	seen_at BIGINT NOT NULL
)`

type dbExec interface {
	exec(ctx context.Context, q string, args ...any) error
	execN(ctx context.Context, q string, args ...any) (int64, error)
}

type sqliteExec struct{ db *sql.DB }

func (e sqliteExec) exec(ctx context.Context, q string, args ...any) error {
	_, err := e.execN(ctx, q, args...)
	return err
}

func (e sqliteExec) execN(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := e.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

type pgExec struct{ pool *pgxpool.Pool }

func (e pgExec) exec(ctx context.Context, q string, args ...any) error {
	_, err := e.execN(ctx, q, args...)
	return err
}

func (e pgExec) execN(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := e.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func defaultID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "alertbridge"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// reclaimOwn hands back, before this replica starts working, the jobs an
// earlier process of it left running.
func (l *Layer) reclaimOwn(ctx context.Context) error {
	if l.sqlite {
		// One process owns a SQLite file, so a job left running is the
		// work of a process that died.
		_, err := l.db.execN(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
		if err != nil {
			return fmt.Errorf("requeue jobs of a previous process: %w", err)
		}
		return nil
	}
	if err := l.beat(ctx); err != nil {
		return err
	}
	n, err := l.db.execN(ctx, `UPDATE river_job SET state = 'available'
		WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, l.cfg.ID)
	if err != nil {
		return fmt.Errorf("requeue jobs of replica %s's previous process: %w", l.cfg.ID, err)
	}
	if n > 0 {
		l.cfg.Logger.Info("took back jobs this replica was running when it stopped", "replica", l.cfg.ID, "jobs", n)
	}
	return nil
}

func (l *Layer) beat(ctx context.Context) error {
	err := l.db.exec(ctx, `INSERT INTO alertbridge_replicas (id, seen_at) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, l.cfg.ID, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("heartbeat of replica %s: %w", l.cfg.ID, err)
	}
	return nil
}

// rescueDead hands back the running jobs of replicas silent for Dead and
// forgets those replicas.
func (l *Layer) rescueDead(ctx context.Context) (int64, error) {
	before := time.Now().Add(-l.cfg.Dead).UnixMicro()
	n, err := l.db.execN(ctx, `UPDATE river_job SET state = 'available'
		WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] IN
			(SELECT id FROM alertbridge_replicas WHERE seen_at < $1 AND id <> $2)`, before, l.cfg.ID)
	if err != nil {
		return 0, fmt.Errorf("rescue jobs of silent replicas: %w", err)
	}
	// Kept until now so the update above could find them; a replica that
	// comes back writes its row again.
	if err := l.db.exec(ctx, `DELETE FROM alertbridge_replicas WHERE seen_at < $1 AND id <> $2`, before, l.cfg.ID); err != nil {
		return n, fmt.Errorf("forget silent replicas: %w", err)
	}
	return n, nil
}

func (l *Layer) heartbeat(ctx context.Context) {
	t := time.NewTicker(l.cfg.Heartbeat)
	defer t.Stop()
	// A replica judges others silent only after it has itself been heard
	// for Dead: after an outage that silenced every replica (the database
	// was away), the first one back must not take the work of the others,
	// which are still running it and about to beat again.
	healthySince := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.beat(ctx); err != nil {
			l.cfg.Logger.Warn("jobs heartbeat", "error", err)
			healthySince = time.Time{}
			continue
		}
		if healthySince.IsZero() {
			healthySince = time.Now()
		}
		if time.Since(healthySince) < l.cfg.Dead {
			continue
		}
		n, err := l.rescueDead(ctx)
		if err != nil {
			l.cfg.Logger.Warn("jobs rescue", "error", err)
		}
		if n > 0 {
			l.cfg.Logger.Info("took over jobs of a replica that stopped answering", "jobs", n)
		}
	}
}

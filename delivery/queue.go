// Package delivery carries alerts to destinations as durable jobs. A job is
// written in the same transaction as the change that caused it, so an
// accepted alert always has its deliveries; the worker makes every retry
// decision in one place from the error a destination returns.
package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/store"
)

// queueName is River's queue for deliveries.
const queueName = "deliver"

// Config tunes the queue. Zero values take the defaults noted.
type Config struct {
	// Notifiers maps destination names to their notifiers.
	Notifiers map[string]destination.Notifier
	// MaxAttempts gives a destination's attempt budget; default 12.
	MaxAttempts func(destination string) int
	// Workers is how many deliveries run at once on this replica; default 50.
	Workers int
	// PollInterval is how often an idle replica looks for jobs inserted by
	// others; default 10ms on SQLite (a cheap indexed query, and what keeps
	// acceptance-to-delivery in milliseconds), 250ms on PostgreSQL (which also listens).
	PollInterval time.Duration
	// JobTimeout bounds one attempt; default 5m30s, just over the longest
	// destination timeout the configuration allows.
	JobTimeout time.Duration
	Logger     *slog.Logger
	Metrics    *Metrics
	// Backoff overrides the retry schedule (tests).
	Backoff func(attempt int) time.Duration
	// Batch, when set, group-commits the outcome of each attempt with other
	// writes, so that deliveries finishing together share one commit.
	Batch *store.Batcher
	// Register adds other kinds of jobs to the queue's workers (source
	// pollers, sync jobs), so that every durable job shares one River client.
	Register func(*river.Workers)
	// Periodic jobs run on one replica at a time: River's leader.
	Periodic []*river.PeriodicJob
	// ExtraQueues are River queues for the Register'ed jobs, by name.
	ExtraQueues map[string]river.QueueConfig
	// HealthFlush is how often destinations' last success and error are
	// written; default 1s.
	HealthFlush time.Duration
}

// Queue enqueues and works deliveries.
type Queue struct {
	st         store.Store
	cfg        Config
	insertTx   func(ctx context.Context, tx store.Tx, params []river.InsertManyParams) error
	insert     func(ctx context.Context, tx store.Tx, params []river.InsertManyParams) error
	start      func(ctx context.Context) error
	stop       func(ctx context.Context) error
	cancel     func(ctx context.Context) error
	health     healthNotes
	stopHealth context.CancelFunc
	healthDone chan struct{}
	// started bounds when a delivery cut short by an earlier process's
	// death can have last sent anything.
	started time.Time
}

// New migrates River's tables and builds a queue on the store's database.
func New(ctx context.Context, st store.Store, cfg Config) (*Queue, error) {
	if cfg.MaxAttempts == nil {
		cfg.MaxAttempts = func(string) int { return 12 }
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 50
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 5*time.Minute + 30*time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	if cfg.HealthFlush <= 0 {
		cfg.HealthFlush = time.Second
	}
	q := &Queue{st: st, cfg: cfg, started: time.Now()}
	switch h := st.Handle().(type) {
	case *sql.DB:
		if q.cfg.PollInterval <= 0 {
			q.cfg.PollInterval = 10 * time.Millisecond
		}
		driver := riversqlite.New(h)
		return build(ctx, q, driver, true, func(m *rivermigrate.Migrator[*sql.Tx]) error {
			return st.InTx(ctx, func(tx store.Tx) error {
				_, err := m.MigrateTx(ctx, tx.Raw().(*sql.Tx), rivermigrate.DirectionUp, nil)
				return err
			})
		})
	case *pgxpool.Pool:
		if q.cfg.PollInterval <= 0 {
			q.cfg.PollInterval = 250 * time.Millisecond
		}
		return build(ctx, q, riverpgxv5.New(h), false, func(m *rivermigrate.Migrator[pgx.Tx]) error {
			return migratePostgres(ctx, h, m)
		})
	default:
		return nil, fmt.Errorf("delivery queue: unsupported store handle %T", h)
	}
}

func build[TTx any](ctx context.Context, q *Queue, driver riverdriver.Driver[TTx], sqlite bool,
	migrate func(*rivermigrate.Migrator[TTx]) error) (*Queue, error) {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(q.cfg.Logger)})
	if err != nil {
		return nil, fmt.Errorf("delivery queue: %w", err)
	}
	if err := migrate(migrator); err != nil {
		return nil, fmt.Errorf("delivery queue: migrate: %w", err)
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{q: q})
	if q.cfg.Register != nil {
		q.cfg.Register(workers)
	}
	queues := map[string]river.QueueConfig{queueName: {MaxWorkers: q.cfg.Workers}}
	for name, qc := range q.cfg.ExtraQueues {
		queues[name] = qc
	}
	client, err := river.NewClient(driver, &river.Config{
		Queues:            queues,
		Workers:           workers,
		PeriodicJobs:      q.cfg.Periodic,
		FetchPollInterval: q.cfg.PollInterval,
		FetchCooldown:     min(q.cfg.PollInterval, 20*time.Millisecond),
		JobTimeout:        q.cfg.JobTimeout,
		// A job still running this long after it started belongs to a
		// replica that died; give it to another.
		RescueStuckJobsAfter: q.cfg.JobTimeout + time.Minute,
		RetryPolicy:          retryPolicy{q.cfg.Backoff},
		Logger:               quiet(q.cfg.Logger),
		// Delivered rows live in our own tables; River's are only triggers.
		CompletedJobRetentionPeriod: time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("delivery queue: %w", err)
	}
	q.insert = func(ctx context.Context, tx store.Tx, params []river.InsertManyParams) error {
		_, err := client.InsertManyTx(ctx, tx.Raw().(TTx), params)
		return err
	}
	q.insertTx = func(ctx context.Context, tx store.Tx, params []river.InsertManyParams) error {
		if !sqlite {
			// On PostgreSQL the fast path is COPY, several round trips
			// that pay off only for large batches; deliveries come a few
			// at a time, and one multi-row INSERT is one round trip.
			_, err := client.InsertManyTx(ctx, tx.Raw().(TTx), params)
			return err
		}
		// On SQLite the fast path skips RETURNING, which is most of the
		// insert's cost there.
		_, err := client.InsertManyFastTx(ctx, tx.Raw().(TTx), params)
		return err
	}
	q.start = func(ctx context.Context) error {
		if sqlite {
			// One process owns a SQLite file, so a job left running is the
			// work of a process that died: hand it back now rather than
			// after RescueStuckJobsAfter.
			if err := requeueOrphans(ctx, q.st); err != nil {
				return err
			}
		}
		return client.Start(ctx)
	}
	q.stop = client.Stop
	q.cancel = client.StopAndCancel
	return q, nil
}

// migratePostgres applies River's migrations while holding the migration
// lock on a connection of its own. Some of them alter enum types, which
// PostgreSQL will not do in the same transaction as using the new values,
// so they cannot share one transaction; the session lock keeps replicas
// that start together from racing each other instead.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, m *rivermigrate.Migrator[pgx.Tx]) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(store.MigrationLockKey)); err != nil {
		return err
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(store.MigrationLockKey))
	}()
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

func requeueOrphans(ctx context.Context, st store.Store) error {
	return st.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.Raw().(*sql.Tx).ExecContext(ctx,
			`UPDATE river_job SET state = 'available', scheduled_at = CURRENT_TIMESTAMP WHERE state = 'running'`)
		if err != nil {
			return fmt.Errorf("requeue jobs of a previous process: %w", err)
		}
		return nil
	})
}

// write runs fn in the shared group commit, or in a transaction of its own.
func (q *Queue) write(ctx context.Context, fn func(store.Tx) error) error {
	if q.cfg.Batch != nil {
		return q.cfg.Batch.Do(ctx, fn)
	}
	return q.st.InTx(ctx, fn)
}

// Start begins working deliveries.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.start(ctx); err != nil {
		return fmt.Errorf("start delivery queue: %w", err)
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.stopHealth, q.healthDone = cancel, make(chan struct{})
	go func() {
		defer close(q.healthDone)
		q.health.run(hctx, q.st, q.cfg.HealthFlush, func(err error) {
			q.cfg.Logger.Warn("write destination health", "error", err)
		})
	}()
	return nil
}

// Stop waits for running deliveries to finish, until ctx ends; then it
// cancels them, and they run again on the next start.
func (q *Queue) Stop(ctx context.Context) error {
	defer q.stopHealthFlush()
	err := q.stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return q.cancel(cctx)
	}
	return err
}

// stopHealthFlush writes the last health notes and ends the flusher, once
// the workers that take notes have stopped.
func (q *Queue) stopHealthFlush() {
	if q.stopHealth != nil {
		q.stopHealth()
		<-q.healthDone
		q.stopHealth = nil
	}
}

// Enqueue stores each delivery and its job inside tx. The deliveries' IDs are
// set on return.
func (q *Queue) Enqueue(ctx context.Context, tx store.Tx, ds []*store.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(ds))
	for i, d := range ds {
		if err := tx.InsertDelivery(ctx, d); err != nil {
			return err
		}
		params[i] = river.InsertManyParams{
			Args:       Args{DeliveryID: d.ID},
			InsertOpts: &river.InsertOpts{Queue: queueName, MaxAttempts: q.cfg.MaxAttempts(d.Destination)},
		}
	}
	if err := q.insertTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %d deliveries: %w", len(ds), err)
	}
	return nil
}

// InsertTx inserts other jobs (of kinds added through Config.Register) in
// the caller's transaction. Unlike Enqueue it honours unique job options.
func (q *Queue) InsertTx(ctx context.Context, tx store.Tx, params ...river.InsertManyParams) error {
	if err := q.insert(ctx, tx, params); err != nil {
		return fmt.Errorf("insert %d jobs: %w", len(params), err)
	}
	return nil
}

// quiet keeps River's own chatter at warnings and above.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}
func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}
func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(n), f.min}
}

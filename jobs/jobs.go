// Package jobs is alertbridge's one jobs layer: it owns River (drivers,
// migrations, inserting jobs in the caller's transaction, unique and
// periodic jobs, timeouts and the rescue of jobs whose replica died) and
// the one outcome policy every worker's error goes through. Delivery, sync
// and the pollers are workers: they classify their errors and nothing more.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Tx is the one thing the layer needs of a caller's transaction: the
// driver's own (*sql.Tx on SQLite, pgx.Tx on PostgreSQL), so that jobs
// commit or roll back with the change that caused them.
type Tx interface{ Raw() any }

// Config configures the layer. Zero values take the defaults noted.
type Config struct {
	// DB is the database the jobs live in: a *sql.DB (SQLite, one writer
	// connection) or a *pgxpool.Pool.
	DB any
	// ID names this replica to River and to the other replicas. Keep it
	// stable across restarts (host and listen address, say): a restarted
	// replica then takes back at once the jobs it was running when it died.
	// Default: the host name and process id, which only the heartbeat
	// rescue recognises.
	ID string
	// Queues maps queue names to how many of their jobs run at once here.
	Queues   map[string]int
	Periodic []*river.PeriodicJob
	// PollInterval is how often an idle replica looks for new jobs; default
	// 10ms on SQLite (a cheap indexed query, and what keeps
	// acceptance-to-delivery in milliseconds), 250ms on PostgreSQL (which
	// also listens).
	PollInterval time.Duration
	// JobTimeout bounds one run of any job; default 1m. It should follow the
	// longest far-side timeout, which a run may spend once, plus margin.
	JobTimeout time.Duration
	// Heartbeat is how often a replica on PostgreSQL says it is alive, and
	// Dead how long a silent replica's running jobs wait before another
	// takes them; defaults 2s and 10s.
	Heartbeat, Dead time.Duration
	// Backoff overrides the retry schedule (tests, drills).
	Backoff func(attempt int) time.Duration
	Logger  *slog.Logger
}

// Layer inserts and works jobs.
type Layer struct {
	cfg     Config
	workers *river.Workers
	sqlite  bool

	kindsMu sync.Mutex
	kinds   []string // of the workers added, for the jobs collector

	insert     func(ctx context.Context, tx Tx, fast bool, params []river.InsertManyParams) error
	completeTx func(ctx context.Context, tx Tx, job any) error
	newClient  func() (client, error)
	db         dbExec
	running    client
	stopBeat   context.CancelFunc
	beatDone   chan struct{}
}

// client is what the layer uses of a working River client.
type client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}

// New migrates River's tables and returns a layer that can insert jobs at
// once; workers are added with Add before Start.
func New(ctx context.Context, cfg Config) (*Layer, error) {
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = time.Minute
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 2 * time.Second
	}
	if cfg.Dead <= 0 {
		cfg.Dead = 10 * time.Second
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ID == "" {
		cfg.ID = defaultID()
	}
	l := &Layer{cfg: cfg, workers: river.NewWorkers()}
	switch db := cfg.DB.(type) {
	case *sql.DB:
		if l.cfg.PollInterval <= 0 {
			l.cfg.PollInterval = 10 * time.Millisecond
		}
		l.sqlite = true
		l.db = sqliteExec{db}
		return build(ctx, l, riversqlite.New(db), func(m *rivermigrate.Migrator[*sql.Tx]) error {
			// One process owns the file, so no lock is needed; each of
			// River's migrations commits on its own, as River requires.
			_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
			return err
		})
	case *pgxpool.Pool:
		if l.cfg.PollInterval <= 0 {
			l.cfg.PollInterval = 250 * time.Millisecond
		}
		l.db = pgExec{db}
		return build(ctx, l, riverpgxv5.New(db), func(m *rivermigrate.Migrator[pgx.Tx]) error {
			return migratePostgres(ctx, db, m)
		})
	default:
		return nil, fmt.Errorf("jobs: unsupported database handle %T", cfg.DB)
	}
}

func build[TTx any, TDriver riverdriver.Driver[TTx]](ctx context.Context, l *Layer, driver TDriver,
	migrate func(*rivermigrate.Migrator[TTx]) error) (*Layer, error) {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(l.cfg.Logger)})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if err := migrate(migrator); err != nil {
		return nil, fmt.Errorf("jobs: migrate: %w", err)
	}
	if !l.sqlite {
		if err := l.db.exec(ctx, createReplicas); err != nil {
			return nil, fmt.Errorf("jobs: create the replica table: %w", err)
		}
	}
	// An insert-only client: River inserts need no workers, so everything
	// that enqueues can be built before the workers that depend on it.
	inserter, err := river.NewClient(driver, &river.Config{Logger: quiet(l.cfg.Logger)})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	l.insert = func(ctx context.Context, tx Tx, fast bool, params []river.InsertManyParams) error {
		raw, ok := tx.Raw().(TTx)
		if !ok {
			return fmt.Errorf("jobs: a %T is not this database's transaction", tx.Raw())
		}
		var err error
		if fast && l.sqlite {
			// On SQLite the fast path skips RETURNING, which is most of
			// the insert's cost there; it ignores unique options. On
			// PostgreSQL it is COPY, several round trips that pay off only
			// for large batches, so a multi-row INSERT is used there.
			_, err = inserter.InsertManyFastTx(ctx, raw, params)
		} else {
			_, err = inserter.InsertManyTx(ctx, raw, params)
		}
		return err
	}
	l.completeTx = func(ctx context.Context, tx Tx, job any) error {
		raw, ok := tx.Raw().(TTx)
		if !ok {
			return fmt.Errorf("jobs: a %T is not this database's transaction", tx.Raw())
		}
		row, ok := job.(*rivertype.JobRow)
		if !ok {
			return fmt.Errorf("jobs: complete: %T is not a job row", job)
		}
		return completeRow[TTx, TDriver](ctx, raw, row)
	}
	l.newClient = func() (client, error) {
		queues := make(map[string]river.QueueConfig, len(l.cfg.Queues))
		for name, n := range l.cfg.Queues {
			queues[name] = river.QueueConfig{MaxWorkers: max(n, 1)}
		}
		return river.NewClient(driver, &river.Config{
			ID:                l.cfg.ID,
			Queues:            queues,
			Workers:           l.workers,
			PeriodicJobs:      l.cfg.Periodic,
			FetchPollInterval: l.cfg.PollInterval,
			FetchCooldown:     min(l.cfg.PollInterval, 20*time.Millisecond),
			JobTimeout:        l.cfg.JobTimeout,
			// River's own rescuer is the backstop for a replica that died
			// without a heartbeat row (an older version); the heartbeat
			// rescue below is what acts within seconds.
			RescueStuckJobsAfter: l.cfg.JobTimeout + time.Minute,
			RetryPolicy:          retryPolicy{l.cfg.Backoff},
			Logger:               quiet(l.cfg.Logger),
			// Outcomes live in our own tables; River's rows are triggers.
			CompletedJobRetentionPeriod: time.Hour,
		})
	}
	return l, nil
}

// Add registers a worker; call it before Start.
func Add[T river.JobArgs](l *Layer, w river.Worker[T]) {
	river.AddWorker(l.workers, w)
	var args T
	l.kindsMu.Lock()
	l.kinds = append(l.kinds, args.Kind())
	l.kindsMu.Unlock()
}

// Kinds lists the kinds of the workers added, in the order they were.
func (l *Layer) Kinds() []string {
	l.kindsMu.Lock()
	defer l.kindsMu.Unlock()
	return slices.Clone(l.kinds)
}

// InsertTx inserts jobs in the caller's transaction, honouring their unique
// options.
func (l *Layer) InsertTx(ctx context.Context, tx Tx, params ...river.InsertManyParams) error {
	return l.insertJobs(ctx, tx, false, params)
}

// InsertFastTx inserts many jobs that have no unique options, on the
// database's fastest path.
func (l *Layer) InsertFastTx(ctx context.Context, tx Tx, params ...river.InsertManyParams) error {
	return l.insertJobs(ctx, tx, true, params)
}

func (l *Layer) insertJobs(ctx context.Context, tx Tx, fast bool, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	if err := l.insert(ctx, tx, fast, params); err != nil {
		return fmt.Errorf("insert %d jobs: %w", len(params), err)
	}
	return nil
}

// CompleteTx marks a running job completed inside tx, so that its
// completion commits with the state the worker wrote (or not at all). Call
// it from within the job's Work only.
func CompleteTx[T river.JobArgs](ctx context.Context, l *Layer, tx Tx, job *river.Job[T]) error {
	if err := l.completeTx(ctx, tx, job.JobRow); err != nil {
		return fmt.Errorf("complete job %d in its transaction: %w", job.ID, err)
	}
	return nil
}

func completeRow[TTx any, TDriver riverdriver.Driver[TTx]](ctx context.Context, tx TTx, row *rivertype.JobRow) error {
	_, err := river.JobCompleteTx[TDriver](ctx, tx, &river.Job[rawArgs]{JobRow: row})
	return err
}

// rawArgs lets a job of any kind be completed without decoding its args.
type rawArgs struct{}

func (rawArgs) Kind() string { return "" }

// Start begins working jobs. Jobs this replica (by its ID) was running when
// it last died are handed back first; on SQLite, where one process owns the
// file, every running job is.
func (l *Layer) Start(ctx context.Context) error {
	if err := l.reclaimOwn(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	c, err := l.newClient()
	if err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	l.running = c
	if !l.sqlite {
		bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		l.stopBeat, l.beatDone = cancel, make(chan struct{})
		go func() {
			defer close(l.beatDone)
			l.heartbeat(bctx)
		}()
	}
	return nil
}

// Stop waits for running jobs to finish, until ctx ends; then it cancels
// them, and they run again on the next start (or on another replica).
func (l *Layer) Stop(ctx context.Context) error {
	if l.running == nil {
		return nil
	}
	err := l.running.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = l.running.StopAndCancel(cctx)
	}
	if l.stopBeat != nil {
		l.stopBeat()
		<-l.beatDone
		l.stopBeat = nil
		// Say goodbye, so that nobody waits out Dead for a replica that
		// stopped cleanly with nothing running.
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.db.exec(dctx, `DELETE FROM alertbridge_replicas WHERE id = $1`, l.cfg.ID)
	}
	l.running = nil
	return err
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
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return err
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey)
	}()
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// migrationLockKey serialises River's migrations across replicas; the
// store's own migrations take a lock of their own.
const migrationLockKey int64 = 0x6a6f6273 // "jobs"

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

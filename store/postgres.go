package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alertbridge/alertbridge/internal/redact"
)

type postgresStore struct {
	pool *pgxpool.Pool
}

func openPostgres(ctx context.Context, url string) (Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse error can quote the URL, password included.
		return nil, fmt.Errorf("open postgres %s: invalid URL", redact.URL(url))
	}
	// pgx defaults to four connections; delivery workers, group-commit
	// writers and River's own loops each hold one at times. A
	// pool_max_conns in the URL still wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 32
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact.URL(url), err)
	}
	s := &postgresStore{pool: pool}
	if err := s.InTx(ctx, func(t Tx) error { return migrate(ctx, t, "postgres") }); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact.URL(url), err)
	}
	return s, nil
}

func (s *postgresStore) Driver() string                 { return "postgres" }
func (s *postgresStore) Handle() any                    { return s.pool }
func (s *postgresStore) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }
func (s *postgresStore) Close() error                   { s.pool.Close(); return nil }

func (s *postgresStore) InTx(ctx context.Context, fn func(Tx) error) error {
	return s.run(ctx, pgx.TxOptions{}, fn)
}

func (s *postgresStore) View(ctx context.Context, fn func(Tx) error) error {
	// Repeatable read: the several reads behind one answer see one moment.
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (s *postgresStore) Read(ctx context.Context, fn func(Tx) error) error {
	return fn(&tx{q: pgxQuerier{s.pool}, raw: nil, forUpdate: " FOR UPDATE", ilike: `COLLATE "C" ILIKE`, postgres: true})
}

func (s *postgresStore) run(ctx context.Context, opts pgx.TxOptions, fn func(Tx) error) error {
	pipe := &pgxPipe{pool: s.pool, opts: opts}
	t := &tx{
		q:         pipe,
		forUpdate: " FOR UPDATE",
		ilike:     `COLLATE "C" ILIKE`,
		postgres:  true,
		lock: func(ctx context.Context, key int64) error {
			_, err := pipe.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, key)
			return err
		},
	}
	err := fn(t)
	if err == nil {
		err = t.beforeCommit(ctx)
	}
	if err == nil {
		err = t.failed
	}
	if err == nil {
		err = pipe.flush(ctx)
	}
	if err != nil {
		_ = pipe.end(ctx, false)
		return err
	}
	if err := pipe.end(ctx, true); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// sqliteStore keeps two pools over one file: a single writer connection,
// which the queue shares (SQLite allows one writer at a time, and a second
// writer connection would only wait on locks), and a few read-only
// connections that WAL lets read while the writer writes.
type sqliteStore struct {
	w, r *sql.DB
}

func sqliteDSN(file string, readOnly bool) string {
	v := url.Values{}
	v.Add("_pragma", "busy_timeout(10000)")
	v.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		v.Add("_pragma", "query_only(1)")
		// Readers map the file rather than copy pages through read(2),
		// and keep a larger cache: the console's list and counts walk
		// indexes of every alert.
		v.Add("_pragma", "mmap_size(268435456)")
		v.Add("_pragma", "cache_size(-16384)")
	} else {
		v.Add("_pragma", "journal_mode(WAL)")
		// NORMAL is for River's own bookkeeping (fetches, completions),
		// which need not reach the disk before the next durable commit:
		// alertbridge's transactions switch to FULL around themselves (see
		// InTx), and their flush of the WAL carries River's writes with it.
		v.Add("_pragma", "synchronous(NORMAL)")
		v.Set("_txlock", "immediate")
	}
	return "file:" + file + "?" + v.Encode()
}

func openSQLite(ctx context.Context, file string) (Store, error) {
	if file == "" {
		return nil, fmt.Errorf("open sqlite: empty path")
	}
	if dir := filepath.Dir(file); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", file, err)
		}
	}
	wc, err := newStmtCachingConnector(sqliteDSN(file, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	w := sql.OpenDB(wc)
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &sqliteStore{w: w}
	if err := s.InTx(ctx, func(t Tx) error { return migrate(ctx, t, "sqlite") }); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	// The read pool opens after the writer has set WAL mode on the file.
	rc, err := newStmtCachingConnector(sqliteDSN(file, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	r := sql.OpenDB(rc)
	r.SetMaxOpenConns(4)
	s.r = r
	return s, nil
}

func (s *sqliteStore) Driver() string { return "sqlite" }
func (s *sqliteStore) Handle() any    { return s.w }

func (s *sqliteStore) Ping(ctx context.Context) error {
	var one int
	return s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

func (s *sqliteStore) Close() error {
	errR := s.r.Close()
	if err := s.w.Close(); err != nil {
		return err
	}
	return errR
}

// InTx commits durably: the WAL is flushed to disk before it returns, so
// an alert answered 202 is on disk. SQLite reads the synchronous setting at
// BEGIN, so it is raised on the connection before the transaction and
// lowered after; the single writer connection is held throughout.
func (s *sqliteStore) InTx(ctx context.Context, fn func(Tx) error) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// If lowering fails the connection stays at FULL: slower, never unsafe.
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`) //nolint:errcheck
	return runSQLTx(ctx, conn, fn)
}

func (s *sqliteStore) View(ctx context.Context, fn func(Tx) error) error {
	return runSQLTx(ctx, s.r, fn)
}

func (s *sqliteStore) Read(ctx context.Context, fn func(Tx) error) error {
	return fn(&tx{q: sqlQuerier{s.r}})
}

func runSQLTx(ctx context.Context, db interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, fn func(Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &tx{q: sqlQuerier{sqlTx}, raw: sqlTx}
	err = fn(t)
	if err == nil {
		err = t.beforeCommit(ctx)
	}
	if err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

package testdb

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/store"
)

// unfinished counts the jobs that may still run: neither completed,
// cancelled nor discarded.
const unfinished = `SELECT COUNT(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded')`

// UnfinishedJobs counts the jobs in st that may still run.
func UnfinishedJobs(tb testing.TB, st store.Store) int {
	tb.Helper()
	var n int
	var err error
	switch db := st.Handle().(type) {
	case *sql.DB:
		err = db.QueryRowContext(context.Background(), unfinished).Scan(&n)
	case *pgxpool.Pool:
		err = db.QueryRow(context.Background(), unfinished).Scan(&n)
	default:
		tb.Fatalf("testdb: unknown handle %T", db)
	}
	if err != nil {
		tb.Fatalf("count unfinished jobs: %v", err)
	}
	return n
}

// Settle waits, up to within, until no job in st may still run and then
// done reports true: the state a test asserts on is then final, with no
// quiet period guessed at. It fails the test at the deadline.
func Settle(tb testing.TB, st store.Store, within time.Duration, done func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		if UnfinishedJobs(tb, st) == 0 && (done == nil || done()) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not settled within %s: %d jobs may still run", within, UnfinishedJobs(tb, st))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartJobs starts a jobs layer whose workers are added, and stops it when
// the test ends (before the store it runs on closes, which was opened
// earlier).
func StartJobs(tb testing.TB, l *jobs.Layer) {
	tb.Helper()
	if err := l.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Stop(ctx)
	})
}

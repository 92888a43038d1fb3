package jobs_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/store"
)

type idleArgs struct{}

func (idleArgs) Kind() string { return "test_idle" }

type idleWorker struct{ river.WorkerDefaults[idleArgs] }

func (idleWorker) Work(context.Context, *river.Job[idleArgs]) error { return nil }

// foreignArgs is a kind no worker here runs: another replica's.
type foreignArgs struct{}

func (foreignArgs) Kind() string { return "test_foreign" }

// The collector reads river_job: jobs by kind and state, the age of the
// oldest that should be running, and zeros for a kind with a worker here
// and nothing queued.
func TestJobsCollector(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := testdb.Open(t, driver)
		l, _ := newLayer(t, st, jobs.Config{})
		jobs.Add(l, idleWorker{})
		// Not started: the jobs stay as the test leaves them.
		later := time.Now().Add(time.Hour)
		var params []river.InsertManyParams
		for i := range 7 {
			params = append(params, river.InsertManyParams{Args: pingArgs{N: i}})
		}
		for i := range 2 {
			params = append(params, river.InsertManyParams{Args: pingArgs{N: 10 + i}, InsertOpts: &river.InsertOpts{ScheduledAt: later}})
		}
		params = append(params, river.InsertManyParams{Args: foreignArgs{}})
		if err := st.InTx(ctx, func(tx store.Tx) error { return l.InsertTx(ctx, tx, params...) }); err != nil {
			t.Fatal(err)
		}
		// Of the seven available pings: one retryable, queued an hour ago;
		// one available, queued ten minutes ago; one running (its age does
		// not count); one completed (not reported).
		exec(t, st, `UPDATE river_job SET state = 'retryable', created_at = %s WHERE %s`, ago(st, time.Hour), ping(st, 0))
		exec(t, st, `UPDATE river_job SET created_at = %s WHERE %s`, ago(st, 10*time.Minute), ping(st, 1))
		exec(t, st, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at, created_at = %s WHERE %s`, ago(st, 2*time.Hour), ping(st, 2))
		exec(t, st, `UPDATE river_job SET state = 'completed', finalized_at = created_at, created_at = %s WHERE %s`, ago(st, 3*time.Hour), ping(st, 3))

		reg := prometheus.NewRegistry()
		reg.MustRegister(l.Collector())
		want := `
# HELP alertbridge_jobs Jobs by kind and state (available, scheduled, retryable, running).
# TYPE alertbridge_jobs gauge
alertbridge_jobs{kind="test_foreign",state="available"} 1
alertbridge_jobs{kind="test_foreign",state="retryable"} 0
alertbridge_jobs{kind="test_foreign",state="running"} 0
alertbridge_jobs{kind="test_foreign",state="scheduled"} 0
alertbridge_jobs{kind="test_idle",state="available"} 0
alertbridge_jobs{kind="test_idle",state="retryable"} 0
alertbridge_jobs{kind="test_idle",state="running"} 0
alertbridge_jobs{kind="test_idle",state="scheduled"} 0
alertbridge_jobs{kind="test_ping",state="available"} 4
alertbridge_jobs{kind="test_ping",state="retryable"} 1
alertbridge_jobs{kind="test_ping",state="running"} 1
alertbridge_jobs{kind="test_ping",state="scheduled"} 2
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "alertbridge_jobs"); err != nil {
			t.Error(err)
		}
		ages := map[string]float64{}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "alertbridge_jobs_oldest_age_seconds" {
				for _, m := range mf.GetMetric() {
					ages[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		if a := ages["test_ping"]; a < 3599 || a > 3660 {
			t.Errorf("oldest test_ping is %.1fs old, want the retryable one's hour", a)
		}
		if a, ok := ages["test_idle"]; !ok || a != 0 {
			t.Errorf("test_idle age = %v, %v; want 0", a, ok)
		}
		if a := ages["test_foreign"]; a < 0 || a > 60 {
			t.Errorf("test_foreign age = %.1fs, want about 0", a)
		}
		if len(ages) != 3 {
			t.Errorf("ages = %v", ages)
		}
	})
}

// A database that cannot answer fails the scrape instead of hanging it.
func TestJobsCollectorFailsWithTheDatabase(t *testing.T) {
	st := testdb.Open(t, "sqlite")
	l, _ := newLayer(t, st, jobs.Config{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(l.Collector())
	st.Handle().(*sql.DB).Close()
	start := time.Now()
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "river_job") {
		t.Errorf("Gather on a closed database: %v", err)
	}
	if took := time.Since(start); took > jobs.ScrapeTimeout+time.Second {
		t.Errorf("the failed scrape took %s", took)
	}
}

// ago is SQL for the time d before now, in the form River writes.
func ago(st store.Store, d time.Duration) string {
	if _, ok := st.Handle().(*sql.DB); ok {
		return fmt.Sprintf(`strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-%d seconds')`, int(d.Seconds()))
	}
	return fmt.Sprintf(`now() - interval '%d seconds'`, int(d.Seconds()))
}

// ping is SQL selecting the test_ping job with N = n.
func ping(st store.Store, n int) string {
	if _, ok := st.Handle().(*sql.DB); ok {
		return fmt.Sprintf(`kind = 'test_ping' AND json_extract(args, '$.N') = %d`, n)
	}
	return fmt.Sprintf(`kind = 'test_ping' AND (args->>'N')::int = %d`, n)
}

func exec(t *testing.T, st store.Store, format string, args ...any) {
	t.Helper()
	q := fmt.Sprintf(format, args...)
	var n int64
	switch db := st.Handle().(type) {
	case *sql.DB:
		r, err := db.ExecContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		n, _ = r.RowsAffected()
	case *pgxpool.Pool:
		tag, err := db.Exec(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		n = tag.RowsAffected()
	}
	if n != 1 {
		t.Fatalf("%s: %d rows, want 1", q, n)
	}
}

package jobs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/store"
)

type pingArgs struct{ N int }

func (pingArgs) Kind() string { return "test_ping" }

type pingWorker struct {
	river.WorkerDefaults[pingArgs]
	runs atomic.Int32
}

func (w *pingWorker) Work(context.Context, *river.Job[pingArgs]) error {
	w.runs.Add(1)
	return nil
}

func newLayer(t *testing.T, st store.Store, cfg jobs.Config) (*jobs.Layer, *pingWorker) {
	t.Helper()
	cfg.DB = st.Handle()
	cfg.Queues = map[string]int{river.QueueDefault: 2}
	cfg.PollInterval = 20 * time.Millisecond
	l, err := jobs.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &pingWorker{}
	jobs.Add(l, w)
	return l, w
}

// orphan inserts a job and leaves it as a replica named owner leaves it
// when it is killed mid-run: running, attempted by owner, whose heartbeat
// was last written seenAgo ago.
func orphan(t *testing.T, st store.Store, l *jobs.Layer, owner string, seenAgo time.Duration) {
	t.Helper()
	ctx := context.Background()
	if err := st.InTx(ctx, func(tx store.Tx) error {
		return l.InsertTx(ctx, tx, river.InsertManyParams{Args: pingArgs{N: 1}})
	}); err != nil {
		t.Fatal(err)
	}
	pool := st.Handle().(*pgxpool.Pool)
	if _, err := pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(), attempted_by = ARRAY[$1::text]`, owner); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO alertbridge_replicas (id, seen_at) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, owner, time.Now().Add(-seenAgo).UnixMicro()); err != nil {
		t.Fatal(err)
	}
}

func waitRuns(t *testing.T, w *pingWorker, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for w.runs.Load() == 0 {
		if time.Since(start) > within {
			t.Fatalf("the orphaned job did not run within %s", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// A replica that stopped writing its heartbeat is gone: another replica
// runs the jobs it was running once it has been silent for Dead, instead of
// after River's rescuer (JobTimeout plus a minute, at its next pass).
func TestSilentReplicasJobsResumeElsewhere(t *testing.T) {
	st := testdb.Open(t, "postgres")
	l, w := newLayer(t, st, jobs.Config{ID: "survivor", Heartbeat: 50 * time.Millisecond, Dead: time.Second, JobTimeout: time.Hour})
	orphan(t, st, l, "killed", 0)
	testdb.StartJobs(t, l)
	took := waitRuns(t, w, 10*time.Second)
	if took < 900*time.Millisecond {
		t.Errorf("the job of a replica last seen %s ago ran after %s, before it counted as silent (1s)", took, took)
	}
	t.Logf("orphan resumed %s after the kill", took)
}

// A replica restarted under the same ID takes back at once what its
// previous process was running, without waiting to be declared dead.
func TestRestartedReplicaTakesBackItsJobs(t *testing.T) {
	st := testdb.Open(t, "postgres")
	l, w := newLayer(t, st, jobs.Config{ID: "replica-1", Dead: time.Hour, JobTimeout: time.Hour})
	orphan(t, st, l, "replica-1", 0)
	testdb.StartJobs(t, l)
	waitRuns(t, w, 5*time.Second)
}

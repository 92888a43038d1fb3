package delivery_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/destination/webhook"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/store"
)

// script is a webhook receiver answering from a list of statuses, then 200.
type script struct {
	mu       sync.Mutex
	answers  []int
	requests []time.Time
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, time.Now())
	code := 200
	if len(s.answers) > 0 {
		code, s.answers = s.answers[0], s.answers[1:]
	}
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(code)
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

type fixture struct {
	st  store.Store
	q   *delivery.Deliverer
	rcv *script
}

// start builds a jobs layer and deliverer on st, starts them unless told
// not to, and stops them when the test ends.
func start(t *testing.T, st store.Store, cfg delivery.Config, run bool) (*jobs.Layer, *delivery.Deliverer) {
	t.Helper()
	ctx := context.Background()
	l, err := jobs.New(ctx, jobs.Config{DB: st.Handle(), Queues: map[string]int{delivery.Queue: 10},
		PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	d := delivery.New(l, st, cfg)
	d.Start(ctx)
	t.Cleanup(d.Close) // after the jobs stop: cleanups run last first
	if run {
		testdb.StartJobs(t, l)
	}
	return l, d
}

func newFixture(t *testing.T, driver string, maxAttempts int, answers ...int) *fixture {
	t.Helper()
	rcv := &script{answers: answers}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	st := testdb.Open(t, driver)
	_, q := start(t, st, delivery.Config{
		Notifiers:   map[string]destination.Notifier{"hook": webhook.New(webhook.Config{URL: srv.URL, Timeout: 5 * time.Second})},
		MaxAttempts: func(string) int { return maxAttempts },
	}, true)
	return &fixture{st: st, q: q, rcv: rcv}
}

// enqueue stores an alert and one delivery of it to "hook".
func (f *fixture) enqueue(t *testing.T, id string) *store.Delivery {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	d := &store.Delivery{AlertID: id, Destination: "hook", Reason: "routed", State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now}
	err := f.st.InTx(ctx, func(tx store.Tx) error {
		a := &alert.Alert{AlertID: id, Title: "t", Severity: alert.SeverityHigh, Type: alert.TypeRule,
			Tags: []string{}, Source: alert.SourceAPI, Status: alert.StatusOpen, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.InsertAlert(ctx, a); err != nil {
			return err
		}
		return f.q.Enqueue(ctx, tx, []*store.Delivery{d})
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// settle waits until the delivery reaches a final state and returns it.
func (f *fixture) settle(t *testing.T, id int64, within time.Duration) *store.Delivery {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var d *store.Delivery
		err := f.st.View(context.Background(), func(tx store.Tx) (err error) {
			d, err = tx.GetDelivery(context.Background(), id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if d.State == store.DeliveryDelivered || d.State == store.DeliveryFailed {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %d still %s after %s (attempts %d, last error %q)", id, d.State, within, d.Attempts, d.LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDeliveryOutcomes(t *testing.T) {
	tests := []struct {
		name         string
		maxAttempts  int
		answers      []int
		wantState    store.DeliveryState
		wantAttempts int
	}{
		{"first try", 5, nil, store.DeliveryDelivered, 1},
		{"5xx retries then delivers", 5, []int{500, 503}, store.DeliveryDelivered, 3},
		{"408 retries", 5, []int{408}, store.DeliveryDelivered, 2},
		{"4xx fails at once", 5, []int{400}, store.DeliveryFailed, 1},
		{"attempts run out", 3, []int{500, 500, 500, 500}, store.DeliveryFailed, 3},
		// A 429 waits without spending the budget: one attempt allowed,
		// yet the delivery still goes through after the wait.
		{"429 does not spend an attempt", 1, []int{429}, store.DeliveryDelivered, 2},
	}
	testdb.Each(t, func(t *testing.T, driver string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := newFixture(t, driver, tt.maxAttempts, tt.answers...)
				d := f.settle(t, f.enqueue(t, "a-"+strconv.Itoa(tt.maxAttempts)).ID, 15*time.Second)
				if d.State != tt.wantState || d.Attempts != tt.wantAttempts {
					t.Fatalf("state %s after %d attempts (last error %q), want %s after %d",
						d.State, d.Attempts, d.LastError, tt.wantState, tt.wantAttempts)
				}
				if got := f.rcv.count(); got != tt.wantAttempts {
					t.Errorf("receiver saw %d requests, want %d", got, tt.wantAttempts)
				}
				var evs []alert.Event
				var health map[string]store.Health
				// Health is flushed a moment after the outcome.
				deadline := time.Now().Add(5 * time.Second)
				for {
					_ = f.st.View(context.Background(), func(tx store.Tx) (err error) {
						evs, _ = tx.ListEvents(context.Background(), d.AlertID)
						health, err = tx.DestinationHealth(context.Background())
						return err
					})
					h := health["hook"]
					if (tt.wantState == store.DeliveryFailed && h.LastError != "") || (tt.wantState == store.DeliveryDelivered && !h.LastSuccess.IsZero()) || time.Now().After(deadline) {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				want := alert.ActionDelivered
				if tt.wantState == store.DeliveryFailed {
					want = alert.ActionDeliveryFailed
					if health["hook"].LastError == "" {
						t.Error("destination health has no last error")
					}
				} else if health["hook"].LastSuccess.IsZero() {
					t.Error("destination health has no last success")
				}
				if len(evs) == 0 || evs[len(evs)-1].Action != want {
					t.Errorf("timeline %+v does not end with %s", evs, want)
				}
			})
		}
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, 5, 429)
		f.settle(t, f.enqueue(t, "ra").ID, 15*time.Second)
		f.rcv.mu.Lock()
		defer f.rcv.mu.Unlock()
		if len(f.rcv.requests) != 2 {
			t.Fatalf("requests = %d, want 2", len(f.rcv.requests))
		}
		if gap := f.rcv.requests[1].Sub(f.rcv.requests[0]); gap < time.Second {
			t.Errorf("retried %s after a 429 with Retry-After: 1", gap)
		}
	})
}

// A job that runs again after its outcome was recorded (its completion lost
// in a crash) must not deliver a second time.
func TestRecordedOutcomeIsNotRedelivered(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, 5)
		d := f.settle(t, f.enqueue(t, "once").ID, 10*time.Second)
		if d.State != store.DeliveryDelivered {
			t.Fatalf("state %s", d.State)
		}
		// Put a second job on the same, already delivered, delivery row.
		ctx := context.Background()
		err := f.st.InTx(ctx, func(tx store.Tx) error {
			return f.q.Requeue(ctx, tx, d.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		// Settled: the second job ran (no job is left to run), and found
		// the outcome recorded.
		testdb.Settle(t, f.st, 10*time.Second, nil)
		if got := f.rcv.count(); got != 1 {
			t.Errorf("receiver saw %d requests for one delivery", got)
		}
	})
}

// Replicas starting together against one PostgreSQL must all come up: the
// queue's migrations take a lock.
func TestConcurrentQueueStart(t *testing.T) {
	url := testdb.URL(t, "postgres")
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := store.Open(context.Background(), url)
			if err != nil {
				t.Error(err)
				failed.Add(1)
				return
			}
			defer st.Close()
			if _, err := jobs.New(context.Background(), jobs.Config{DB: st.Handle()}); err != nil {
				t.Error(err)
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of 4 replicas failed to start", failed.Load())
	}
}

// On SQLite a job left running by a dead process is handed back at start.
func TestSQLiteOrphanedJobRunsAtStart(t *testing.T) {
	ctx := context.Background()
	rcv := &script{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	url := testdb.URL(t, "sqlite")
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := delivery.Config{
		Notifiers: map[string]destination.Notifier{"hook": webhook.New(webhook.Config{URL: srv.URL})},
	}
	l, q := start(t, st, cfg, false)
	f := &fixture{st: st, q: q, rcv: rcv}
	d := f.enqueue(t, "orphan")
	// As if a worker had taken the job and the process had died.
	err = st.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.Raw().(*sql.Tx).ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = CURRENT_TIMESTAMP`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	testdb.StartJobs(t, l)
	if got := f.settle(t, d.ID, 10*time.Second); got.State != store.DeliveryDelivered {
		t.Fatalf("state %s", got.State)
	}
}

// A delivery cut short by shutdown is recorded as an attempt that may have
// arrived, and runs again at the next start.
func TestShutdownMidDeliveryIsRecorded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		release := make(chan struct{})
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		}))
		defer srv.Close()
		defer close(release)
		st := testdb.Open(t, driver)
		cfg := delivery.Config{
			Notifiers: map[string]destination.Notifier{"hook": webhook.New(webhook.Config{URL: srv.URL, Timeout: time.Minute})},
		}
		l, q := start(t, st, cfg, true)
		f := &fixture{st: st, q: q, rcv: &script{}}
		d := f.enqueue(t, "cut")
		deadline := time.Now().Add(10 * time.Second)
		for calls.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_ = l.Stop(stopCtx) // graceful wait runs out; running work is cancelled
		cancel()
		var got *store.Delivery
		_ = st.View(ctx, func(tx store.Tx) (err error) { got, err = tx.GetDelivery(ctx, d.ID); return err })
		if got.Attempts != 1 || got.State != store.DeliveryRetrying || got.LastError == "" {
			t.Fatalf("after shutdown: %+v, want one recorded, retrying attempt", got)
		}
		_, f.q = start(t, st, cfg, true)
		if got := f.settle(t, d.ID, 15*time.Second); got.State != store.DeliveryDelivered || got.Attempts != 2 {
			t.Fatalf("after restart: %+v, want delivered on attempt 2", got)
		}
	})
}

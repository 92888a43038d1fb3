package delivery_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/store"
)

// notes records what each attempt was told; it stands for a destination.
type notes struct {
	mu  sync.Mutex
	got []destination.Notification
}

func (n *notes) Notify(_ context.Context, note destination.Notification) (destination.Receipt, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, note)
	return destination.Receipt{Detail: "noted"}, nil
}

// An attempt claimed in the delivery's row and never recorded (its process
// was killed mid-send) makes the next run say so to the destination,
// whatever River's own bookkeeping says of the job: River's rescuer adds an
// error when it hands a job back, and counting on its errors is what once
// made a retried create believe it was the first.
func TestClaimedAttemptIsKnownAfterACrash(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := testdb.Open(t, driver)
		rec := &notes{}
		l, q := start(t, st, delivery.Config{Notifiers: map[string]destination.Notifier{"hook": rec}}, false)
		f := &fixture{st: st, q: q}
		d := f.enqueue(t, "crashed")
		killedAt := time.Now().UTC().Add(-2 * time.Second)
		err := st.InTx(ctx, func(tx store.Tx) error {
			ok, err := tx.ClaimDelivery(ctx, d, killedAt)
			if !ok && err == nil {
				t.Fatal("could not claim a fresh delivery")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		testdb.StartJobs(t, l)
		if got := f.settle(t, d.ID, 10*time.Second); got.State != store.DeliveryDelivered || got.Attempts != 2 || !got.SendingSince.IsZero() {
			t.Fatalf("delivery %+v, want delivered on attempt 2 with no send in flight", got)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.got) != 1 {
			t.Fatalf("%d notifications, want 1", len(rec.got))
		}
		n := rec.got[0]
		if n.Attempt != 2 || n.LastAttempt.Before(killedAt) {
			t.Errorf("told attempt %d, last sent %s; want attempt 2 and a last send no earlier than the claim at %s",
				n.Attempt, n.LastAttempt, killedAt)
		}
	})
}

// A claim holds against a second run that read the row before it: only
// one of two runs may send.
func TestClaimIsExclusive(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := testdb.Open(t, driver)
		_, q := start(t, st, delivery.Config{Notifiers: map[string]destination.Notifier{"hook": &notes{}}}, false)
		f := &fixture{st: st, q: q}
		d := f.enqueue(t, "raced")
		stale := *d
		claim := func(d *store.Delivery) bool {
			var ok bool
			if err := st.InTx(ctx, func(tx store.Tx) (err error) { ok, err = tx.ClaimDelivery(ctx, d, time.Now()); return err }); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !claim(d) {
			t.Fatal("first claim refused")
		}
		if claim(&stale) {
			t.Fatal("a second run holding the row as it was before the first claim claimed it too")
		}
	})
}

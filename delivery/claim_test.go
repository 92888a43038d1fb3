package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
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

// Many deliveries started together (their reads and claims shared, in a
// group commit) are each delivered once, each attempt told its own alert
// and issue; a delivery whose alert is gone is cancelled, not retried.
func TestDeliveriesStartedTogether(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := testdb.Open(t, driver)
		b := store.NewBatcher(st, 2, 64)
		rec := &notes{}
		l, q := start(t, st, delivery.Config{Notifiers: map[string]destination.Notifier{"hook": rec}, Batch: b}, false)
		t.Cleanup(b.Close) // after the jobs stop
		const n = 40
		now := time.Now().UTC()
		ds := make([]*store.Delivery, n+1)
		err := st.InTx(ctx, func(tx store.Tx) error {
			for i := range n {
				id := fmt.Sprint("t", i)
				a := &alert.Alert{AlertID: id, Title: "title " + id, Severity: alert.SeverityHigh, Type: alert.TypeRule,
					Tags: []string{}, Source: alert.SourceAPI, Status: alert.StatusOpen, CreatedAt: now, UpdatedAt: now}
				if _, err := tx.InsertAlert(ctx, a); err != nil {
					return err
				}
				if i%2 == 0 {
					if err := tx.UpsertIssue(ctx, id, alert.Issue{Destination: "hook", Key: "K-" + id, URL: "https://j/" + id}); err != nil {
						return err
					}
				}
			}
			for i := range ds {
				ds[i] = &store.Delivery{AlertID: fmt.Sprint("t", i), Destination: "hook", Reason: store.ReasonRouted,
					State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now}
			}
			// The last names an alert that is not stored.
			ds[n].AlertID = "gone"
			return q.Enqueue(ctx, tx, ds)
		})
		if err != nil {
			t.Fatal(err)
		}
		testdb.StartJobs(t, l)
		for _, d := range ds[:n] {
			if got := (&fixture{st: st}).settle(t, d.ID, 20*time.Second); got.State != store.DeliveryDelivered || got.Attempts != 1 {
				t.Errorf("delivery %d: %+v, want delivered on attempt 1", d.ID, got)
			}
		}
		testdb.Settle(t, st, 20*time.Second, nil)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.got) != n {
			t.Fatalf("%d notifications, want %d", len(rec.got), n)
		}
		byID := map[int64]destination.Notification{}
		for _, note := range rec.got {
			byID[note.DeliveryID] = note
		}
		for i, d := range ds[:n] {
			note, ok := byID[d.ID]
			if !ok {
				t.Errorf("delivery %d never notified", d.ID)
				continue
			}
			if note.Alert.AlertID != d.AlertID || note.Alert.Title != "title "+d.AlertID || note.Attempt != 1 {
				t.Errorf("delivery %d of %s told alert %s %q, attempt %d", d.ID, d.AlertID, note.Alert.AlertID, note.Alert.Title, note.Attempt)
			}
			if linked := note.Issue != nil && note.Issue.Key == "K-"+d.AlertID; linked != (i%2 == 0) {
				t.Errorf("delivery %d of %s told issue %+v", d.ID, d.AlertID, note.Issue)
			}
		}
		var gone *store.Delivery
		_ = st.View(ctx, func(tx store.Tx) (err error) { gone, err = tx.GetDelivery(ctx, ds[n].ID); return err })
		if gone == nil || gone.Attempts != 0 {
			t.Errorf("delivery of a missing alert: %+v, want never attempted", gone)
		}
	})
}

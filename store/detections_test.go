package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/store"
)

func TestDetectionGroupRoundTripAndExpiry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		t0 := time.Date(2026, 5, 19, 10, 0, 0, 0, time.UTC)
		g := &store.DetectionGroup{RuleID: "R.One", Dedup: "alice", PeriodStart: t0, PeriodEnd: t0.Add(time.Hour),
			Count: 3, FirstSeen: t0, LastSeen: t0.Add(time.Minute), Raised: true, AlertID: "abc",
			CommentedCount: 2, CommentedAt: t0.Add(2 * time.Minute), State: json.RawMessage(`{"count":3}`), UpdatedAt: t0}
		err := s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.LockDetectionGroup(ctx, "R.One", "alice"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("new group: err = %v, want ErrNotFound", err)
			}
			return tx.PutDetectionGroup(ctx, g)
		})
		if err != nil {
			t.Fatal(err)
		}
		g.Count = 4
		if err := s.InTx(ctx, func(tx store.Tx) error { return tx.PutDetectionGroup(ctx, g) }); err != nil {
			t.Fatal(err)
		}
		var got *store.DetectionGroup
		if err := s.InTx(ctx, func(tx store.Tx) (err error) {
			got, err = tx.LockDetectionGroup(ctx, "R.One", "alice")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got.Count != 4 || !got.Raised || got.AlertID != "abc" || !got.PeriodEnd.Equal(t0.Add(time.Hour)) ||
			got.CommentedCount != 2 || !got.CommentedAt.Equal(t0.Add(2*time.Minute)) || string(got.State) != `{"count":3}` {
			t.Errorf("round trip: %+v", got)
		}
		var n int64
		if err := s.InTx(ctx, func(tx store.Tx) (err error) {
			if n, err = tx.ExpireDetectionGroups(ctx, t0.Add(59*time.Minute)); err != nil || n != 0 {
				t.Errorf("expire before the end: %d, %v", n, err)
			}
			n, err = tx.ExpireDetectionGroups(ctx, t0.Add(time.Hour))
			return err
		}); err != nil || n != 1 {
			t.Fatalf("expire at the end: %d, %v", n, err)
		}
	})
}

// Two writers creating the same new group concurrently must not both see
// "no group": the second waits for the first and sees its row.
func TestDetectionGroupLockSerialisesCreators(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.InTx(ctx, func(tx store.Tx) error {
					g, err := tx.LockDetectionGroup(ctx, "R", "d")
					if errors.Is(err, store.ErrNotFound) {
						g, err = &store.DetectionGroup{RuleID: "R", Dedup: "d", State: json.RawMessage(`{}`)}, nil
					}
					if err != nil {
						return err
					}
					g.Count++
					return tx.PutDetectionGroup(ctx, g)
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		err := s.InTx(ctx, func(tx store.Tx) error {
			g, err := tx.LockDetectionGroup(ctx, "R", "d")
			if err == nil && g.Count != 8 {
				t.Errorf("count = %d after 8 increments", g.Count)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestSourceEventsMarkAndPrune(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		t0 := time.Date(2026, 5, 19, 10, 0, 0, 0, time.UTC)
		mark := func(src string, at time.Time, ids ...string) []bool {
			var fresh []bool
			if err := s.InTx(ctx, func(tx store.Tx) (err error) {
				fresh, err = tx.MarkSourceEvents(ctx, src, ids, at)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return fresh
		}
		if got := mark("a", t0, "e1", "e2"); !got[0] || !got[1] {
			t.Errorf("first sight: %v", got)
		}
		if got := mark("a", t0.Add(time.Minute), "e2", "e3"); got[0] || !got[1] {
			t.Errorf("overlap: %v, want [false true]", got)
		}
		if got := mark("b", t0, "e1"); !got[0] {
			t.Error("another source's event id counted as seen")
		}
		var n int64
		if err := s.InTx(ctx, func(tx store.Tx) (err error) {
			n, err = tx.PruneSourceEvents(ctx, "a", t0.Add(30*time.Second))
			return err
		}); err != nil || n != 2 { // e1 and e2, first seen at t0; e3 (t0+1m) stays
			t.Fatalf("prune: %d, %v", n, err)
		}
		if got := mark("a", t0.Add(time.Hour), "e1"); !got[0] {
			t.Error("a pruned id still counted as seen")
		}
	})
}

func TestUpdateAlertDetection(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		t0 := time.Date(2026, 5, 19, 10, 0, 0, 0, time.UTC)
		a := sample("d1", alert.SeverityHigh, t0)
		a.Detection = &alert.Detection{MatchCount: 1, FirstSeen: t0, LastSeen: t0, Dedup: "x"}
		later := t0.Add(time.Minute)
		err := s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertAlert(ctx, a); err != nil {
				return err
			}
			return tx.UpdateAlertDetection(ctx, "d1", alert.Detection{MatchCount: 5, FirstSeen: t0, LastSeen: later, Dedup: "x"}, later)
		})
		if err != nil {
			t.Fatal(err)
		}
		var got *alert.Alert
		if err := s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.GetAlert(ctx, "d1"); return err }); err != nil {
			t.Fatal(err)
		}
		if got.Detection == nil || got.Detection.MatchCount != 5 || !got.Detection.LastSeen.Equal(later) ||
			!got.UpdatedAt.Equal(later) || got.Title != a.Title {
			t.Errorf("after update: %+v %+v", got, got.Detection)
		}
		err = s.InTx(ctx, func(tx store.Tx) error {
			return tx.UpdateAlertDetection(ctx, "nope", alert.Detection{}, later)
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing alert: %v, want ErrNotFound", err)
		}
	})
}

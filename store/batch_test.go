package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/store"
)

// Concurrent writes commit, a failing one fails alone, and each caller
// learns its own outcome.
func TestBatcherIsolatesFailures(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		b := store.NewBatcher(s, 2, 16)
		defer b.Close()
		boom := errors.New("boom")
		var wg sync.WaitGroup
		errs := make([]error, 64)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = b.Do(ctx, func(tx store.Tx) error {
					if _, err := tx.InsertAlert(ctx, sample(fmt.Sprint("b", i), alert.SeverityLow, time.Now())); err != nil {
						return err
					}
					if i%10 == 3 {
						return boom
					}
					return nil
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			var stored bool
			_ = s.View(ctx, func(tx store.Tx) error {
				_, gerr := tx.GetAlert(ctx, fmt.Sprint("b", i))
				stored = gerr == nil
				return nil
			})
			if i%10 == 3 {
				if !errors.Is(err, boom) || stored {
					t.Errorf("write %d: err = %v, stored = %v; want boom and not stored", i, err, stored)
				}
			} else if err != nil || !stored {
				t.Errorf("write %d: err = %v, stored = %v; want committed", i, err, stored)
			}
		}
	})
}

func TestBatcherClose(t *testing.T) {
	s := testdb.Open(t, "sqlite")
	b := store.NewBatcher(s, 1, 8)
	if err := b.Do(context.Background(), func(store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := b.Do(context.Background(), func(store.Tx) error { return nil }); !errors.Is(err, store.ErrBatchClosed) {
		t.Errorf("Do after Close: %v, want ErrBatchClosed", err)
	}
}

// Calls of a Merge waiting together run as one call over all their
// arguments, in queue order, and each caller gets its own result; when the
// shared transaction fails, each call runs again alone, so only the bad
// one fails.
func TestMergeRunsWaitingCallsAsOne(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		b := store.NewBatcher(s, 1, 64)
		defer b.Close()
		boom := errors.New("boom")
		var (
			mu   sync.Mutex
			runs [][]string
		)
		m := store.NewMerge(b, func(ctx context.Context, tx store.Tx, ids []string) ([]bool, error) {
			mu.Lock()
			runs = append(runs, slices.Clone(ids))
			mu.Unlock()
			as := make([]*alert.Alert, len(ids))
			for i, id := range ids {
				if id == "bad" {
					return nil, boom
				}
				as[i] = sample(id, alert.SeverityLow, time.Now())
			}
			return tx.InsertAlerts(ctx, as)
		})
		// mergeAll has the calls of ids wait together, in ids' order,
		// behind a transaction that holds the writer, and returns what
		// each call got.
		mergeAll := func(ids []string) ([]bool, []error) {
			hold, held := make(chan struct{}), make(chan struct{})
			go func() {
				_ = b.Do(ctx, func(store.Tx) error { close(held); <-hold; return nil })
			}()
			<-held
			got, errs := make([]bool, len(ids)), make([]error, len(ids))
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i], errs[i] = m.Do(ctx, id)
				}()
				// One at a time, so that the queue's order is ids' order.
				for deadline := time.Now().Add(10 * time.Second); store.Queued(b) < i+1; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("call %d never queued", i)
					}
				}
			}
			close(hold)
			wg.Wait()
			return got, errs
		}
		ids := []string{"m0", "m1", "m0", "bad", "m2"}
		got, errs := mergeAll(ids)
		if len(runs) == 0 || !slices.Equal(runs[0], ids) {
			t.Fatalf("first run got %v, want all calls %v", runs, ids)
		}
		// After the failed shared run, each call alone: m0 stored by the
		// first, so the second m0 is a repeat.
		if len(runs) != 1+len(ids) {
			t.Errorf("runs = %v, want the merged one and then each alone", runs)
		}
		for i, want := range []bool{true, true, false, false, true} {
			if ids[i] == "bad" {
				if !errors.Is(errs[i], boom) {
					t.Errorf("call %d (bad): %v, want boom", i, errs[i])
				}
				continue
			}
			if errs[i] != nil || got[i] != want {
				t.Errorf("call %d (%s) = %v, %v; want %v", i, ids[i], got[i], errs[i], want)
			}
		}

		// Without a bad call, one run serves them all.
		runs = nil
		ids = []string{"m3", "m1", "m4"}
		got, errs = mergeAll(ids)
		if len(runs) != 1 || !slices.Equal(runs[0], ids) {
			t.Errorf("runs = %v, want one with %v", runs, ids)
		}
		if !slices.Equal(got, []bool{true, false, true}) || errs[0] != nil || errs[1] != nil || errs[2] != nil {
			t.Errorf("results = %v, errors %v", got, errs)
		}
	})
}

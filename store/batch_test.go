package store_test

import (
	"context"
	"errors"
	"fmt"
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

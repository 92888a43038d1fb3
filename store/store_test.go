package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/store"
)

func sample(id string, sev alert.Severity, created time.Time) *alert.Alert {
	return &alert.Alert{
		ID: "Rule.One", AlertID: id, CreatedAt: created, Severity: sev, Type: alert.TypeRule,
		Title: "title " + id, Tags: []string{"a", "b"}, Context: json.RawMessage(`{"ip":"10.0.0.1"}`),
		LogTypes: []string{"Atlassian.Audit"}, Source: alert.SourceAPI, Status: alert.StatusOpen,
		UpdatedAt: created,
	}
}

func TestAlertRoundTripAndIdempotentInsert(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		now := time.Date(2026, 11, 21, 10, 0, 0, 123456000, time.UTC)
		a := sample("a1", alert.SeverityHigh, now)

		var inserted [2]bool
		for i := range inserted {
			err := s.InTx(ctx, func(tx store.Tx) (err error) {
				inserted[i], err = tx.InsertAlert(ctx, a)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if !inserted[0] || inserted[1] {
			t.Fatalf("inserted = %v, want first true and second false", inserted)
		}
		var got *alert.Alert
		if err := s.View(ctx, func(tx store.Tx) (err error) {
			got, err = tx.GetAlert(ctx, "a1")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got.Title != a.Title || got.Severity != a.Severity || !got.CreatedAt.Equal(now) ||
			string(got.Context) != `{"ip":"10.0.0.1"}` || len(got.Tags) != 2 || got.Status != alert.StatusOpen {
			t.Errorf("round trip: got %+v", got)
		}
		err := s.View(ctx, func(tx store.Tx) error { _, err := tx.GetAlert(ctx, "missing"); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing alert: err = %v, want ErrNotFound", err)
		}
	})
}

func TestListAlertsFiltersAndPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		err := s.InTx(ctx, func(tx store.Tx) error {
			for i := range 7 {
				sev := alert.SeverityHigh
				if i%2 == 1 {
					sev = alert.SeverityLow
				}
				if _, err := tx.InsertAlert(ctx, sample(string(rune('a'+i)), sev, base.Add(time.Duration(i)*time.Minute))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		cursor := ""
		pages := 0
		for {
			var page []*alert.Alert
			err := s.View(ctx, func(tx store.Tx) (err error) {
				page, cursor, err = tx.ListAlerts(ctx, store.ListQuery{Severity: alert.SeverityHigh, Limit: 2, Cursor: cursor})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, a := range page {
				ids = append(ids, a.AlertID)
			}
			if cursor == "" {
				break
			}
		}
		// HIGH alerts are a, c, e, g; newest first.
		if got := ids; len(got) != 4 || got[0] != "g" || got[1] != "e" || got[2] != "c" || got[3] != "a" {
			t.Errorf("paged ids = %q, want [g e c a]", got)
		}
		if pages != 2 {
			t.Errorf("pages = %d, want 2", pages)
		}
		err = s.View(ctx, func(tx store.Tx) error {
			_, _, err := tx.ListAlerts(ctx, store.ListQuery{Cursor: "!!"})
			return err
		})
		if err == nil {
			t.Error("malformed cursor accepted")
		}
	})
}

func TestTimelineCommentsDeliveriesIssues(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		now := time.Now().UTC().Truncate(time.Microsecond)
		d := &store.Delivery{AlertID: "x", Destination: "hook", Reason: "routed", State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now}
		err := s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertAlert(ctx, sample("x", alert.SeverityLow, now)); err != nil {
				return err
			}
			if err := tx.AddEvent(ctx, "x", alert.Event{At: now, Actor: "api", Action: alert.ActionCreated}); err != nil {
				return err
			}
			if err := tx.AddComment(ctx, &alert.Comment{AlertID: "x", Author: "b@example.com", Body: "**hi**", Origin: "alertbridge", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			if err := tx.InsertDelivery(ctx, d); err != nil {
				return err
			}
			return tx.UpsertIssue(ctx, "x", alert.Issue{Destination: "jira", Key: "SEC-1", URL: "https://j/browse/SEC-1"})
		})
		if err != nil {
			t.Fatal(err)
		}
		if d.ID == 0 {
			t.Fatal("delivery id not set")
		}
		err = s.InTx(ctx, func(tx store.Tx) error {
			a, err := tx.LockAlert(ctx, "x")
			if err != nil {
				return err
			}
			a.Status, a.Assignee, a.UpdatedAt = alert.StatusTriaged, "a@example.com", now.Add(time.Second)
			if err := tx.UpdateAlertState(ctx, a); err != nil {
				return err
			}
			d.State, d.Attempts, d.LastError = store.DeliveryRetrying, 1, "boom"
			if err := tx.UpdateDelivery(ctx, d); err != nil {
				return err
			}
			if err := tx.UpsertIssue(ctx, "x", alert.Issue{Destination: "jira", Key: "SEC-1", URL: "https://j/browse/SEC-1", Status: "Done"}); err != nil {
				return err
			}
			return tx.RecordDestinationResult(ctx, "hook", now, "boom")
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.View(ctx, func(tx store.Tx) error {
			a, err := tx.GetAlert(ctx, "x")
			if err != nil {
				return err
			}
			if a.Status != alert.StatusTriaged || a.Assignee != "a@example.com" {
				t.Errorf("state = %s/%s", a.Status, a.Assignee)
			}
			evs, _ := tx.ListEvents(ctx, "x")
			cs, _ := tx.ListComments(ctx, "x")
			ds, _ := tx.ListDeliveries(ctx, "x")
			is, _ := tx.ListIssues(ctx, "x")
			if len(evs) != 1 || evs[0].Action != alert.ActionCreated || !evs[0].At.Equal(now) {
				t.Errorf("events = %+v", evs)
			}
			if len(cs) != 1 || cs[0].Body != "**hi**" || cs[0].ID == 0 {
				t.Errorf("comments = %+v", cs)
			}
			if len(ds) != 1 || ds[0].State != store.DeliveryRetrying || ds[0].Attempts != 1 || ds[0].LastError != "boom" {
				t.Errorf("deliveries = %+v", ds)
			}
			if len(is) != 1 || is[0].Status != "Done" {
				t.Errorf("issues = %+v", is)
			}
			counts, err := tx.CountDeliveries(ctx)
			if err != nil {
				return err
			}
			if counts[store.DeliveryRetrying] != 1 || counts[store.DeliveryPending] != 0 {
				t.Errorf("counts = %v", counts)
			}
			h, err := tx.DestinationHealth(ctx)
			if err != nil {
				return err
			}
			if h["hook"].LastError != "boom" || !h["hook"].LastErrorAt.Equal(now) {
				t.Errorf("health = %+v", h)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestRollbackLeavesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		boom := errors.New("boom")
		err := s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertAlert(ctx, sample("r", alert.SeverityLow, time.Now())); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		err = s.View(ctx, func(tx store.Tx) error { _, err := tx.GetAlert(ctx, "r"); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("alert survived rollback: %v", err)
		}
	})
}

// Replicas starting together must not race each other's migrations, and a
// second open of a migrated database must change nothing.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		url := testdb.URL(t, driver)
		n := 4
		if driver == "sqlite" {
			n = 1 // one process owns a SQLite file
		}
		var wg sync.WaitGroup
		errs := make(chan error, n+1)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := store.Open(context.Background(), url)
				if err == nil {
					s.Close()
				}
				errs <- err
			}()
		}
		wg.Wait()
		s, err := store.Open(context.Background(), url)
		errs <- err
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
	})
}

func TestCheckpoints(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		for _, v := range []string{"one", "two"} {
			if err := s.InTx(ctx, func(tx store.Tx) error { return tx.PutCheckpoint(ctx, "src", v, time.Now()) }); err != nil {
				t.Fatal(err)
			}
		}
		var got string
		if err := s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.GetCheckpoint(ctx, "src"); return err }); err != nil {
			t.Fatal(err)
		}
		if got != "two" {
			t.Errorf("checkpoint = %q, want two", got)
		}
	})
}

// On SQLite our transactions commit with synchronous=FULL (durable on
// return) while the connection's default, which River's bookkeeping uses,
// is NORMAL.
func TestSQLiteOwnTransactionsAreFullySynchronous(t *testing.T) {
	ctx := context.Background()
	s := testdb.Open(t, "sqlite")
	level := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) int {
		var n int
		if err := q.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	err := s.InTx(ctx, func(tx store.Tx) error {
		if got := level(tx.Raw().(*sql.Tx)); got != 2 {
			t.Errorf("synchronous inside InTx = %d, want 2 (FULL)", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := level(s.Handle().(*sql.DB)); got != 1 {
		t.Errorf("synchronous outside InTx = %d, want 1 (NORMAL)", got)
	}
}

// Replicas flush health in any order; an older outcome never overwrites a
// newer one.
func TestDestinationHealthNeverGoesBack(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		t1 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
		t2 := t1.Add(time.Minute)
		writes := []struct {
			at  time.Time
			err string
		}{{t2, ""}, {t1, ""}, {t2, "newer"}, {t1, "older"}}
		for _, w := range writes {
			if err := s.InTx(ctx, func(tx store.Tx) error { return tx.RecordDestinationResult(ctx, "d", w.at, w.err) }); err != nil {
				t.Fatal(err)
			}
		}
		var h map[string]store.Health
		_ = s.View(ctx, func(tx store.Tx) (err error) { h, err = tx.DestinationHealth(ctx); return err })
		if got := h["d"]; !got.LastSuccess.Equal(t2) || !got.LastErrorAt.Equal(t2) || got.LastError != "newer" {
			t.Errorf("health = %+v, want the newer success and error", got)
		}
	})
}

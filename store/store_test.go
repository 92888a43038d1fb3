package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jobs"
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

// InsertAlerts answers as InsertAlert would for each alert in order: an
// alert stored before, or named earlier in the same call, is no new one,
// and only the first of two copies is stored.
func TestInsertAlertsAnswersAsOneByOne(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
		if err := s.InTx(ctx, func(tx store.Tx) error {
			_, err := tx.InsertAlert(ctx, sample("old", alert.SeverityLow, now))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		first, second := sample("twice", alert.SeverityHigh, now), sample("twice", alert.SeverityLow, now)
		first.Title, second.Title = "first copy", "second copy"
		as := []*alert.Alert{sample("n1", alert.SeverityLow, now), sample("old", alert.SeverityHigh, now), first,
			sample("n2", alert.SeverityCritical, now.Add(time.Second)), second}
		var got []bool
		if err := s.InTx(ctx, func(tx store.Tx) (err error) {
			got, err = tx.InsertAlerts(ctx, as)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if want := []bool{true, false, true, true, false}; !slices.Equal(got, want) {
			t.Errorf("InsertAlerts = %v, want %v", got, want)
		}
		_ = s.View(ctx, func(tx store.Tx) error {
			for id, want := range map[string]string{"twice": "first copy", "old": "title old", "n2": "title n2"} {
				a, err := tx.GetAlert(ctx, id)
				if err != nil || a.Title != want {
					t.Errorf("alert %s: %+v, %v; want title %q", id, a, err, want)
				}
			}
			if a, err := tx.GetAlert(ctx, "n2"); err == nil && (a.Severity != alert.SeverityCritical || !a.CreatedAt.Equal(now.Add(time.Second))) {
				t.Errorf("n2 stored as %+v", a)
			}
			return nil
		})
	})
}

// Deliveries inserted together each get the id of their own row.
func TestInsertDeliveriesIDsNameTheirRows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
		var ds []*store.Delivery
		for i := range 40 {
			ds = append(ds, &store.Delivery{AlertID: fmt.Sprint("a", i%7), Destination: fmt.Sprint("d", i), Reason: store.ReasonRouted,
				State: store.DeliveryPending, Attempts: i % 3, LastError: fmt.Sprint("e", i), CreatedAt: now, UpdatedAt: now.Add(time.Duration(i) * time.Second)})
		}
		if err := s.InTx(ctx, func(tx store.Tx) error { return tx.InsertDeliveries(ctx, ds) }); err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		_ = s.View(ctx, func(tx store.Tx) error {
			for i, d := range ds {
				if d.ID == 0 || seen[d.ID] {
					t.Fatalf("delivery %d: id %d (zero or repeated)", i, d.ID)
				}
				seen[d.ID] = true
				got, err := tx.GetDelivery(ctx, d.ID)
				if err != nil || got.Destination != d.Destination || got.AlertID != d.AlertID || got.Attempts != d.Attempts ||
					got.LastError != d.LastError || !got.UpdatedAt.Equal(d.UpdatedAt) {
					t.Errorf("delivery %d (id %d): stored %+v, %v", i, d.ID, got, err)
				}
			}
			return nil
		})
	})
}

// ClaimDeliveries claims as ClaimDelivery would one after another: a
// stale read or a finished delivery is not claimed, and of two claims of
// one delivery read alike only the first is.
func TestClaimDeliveriesAsOneByOne(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
		var ds []*store.Delivery
		for i := range 5 {
			ds = append(ds, &store.Delivery{AlertID: "a", Destination: fmt.Sprint("d", i), Reason: store.ReasonRouted,
				State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now})
		}
		ds[3].State = store.DeliveryDelivered
		if err := s.InTx(ctx, func(tx store.Tx) error { return tx.InsertDeliveries(ctx, ds) }); err != nil {
			t.Fatal(err)
		}
		read := func(i int) *store.Delivery { d := *ds[i]; return &d }
		stale := read(2)
		stale.Attempts = 5
		claims := []*store.Delivery{read(0), read(1), read(1), stale, read(3), read(4)}
		at := make([]time.Time, len(claims))
		for i := range at {
			at[i] = now.Add(time.Duration(i+1) * time.Minute)
		}
		var got []bool
		if err := s.InTx(ctx, func(tx store.Tx) (err error) {
			got, err = tx.ClaimDeliveries(ctx, claims, at)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if want := []bool{true, true, false, false, false, true}; !slices.Equal(got, want) {
			t.Fatalf("ClaimDeliveries = %v, want %v", got, want)
		}
		if c := claims[0]; c.Attempts != 1 || !c.SendingSince.Equal(at[0]) {
			t.Errorf("claimed delivery as returned: %+v", c)
		}
		_ = s.View(ctx, func(tx store.Tx) error {
			for i, want := range []struct {
				attempts int
				since    time.Time
			}{{1, at[0]}, {1, at[1]}, {0, time.Time{}}, {0, time.Time{}}, {1, at[5]}} {
				d, err := tx.GetDelivery(ctx, ds[i].ID)
				if err != nil || d.Attempts != want.attempts || !d.SendingSince.Equal(want.since) {
					t.Errorf("delivery %d stored as %+v, %v; want %d attempts since %v", i, d, err, want.attempts, want.since)
				}
			}
			return nil
		})
	})
}

// GetDeliveryWork reads a delivery with its alert and its issue in the
// delivery's destination, through Read as through a transaction.
func TestGetDeliveryWork(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
		a := sample("w1", alert.SeverityHigh, now)
		linked := &store.Delivery{AlertID: "w1", Destination: "jira", Reason: store.ReasonRouted, State: store.DeliveryRetrying,
			Attempts: 2, LastError: "503", CreatedAt: now, UpdatedAt: now}
		unlinked := &store.Delivery{AlertID: "w1", Destination: "hook", Reason: store.ReasonManual, State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now}
		orphan := &store.Delivery{AlertID: "gone", Destination: "hook", Reason: store.ReasonRouted, State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now}
		if err := s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertAlert(ctx, a); err != nil {
				return err
			}
			if err := tx.InsertDeliveries(ctx, []*store.Delivery{linked, unlinked, orphan}); err != nil {
				return err
			}
			return tx.UpsertIssue(ctx, "w1", alert.Issue{Destination: "jira", Key: "SEC-1", ID: "10001", URL: "https://j/SEC-1", Status: "To Do"})
		}); err != nil {
			t.Fatal(err)
		}
		for name, read := range map[string]func(context.Context, func(store.Tx) error) error{"Read": s.Read, "View": s.View} {
			var w, wu *store.DeliveryWork
			err := read(ctx, func(tx store.Tx) (err error) {
				if w, err = tx.GetDeliveryWork(ctx, linked.ID); err != nil {
					return err
				}
				wu, err = tx.GetDeliveryWork(ctx, unlinked.ID)
				return err
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if w.Delivery.ID != linked.ID || w.Delivery.State != store.DeliveryRetrying || w.Delivery.Attempts != 2 || w.Delivery.LastError != "503" ||
				w.Alert.AlertID != "w1" || w.Alert.Title != a.Title || w.Alert.Status != alert.StatusOpen ||
				w.Issue == nil || *w.Issue != (alert.Issue{Destination: "jira", Key: "SEC-1", ID: "10001", URL: "https://j/SEC-1", Status: "To Do"}) {
				t.Errorf("%s linked: %+v alert %+v issue %+v", name, w.Delivery, w.Alert, w.Issue)
			}
			if wu.Delivery.Destination != "hook" || wu.Delivery.Reason != store.ReasonManual || wu.Issue != nil || wu.Alert.AlertID != "w1" {
				t.Errorf("%s unlinked: %+v issue %+v", name, wu.Delivery, wu.Issue)
			}
			var many map[int64]*store.DeliveryWork
			if err := read(ctx, func(tx store.Tx) (err error) {
				many, err = tx.GetDeliveryWorks(ctx, []int64{linked.ID, orphan.ID, unlinked.ID, 1 << 40, linked.ID})
				return err
			}); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(many) != 2 || !reflect.DeepEqual(many[linked.ID], w) || !reflect.DeepEqual(many[unlinked.ID], wu) {
				t.Errorf("%s GetDeliveryWorks = %+v, want the linked and unlinked as read one by one", name, many)
			}
			for _, id := range []int64{orphan.ID, 1 << 40} {
				err := read(ctx, func(tx store.Tx) error { _, err := tx.GetDeliveryWork(ctx, id); return err })
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s delivery %d: %v, want ErrNotFound", name, id, err)
				}
			}
		}
	})
}

// A transaction begins with its first statement (on PostgreSQL in the
// same round trip): one that runs none commits nothing and costs nothing;
// one of held writes alone commits them; a held write that fails fails
// the transaction whole; River's insert can be the first thing it does;
// and no connection stays taken.
func TestTransactionsBeginWithTheirFirstStatement(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		if err := s.InTx(ctx, func(store.Tx) error { return nil }); err != nil {
			t.Errorf("empty InTx: %v", err)
		}
		if err := s.View(ctx, func(store.Tx) error { return nil }); err != nil {
			t.Errorf("empty View: %v", err)
		}
		at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
		if err := s.InTx(ctx, func(tx store.Tx) error {
			return tx.AddEvent(ctx, "held", alert.Event{At: at, Actor: "a", Action: "noted"})
		}); err != nil {
			t.Fatal(err)
		}
		var es []alert.Event
		if err := s.View(ctx, func(tx store.Tx) (err error) { es, err = tx.ListEvents(ctx, "held"); return err }); err != nil || len(es) != 1 {
			t.Errorf("events after a transaction of one held write: %v, %v", es, err)
		}
		// PostgreSQL refuses a NUL in text, SQLite stores it: the held
		// write fails there, after the insert went.
		err := s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertAlert(ctx, sample("h1", alert.SeverityLow, at)); err != nil {
				return err
			}
			return tx.AddEvent(ctx, "h1", alert.Event{At: at, Actor: "a", Action: "noted", Detail: "a\x00b"})
		})
		var stored bool
		_ = s.View(ctx, func(tx store.Tx) error { _, gerr := tx.GetAlert(ctx, "h1"); stored = gerr == nil; return nil })
		if driver == "postgres" && (err == nil || stored) {
			t.Errorf("a failed held write: err = %v, alert stored = %v; want the transaction failed whole", err, stored)
		}
		if driver == "sqlite" && (err != nil || !stored) {
			t.Errorf("sqlite: err = %v, stored = %v", err, stored)
		}
		l, err := jobs.New(ctx, jobs.Config{DB: s.Handle(), Queues: map[string]int{delivery.Queue: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.InTx(ctx, func(tx store.Tx) error {
			return l.InsertTx(ctx, tx, river.InsertManyParams{Args: delivery.Args{DeliveryID: 1}, InsertOpts: &river.InsertOpts{Queue: delivery.Queue}})
		}); err != nil {
			t.Fatal(err)
		}
		if n := testdb.UnfinishedJobs(t, s); n != 1 {
			t.Errorf("jobs after a transaction of River's insert alone: %d, want 1", n)
		}
		if pool, ok := s.Handle().(*pgxpool.Pool); ok {
			for deadline := time.Now().Add(5 * time.Second); pool.Stat().AcquiredConns() != 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d connections still taken", pool.Stat().AcquiredConns())
				}
			}
		}
	})
}

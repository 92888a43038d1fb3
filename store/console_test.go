package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/store"
)

func TestSessionsAndLoginFailures(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		in := store.Session{IDHash: "h1", Username: "alice@example.com", Method: "password", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		err := s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.PutSession(ctx, in); err != nil {
				return err
			}
			return tx.PutSession(ctx, store.Session{IDHash: "h2", Username: "bob", Method: "oidc", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)})
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = s.View(ctx, func(tx store.Tx) error {
			got, err := tx.GetSession(ctx, "h1")
			if err != nil || *got != in {
				t.Errorf("session %+v, %v; want %+v", got, err, in)
			}
			if _, err := tx.GetSession(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unknown session: %v", err)
			}
			return nil
		})
		err = s.InTx(ctx, func(tx store.Tx) error {
			if n, err := tx.PruneSessions(ctx, t0.Add(30*time.Minute)); err != nil || n != 1 {
				t.Errorf("pruned %d, %v; want 1", n, err)
			}
			if err := tx.DeleteSession(ctx, "h1"); err != nil {
				return err
			}
			_, err := tx.GetSession(ctx, "h1")
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("deleted session read: %v", err)
			}
			// Three failures, then a pause past the restart time: one.
			for i := range 3 {
				if err := tx.RecordLoginFailure(ctx, "user:alice", t0.Add(time.Duration(i)*time.Second), t0.Add(-time.Hour)); err != nil {
					return err
				}
			}
			n, last, err := tx.LoginFailures(ctx, "user:alice")
			if err != nil || n != 3 || !last.Equal(t0.Add(2*time.Second)) {
				t.Errorf("failures %d at %s, %v; want 3 at +2s", n, last, err)
			}
			if err := tx.RecordLoginFailure(ctx, "user:alice", t0.Add(time.Hour), t0.Add(time.Minute)); err != nil {
				return err
			}
			if n, _, _ := tx.LoginFailures(ctx, "user:alice"); n != 1 {
				t.Errorf("failures after a quiet hour %d, want 1", n)
			}
			if err := tx.ClearLoginFailures(ctx, "user:alice"); err != nil {
				return err
			}
			if n, last, err := tx.LoginFailures(ctx, "user:alice"); n != 0 || !last.IsZero() || err != nil {
				t.Errorf("after clearing: %d, %s, %v", n, last, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// The console's filters (rule, destination, free text) page and count
// alike; the text is matched case-insensitively and LIKE's wildcards in
// it are literal.
func TestConsoleListFilters(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		err := s.InTx(ctx, func(tx store.Tx) error {
			for i, id := range []string{"a", "b", "c", "d", "e"} {
				a := sample(id, alert.SeverityHigh, base.Add(time.Duration(i)*time.Minute))
				if i >= 3 {
					a.ID = "Rule.Two"
					a.Title = "Admin 100% logged in as Alice"
					a.Status = alert.StatusTriaged
				}
				if _, err := tx.InsertAlert(ctx, a); err != nil {
					return err
				}
				if i%2 == 0 {
					if err := tx.InsertDelivery(ctx, &store.Delivery{AlertID: id, Destination: "sec-jira", Reason: store.ReasonRouted,
						State: store.DeliveryDelivered, CreatedAt: base, UpdatedAt: base}); err != nil {
						return err
					}
					if err := tx.UpsertIssue(ctx, id, alert.Issue{Destination: "sec-jira", Key: "SEC-" + id, URL: "https://j/" + id, Status: "To Do"}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			q      store.ListQuery
			want   []string
			counts map[alert.Status]int
		}{
			{store.ListQuery{}, []string{"e", "d", "c", "b", "a"}, map[alert.Status]int{alert.StatusOpen: 3, alert.StatusTriaged: 2}},
			{store.ListQuery{RuleID: "Rule.Two"}, []string{"e", "d"}, map[alert.Status]int{alert.StatusTriaged: 2}},
			{store.ListQuery{Destination: "sec-jira"}, []string{"e", "c", "a"}, map[alert.Status]int{alert.StatusOpen: 2, alert.StatusTriaged: 1}},
			{store.ListQuery{Text: "ALICE"}, []string{"e", "d"}, map[alert.Status]int{alert.StatusTriaged: 2}},
			{store.ListQuery{Text: "100%"}, []string{"e", "d"}, map[alert.Status]int{alert.StatusTriaged: 2}},
			{store.ListQuery{Text: "1_0"}, nil, map[alert.Status]int{}},
			{store.ListQuery{Text: "title c"}, []string{"c"}, map[alert.Status]int{alert.StatusOpen: 1}},
			{store.ListQuery{Destination: "sec-jira", Status: alert.StatusOpen, Limit: 1}, []string{"c"}, map[alert.Status]int{alert.StatusOpen: 2, alert.StatusTriaged: 1}},
		} {
			_ = s.View(ctx, func(tx store.Tx) error {
				as, _, err := tx.ListAlerts(ctx, c.q)
				var ids []string
				for _, a := range as {
					ids = append(ids, a.AlertID)
				}
				if err != nil || !slices.Equal(ids, c.want) {
					t.Errorf("%+v: %v, %v; want %v", c.q, ids, err, c.want)
				}
				counts, err := tx.CountAlerts(ctx, c.q, 10)
				if err != nil || len(counts) != len(c.counts) {
					t.Errorf("%+v: counts %v, %v; want %v", c.q, counts, err, c.counts)
				}
				for st, n := range c.counts {
					if counts[st] != n {
						t.Errorf("%+v: counts %v; want %v", c.q, counts, c.counts)
					}
				}
				return nil
			})
		}
		_ = s.View(ctx, func(tx store.Tx) error {
			// Counting stops past the bound: 3 open alerts counted up to 1 say 2.
			if counts, err := tx.CountAlerts(ctx, store.ListQuery{}, 1); err != nil || counts[alert.StatusOpen] != 2 || counts[alert.StatusTriaged] != 2 {
				t.Errorf("bounded counts %v, %v", counts, err)
			}
			issues, err := tx.IssuesOf(ctx, []string{"a", "b", "c"})
			if err != nil || len(issues) != 2 || issues["a"][0].Key != "SEC-a" || issues["c"][0].Status != "To Do" {
				t.Errorf("issues %v, %v", issues, err)
			}
			latest, err := tx.LatestAlertOf(ctx, "Rule.One", alert.TypeRule)
			if err != nil || latest.AlertID != "c" {
				t.Errorf("latest of Rule.One: %v, %v", latest, err)
			}
			if _, err := tx.LatestAlertOf(ctx, "Rule.One", alert.TypeRuleError); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("latest rule error: %v", err)
			}
			return nil
		})
	})
}

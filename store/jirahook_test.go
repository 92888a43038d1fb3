package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/store"
)

func TestJiraWebhookReplayAndIssueLookup(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
		err := s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertAlert(ctx, sample("a-1", alert.SeverityHigh, t0)); err != nil {
				return err
			}
			if _, err := tx.InsertAlert(ctx, sample("a-2", alert.SeverityHigh, t0)); err != nil {
				return err
			}
			if err := tx.UpsertIssue(ctx, "a-1", alert.Issue{Destination: "d1", Key: "SEC-1", ID: "10001", URL: "u"}); err != nil {
				return err
			}
			// The same key in another destination belongs to another alert.
			if err := tx.UpsertIssue(ctx, "a-2", alert.Issue{Destination: "d2", Key: "SEC-1", URL: "u"}); err != nil {
				return err
			}
			if seen, err := tx.JiraWebhookSeen(ctx, "d1", "w-1"); err != nil || seen {
				t.Errorf("seen before mark = %v, %v", seen, err)
			}
			if err := tx.MarkJiraWebhook(ctx, "d1", "w-1", t0); err != nil {
				return err
			}
			// Marking twice is harmless: two deliveries may race.
			if err := tx.MarkJiraWebhook(ctx, "d1", "w-1", t0); err != nil {
				return err
			}
			return tx.MarkJiraWebhook(ctx, "d1", "w-2", t0.Add(time.Hour))
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.InTx(ctx, func(tx store.Tx) error {
			for _, c := range []struct {
				dest, id string
				want     bool
			}{{"d1", "w-1", true}, {"d2", "w-1", false}, {"d1", "w-3", false}} {
				if seen, err := tx.JiraWebhookSeen(ctx, c.dest, c.id); err != nil || seen != c.want {
					t.Errorf("seen(%s, %s) = %v, %v; want %v", c.dest, c.id, seen, err, c.want)
				}
			}
			if n, err := tx.PruneJiraWebhooks(ctx, t0.Add(time.Minute)); err != nil || n != 1 {
				t.Errorf("prune = %d, %v; want 1", n, err)
			}
			if seen, _ := tx.JiraWebhookSeen(ctx, "d1", "w-2"); !seen {
				t.Error("prune dropped a newer delivery")
			}
			for _, c := range []struct{ dest, key, id, want string }{
				{"d1", "SEC-1", "", "a-1"}, {"d1", "", "10001", "a-1"}, {"d1", "SEC-9", "10001", "a-1"},
				{"d2", "SEC-1", "", "a-2"}, {"d2", "", "", ""}, {"d1", "SEC-2", "", ""},
			} {
				got, err := tx.AlertByIssue(ctx, c.dest, c.key, c.id)
				if c.want == "" {
					if !errors.Is(err, store.ErrNotFound) {
						t.Errorf("AlertByIssue(%s, %q, %q) = %q, %v; want ErrNotFound", c.dest, c.key, c.id, got, err)
					}
				} else if err != nil || got != c.want {
					t.Errorf("AlertByIssue(%s, %q, %q) = %q, %v; want %s", c.dest, c.key, c.id, got, err, c.want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

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

func TestCommentLinksAndJiraUsers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := testdb.Open(t, driver)
		now := time.Now().UTC().Truncate(time.Microsecond)
		err := s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertAlert(ctx, sample("a1", alert.SeverityHigh, now)); err != nil {
				return err
			}
			c := &alert.Comment{AlertID: "a1", Author: "ann", Body: "hi", Origin: "alertbridge", CreatedAt: now, UpdatedAt: now}
			if err := tx.AddComment(ctx, c); err != nil {
				return err
			}
			if _, _, _, err := tx.CommentLink(ctx, "sec", "10001"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("missing link: err = %v, want ErrNotFound", err)
			}
			if err := tx.LinkComment(ctx, "a1", c.ID, "sec", "10001", store.LinkOriginAlertbridge); err != nil {
				return err
			}
			a, id, origin, err := tx.CommentLink(ctx, "sec", "10001")
			if err != nil || a != "a1" || id != c.ID || origin != "alertbridge" {
				t.Errorf("CommentLink = %q %d %q %v", a, id, origin, err)
			}
			if j, err := tx.JiraCommentOf(ctx, c.ID, "sec"); err != nil || j != "10001" {
				t.Errorf("JiraCommentOf = %q %v", j, err)
			}
			if _, err := tx.JiraCommentOf(ctx, c.ID, "other"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("JiraCommentOf other destination: %v, want ErrNotFound", err)
			}
			c.Body, c.UpdatedAt = "edited", now.Add(time.Second)
			if err := tx.UpdateComment(ctx, c); err != nil {
				return err
			}
			if got, err := tx.GetComment(ctx, c.ID); err != nil || got.Body != "edited" || !got.UpdatedAt.Equal(c.UpdatedAt) {
				t.Errorf("GetComment after edit = %+v %v", got, err)
			}
			if _, err := tx.GetJiraUser(ctx, "sec", "ann@example.com"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("uncached user: %v, want ErrNotFound", err)
			}
			if err := tx.PutJiraUser(ctx, store.JiraUser{Destination: "sec", Email: "ann@example.com", AccountID: "acc-1", Name: "Ann", FoundAt: now}); err != nil {
				return err
			}
			u, err := tx.GetJiraUser(ctx, "sec", "ann@example.com")
			if err != nil || u.AccountID != "acc-1" || u.Name != "Ann" || !u.FoundAt.Equal(now) {
				t.Errorf("GetJiraUser = %+v %v", u, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

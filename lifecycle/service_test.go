package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

func TestOnChangeAndCommentFrom(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t, "sqlite")
	var seen []lifecycle.Change
	svc := lifecycle.New(st, nil, nil, lifecycle.Options{OnChange: func(_ context.Context, tx store.Tx, c lifecycle.Change) error {
		if tx == nil {
			t.Error("OnChange without a transaction")
		}
		seen = append(seen, c)
		return nil
	}})
	defer svc.Close()
	a := lifecycle.TestAlert(time.Now())
	if err := st.InTx(ctx, func(tx store.Tx) error { _, err := tx.InsertAlert(ctx, a); return err }); err != nil {
		t.Fatal(err)
	}
	triaged, bob := alert.StatusTriaged, "bob@example.com"
	if _, err := svc.Update(ctx, a.AlertID, lifecycle.Patch{Status: &triaged, Assignee: &bob, Actor: "jira:Ann", Origin: "sec"}); err != nil {
		t.Fatal(err)
	}
	// The same values again change nothing, so there is nothing to sync.
	if _, err := svc.Update(ctx, a.AlertID, lifecycle.Patch{Status: &triaged, Actor: "ann"}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].Origin != "sec" || seen[0].OldStatus != alert.StatusOpen || seen[0].NewStatus != triaged ||
		!seen[0].AssigneeChanged || seen[0].NewAssignee != bob {
		t.Fatalf("changes after updates = %+v", seen)
	}

	c1, err := svc.CommentFrom(ctx, a.AlertID, "[Ann] commented on Jira:", "first", "sec", "10001")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := svc.CommentFrom(ctx, a.AlertID, "[Ann] commented on Jira:", "first, edited", "sec", "10001")
	if err != nil {
		t.Fatal(err)
	}
	if c2.ID != c1.ID {
		t.Errorf("an edited Jira comment made comment %d, want the same %d", c2.ID, c1.ID)
	}
	if _, err := svc.CommentFrom(ctx, a.AlertID, "[Ann] commented on Jira:", "first, edited", "sec", "10001"); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[1].Comment == nil || seen[1].CommentEdited || !seen[2].CommentEdited || seen[2].Origin != "sec" {
		t.Errorf("changes after comments = %+v", seen)
	}
	r, err := svc.Get(ctx, a.AlertID)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Comments) != 1 || r.Comments[0].Body != "first, edited" || r.Comments[0].Origin != "jira:sec" {
		t.Errorf("comments = %+v", r.Comments)
	}
	err = st.View(ctx, func(tx store.Tx) error {
		alertID, id, origin, err := tx.CommentLink(ctx, "sec", "10001")
		if err != nil || alertID != a.AlertID || id != c1.ID || origin != store.LinkOriginJira {
			t.Errorf("link = %q %d %q %v", alertID, id, origin, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

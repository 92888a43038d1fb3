package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/lifecycle"
)

// TestLateCopiesOfAnHAPair: an HA pair of Alertmanagers each sends every
// notification, and one's copy can arrive after the other's next one. A
// late copy of a firing that ended, or of the end of an earlier firing,
// changes nothing; news (a firing that began after the end, the end of the
// current firing) does, and a person's resolve still yields to the alert
// firing on.
func TestLateCopiesOfAnHAPair(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		svc, changesOf := groupService(t, driver)
		changes := func() int { n, _ := changesOf("fp-1"); return n }

		t0 := time.Date(2026, 12, 2, 3, 0, 0, 123456789, time.UTC)
		at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
		notice := func(resolved bool, startsAt, endsAt time.Time) lifecycle.Item {
			a := memberAlert("fp-1", alert.SeverityHigh, "host-1")
			a.CreatedAt, a.StateSince = startsAt, startsAt
			if resolved {
				a.StateSince = endsAt
			}
			return lifecycle.Item{Alert: a, Resolved: resolved, Actor: "alertmanager"}
		}
		steps := []struct {
			name       string
			item       lifecycle.Item
			person     alert.Status // instead of a notice: a person sets this status
			wantStatus alert.Status
			wantChange bool
		}{
			{name: "fires", item: notice(false, at(0), time.Time{}), wantStatus: alert.StatusOpen},
			{name: "resolves", item: notice(true, at(0), at(5)), wantStatus: alert.StatusResolved, wantChange: true},
			{name: "the peer's late firing copy", item: notice(false, at(0), time.Time{}), wantStatus: alert.StatusResolved},
			{name: "fires again", item: notice(false, at(6), time.Time{}), wantStatus: alert.StatusOpen, wantChange: true},
			{name: "the peer's late copy of the first end", item: notice(true, at(0), at(5)), wantStatus: alert.StatusOpen},
			{name: "resolves again", item: notice(true, at(6), at(8)), wantStatus: alert.StatusResolved, wantChange: true},
			{name: "fires a third time", item: notice(false, at(9), time.Time{}), wantStatus: alert.StatusOpen, wantChange: true},
			// Resolved and fired again between two notifications: the end
			// was never seen, the new firing is kept.
			{name: "a fourth firing, unseen end", item: notice(false, at(12), time.Time{}), wantStatus: alert.StatusOpen},
			{name: "the late copy of the unseen end", item: notice(true, at(9), at(11)), wantStatus: alert.StatusOpen},
			{name: "a person resolves it", person: alert.StatusResolved, wantStatus: alert.StatusResolved, wantChange: true},
			{name: "still firing: it reopens", item: notice(false, at(12), time.Time{}), wantStatus: alert.StatusOpen, wantChange: true},
		}
		for _, s := range steps {
			before := changes()
			if s.person != "" {
				st := s.person
				if _, err := svc.Update(ctx, "fp-1", lifecycle.Patch{Status: &st, Actor: "ann"}); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			} else if _, err := svc.Ingest(ctx, []lifecycle.Item{s.item}); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			r, err := svc.Get(ctx, "fp-1")
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if r.Alert.Status != s.wantStatus {
				t.Errorf("%s: the alert is %s, want %s", s.name, r.Alert.Status, s.wantStatus)
			}
			if changed := changes() > before; changed != s.wantChange {
				t.Errorf("%s: changed %v, want %v", s.name, changed, s.wantChange)
			}
		}
	})
}

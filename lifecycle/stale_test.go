package lifecycle

import (
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

func TestStaleNotice(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	stored := func(st alert.Status, created, since time.Time) *alert.Alert {
		return &alert.Alert{Status: st, CreatedAt: created, StateSince: since}
	}
	tests := []struct {
		name     string
		cur      *alert.Alert
		resolved bool
		at       time.Time
		want     bool
	}{
		// The HA pair's late copies.
		{"firing copy of the firing that ended", stored(alert.StatusResolved, at(0), at(5)), false, at(0), true},
		{"firing copy began as it ended", stored(alert.StatusResolved, at(0), at(5)), false, at(5), true},
		{"resolved copy of an earlier firing's end", stored(alert.StatusOpen, at(0), at(10)), true, at(5), true},
		{"resolved copy of the end of the firing it was created with", stored(alert.StatusOpen, at(10), time.Time{}), true, at(5), true},
		// News.
		{"fires again after the end", stored(alert.StatusResolved, at(0), at(5)), false, at(6), false},
		{"the firing ends", stored(alert.StatusOpen, at(0), time.Time{}), true, at(5), false},
		{"the firing ends, triaged", stored(alert.StatusTriaged, at(0), at(0)), true, at(5), false},
		{"the refiring ends", stored(alert.StatusOpen, at(0), at(10)), true, at(12), false},
		// Unknown times are news, as before the times were kept.
		{"a person resolved it", stored(alert.StatusResolved, at(0), time.Time{}), false, at(0), false},
		{"firing without a start", stored(alert.StatusResolved, at(0), at(5)), false, time.Time{}, false},
		{"resolved without an end", stored(alert.StatusOpen, at(0), at(0)), true, time.Time{}, false},
		// Other statuses are for the caller.
		{"closed", stored(alert.StatusClosed, at(0), at(5)), false, at(0), false},
		{"a firing notice for a firing alert", stored(alert.StatusOpen, at(0), at(0)), false, at(0), false},
		// The notice's nanoseconds are not stored: the same instant is the same.
		{"sub-microsecond start of the ended firing", stored(alert.StatusResolved, at(0), at(5)), false, at(5).Add(999), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := staleNotice(tt.cur, tt.resolved, tt.at); got != tt.want {
				t.Errorf("staleNotice = %v, want %v", got, tt.want)
			}
		})
	}
}

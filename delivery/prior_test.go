package delivery

import (
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/alertbridge/alertbridge/store"
)

func TestPrior(t *testing.T) {
	started := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	before, after := started.Add(-time.Minute), started.Add(time.Minute)
	w := &worker{q: &Queue{started: started}}
	job := func(attempt, errs int) *river.Job[Args] {
		return &river.Job[Args]{JobRow: &rivertype.JobRow{Attempt: attempt, Errors: make([]rivertype.AttemptError, errs)}}
	}
	tests := []struct {
		name        string
		job         *river.Job[Args]
		d           store.Delivery
		siblings    []store.Delivery
		wantAttempt int
		wantLast    time.Time
	}{
		{"first attempt", job(1, 0), store.Delivery{ID: 1}, nil, 1, time.Time{}},
		{"after a recorded failure", job(2, 1), store.Delivery{ID: 1, Attempts: 1, UpdatedAt: after}, nil, 2, after},
		{"after a crash mid-attempt", job(2, 0), store.Delivery{ID: 1, UpdatedAt: before}, nil, 2, started},
		{"a manual dispatch after an unanswered delivery", job(1, 0), store.Delivery{ID: 2, Destination: "j"},
			[]store.Delivery{{ID: 1, Destination: "j", Attempts: 3, State: store.DeliveryFailed, UpdatedAt: before}}, 2, before},
		{"a delivered sibling says nothing", job(1, 0), store.Delivery{ID: 2, Destination: "j"},
			[]store.Delivery{{ID: 1, Destination: "j", Attempts: 1, State: store.DeliveryDelivered, UpdatedAt: before}}, 1, time.Time{}},
		{"a sibling to another destination says nothing", job(1, 0), store.Delivery{ID: 2, Destination: "j"},
			[]store.Delivery{{ID: 1, Destination: "hook", Attempts: 2, State: store.DeliveryFailed, UpdatedAt: before}}, 1, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attempt, last := w.prior(tt.job, &tt.d, tt.siblings)
			if attempt != tt.wantAttempt || !last.Equal(tt.wantLast) {
				t.Errorf("prior = %d, %v; want %d, %v", attempt, last, tt.wantAttempt, tt.wantLast)
			}
		})
	}
}

package jobs

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/retryafter"
)

type permanent struct{ error }

func (permanent) Permanent() bool { return true }

type notPermanent struct{ error }

func (notPermanent) Permanent() bool { return false }

type wait struct {
	error
	d time.Duration
}

func (w wait) RetryAfter() time.Duration { return w.d }

func TestDecide(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name         string
		err          error
		attempt, max int
		want         Kind
		wantDelay    time.Duration
	}{
		{"success", nil, 1, 5, Done, 0},
		{"permanent", permanent{boom}, 1, 5, Cancel, 0},
		{"permanent, wrapped", fmt.Errorf("create issue: %w", permanent{boom}), 1, 5, Cancel, 0},
		{"permanent on the last attempt is still a cancel", permanent{boom}, 5, 5, Cancel, 0},
		{"says it is not permanent", notPermanent{boom}, 1, 5, Retry, 0},
		{"retry after", wait{boom, 3 * time.Second}, 1, 5, Snooze, 3 * time.Second},
		{"retry after on the last attempt spends none", wait{boom, time.Second}, 5, 5, Snooze, time.Second},
		{"a day's Retry-After is bounded", fmt.Errorf("x: %w", wait{boom, 24 * time.Hour}), 1, 5, Snooze, retryafter.Max},
		{"a negative Retry-After is no wait", wait{boom, -time.Second}, 1, 5, Snooze, 0},
		{"temporary", boom, 1, 5, Retry, 0},
		{"temporary on the last attempt", boom, 5, 5, GiveUp, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.err, tt.attempt, tt.max)
			if d.Kind != tt.want || d.Delay != tt.wantDelay {
				t.Fatalf("Decide = kind %d delay %s, want kind %d delay %s", d.Kind, d.Delay, tt.want, tt.wantDelay)
			}
			if d.Final() != (tt.want == Done || tt.want == Cancel || tt.want == GiveUp) {
				t.Errorf("Final() = %v for kind %d", d.Final(), d.Kind)
			}
			if (d.River() == nil) != (tt.want == Done) {
				t.Errorf("River() = %v for kind %d", d.River(), d.Kind)
			}
		})
	}
}

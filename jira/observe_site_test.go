package jira

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// 429s to requests sent before a window opened lengthen it by what they
// add, and a shorter one adds nothing: summed, the reported lengths are
// the time the site was closed.
func TestWindowLengthensByWhatEach429Adds(t *testing.T) {
	clock := newSiteClock()
	s := NewSite(0, 0, WithClock(clock.Now))
	ctx := context.Background()
	var dones []func(answer) closing
	for range 4 {
		done, err := s.acquire(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	t0 := clock.Now()
	got := []closing{
		dones[0](answer{status: http.StatusTooManyRequests, until: t0.Add(time.Second)}),
		dones[1](answer{status: http.StatusTooManyRequests, until: t0.Add(3 * time.Second)}),
		dones[2](answer{status: http.StatusTooManyRequests, until: t0.Add(2 * time.Second)}),
		dones[3](answer{status: http.StatusOK}), // any other answer leaves the window alone
	}
	want := []closing{{opened: true, added: time.Second}, {added: 2 * time.Second}, {}, {}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("429 #%d: %+v, want %+v", i+1, got[i], want[i])
		}
	}
	if !s.BlockedUntil().Equal(t0.Add(3 * time.Second)) {
		t.Errorf("BlockedUntil = %v", s.BlockedUntil())
	}
}

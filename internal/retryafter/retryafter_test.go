package retryafter

import (
	"math"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{" 1.5 ", 1500 * time.Millisecond, true},
		{"0", 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{"86400", 24 * time.Hour, true}, // parsed as said; Bound decides
		{"1e300", math.MaxInt64, true},  // must not wrap to a negative wait
		{"Sat, 21 Nov 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Sat, 21 Nov 2026 09:59:00 GMT", 0, true}, // already past
	}
	for _, tt := range tests {
		got, ok := Parse(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBound(t *testing.T) {
	tests := []struct {
		in, want time.Duration
	}{
		{-time.Second, 0},
		{0, 0},
		{time.Millisecond, time.Millisecond},
		{7 * time.Second, 7 * time.Second},
		{Max, Max},
		{Max + time.Nanosecond, Max},
		{24 * time.Hour, Max},
		{math.MaxInt64, Max},
	}
	for _, tt := range tests {
		if got := Bound(tt.in); got != tt.want {
			t.Errorf("Bound(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

// What every caller does with a header: parse, then bound.
func TestParseThenBound(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"86400", Max},
		{"99999999999999999999", Max},
		{"Sun, 22 Nov 2026 10:00:00 GMT", Max},
		{"2", 2 * time.Second},
	} {
		d, ok := Parse(tt.in, now)
		if got := Bound(d); !ok || got != tt.want {
			t.Errorf("Bound(Parse(%q)) = %v (ok %v); want %v", tt.in, got, ok, tt.want)
		}
	}
}

package auth

import "time"

// Throttle is how failed sign-ins are slowed down. Failures are counted
// per key (a user name, a client address); after Free failures in a row
// each further attempt must wait, doubling from Base up to Max. A success
// clears the user's count.
type Throttle struct {
	Free int
	Base time.Duration
	Max  time.Duration
}

// DefaultUserThrottle and DefaultAddrThrottle are the sign-in limits. An
// address gets more room than a name, since many people may share one
// (an office's NAT), while a name belongs to one person.
var (
	DefaultUserThrottle = Throttle{Free: 5, Base: time.Second, Max: 15 * time.Minute}
	DefaultAddrThrottle = Throttle{Free: 20, Base: time.Second, Max: 15 * time.Minute}
)

// Wait is how long after now a key with failures failures, the last at
// last, must wait before its next attempt; 0: it may try now.
func (t Throttle) Wait(failures int, last, now time.Time) time.Duration {
	if failures < t.Free {
		return 0
	}
	d := t.Base
	for i := t.Free; i < failures && d < t.Max; i++ {
		d *= 2
	}
	d = min(d, t.Max)
	if until := last.Add(d); until.After(now) {
		return until.Sub(now)
	}
	return 0
}

// Forget is when a key's failures stop counting: a key quiet for the
// longest wait starts afresh.
func (t Throttle) Forget(last time.Time) time.Time { return last.Add(2 * t.Max) }

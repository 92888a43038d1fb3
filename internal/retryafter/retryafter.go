// Package retryafter reads the Retry-After header, which the Jira, Atlassian
// Admin and webhook clients all honour, and holds the one bound they all
// apply to it. Each caller keeps its own default for a 429 that names no
// time: what a good guess is depends on the service's budget.
package retryafter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Max is the longest wait any server's Retry-After can impose. A proxy or a
// misconfigured gateway answering "Retry-After: 86400" must not silence a
// Jira site or a webhook for a day; five minutes outlasts the windows Jira
// Cloud and the Admin API actually announce, and after it one request asks
// again.
const Max = 5 * time.Minute

// Parse reads a Retry-After value: delay-seconds (fractions tolerated) or an
// HTTP date, relative to now. A date in the past is a zero wait. ok is false
// when v is empty or neither form. The result is not bounded; see Bound.
func Parse(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		ns := secs * float64(time.Second)
		if ns >= math.MaxInt64 {
			// Converting it would wrap to a negative Duration, which a
			// bound would then read as "no wait at all".
			return math.MaxInt64, true
		}
		return time.Duration(ns), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Bound clamps a wait a server asked for to [0, Max].
func Bound(d time.Duration) time.Duration {
	return min(max(d, 0), Max)
}

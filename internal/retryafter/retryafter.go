// Package retryafter reads the Retry-After header, which the Jira, Atlassian
// Admin and webhook clients all honour; each then applies its own default
// and bounds.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse reads a Retry-After value: delay-seconds (fractions tolerated) or an
// HTTP date, relative to now. A date in the past is a zero wait. ok is false
// when v is empty or neither form.
func Parse(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

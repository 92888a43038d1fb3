// Package destination defines what every alert destination implements, and
// the small vocabulary a destination uses to say whether a failure is worth
// retrying. Retry decisions are made in one place, package jobs (which reads
// this vocabulary through its Permanent and RetryAfter methods);
// destinations only classify their errors.
package destination

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// Notifier delivers alerts to one configured destination.
//
// Notify must be safe for concurrent use. It is called at least once per
// delivery; a Notifier that creates external objects must use Notification.Issue
// and its own markers so that a repeated call does not create a second one.
type Notifier interface {
	Notify(ctx context.Context, n Notification) (Receipt, error)
}

// Notification is one attempt at one delivery.
type Notification struct {
	Alert      *alert.Alert
	DeliveryID int64
	Attempt    int  // 1 on the first attempt
	Test       bool // a test alert sent on request; it is not stored
	// Issue is the external issue already linked to this alert and
	// destination, if there is one.
	Issue *alert.Issue
	// Reopened marks a delivery that opens a new issue for an alert whose
	// issue closed before it fired again: its marker must differ from the
	// first issue's, or the search would find the closed one.
	Reopened bool
	// LastAttempt is when the previous attempt may last have sent something
	// (zero on the first): a notifier whose create may have reached the far
	// side without an answer uses it to wait out the far side's lag.
	LastAttempt time.Time
}

// Receipt is what a successful delivery produced.
type Receipt struct {
	// Issue is the external issue created or found, recorded on the alert in
	// the same transaction that completes the delivery.
	Issue *alert.Issue
	// Detail is a short human-readable note for the alert's timeline.
	Detail string
}

// permanentError marks a failure that will not go away by retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent tells the jobs layer not to retry.
func (e *permanentError) Permanent() bool { return true }

// Permanent marks err as not worth retrying (bad credentials, a rejected
// payload): the delivery fails at once with err as its last error.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryAfterError asks for the delivery to be tried again after Delay without
// counting the attempt, as a rate limit's Retry-After asks.
type RetryAfterError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.Delay)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter tells the jobs layer how long to wait, without spending an attempt.
func (e *RetryAfterError) RetryAfter() time.Duration { return e.Delay }

// RetryAfter wraps err with a delay before the next attempt.
func RetryAfter(err error, d time.Duration) error {
	return &RetryAfterError{Delay: d, Err: err}
}

// RetryDelay returns the delay asked for by a RetryAfter error in err's chain.
func RetryDelay(err error) (time.Duration, bool) {
	var r *RetryAfterError
	if errors.As(err, &r) {
		return r.Delay, true
	}
	return 0, false
}

// AlertURL is where a person follows an alert back to: the link it came
// with, else its page under alertbridge's public URL.
func AlertURL(publicURL string, a *alert.Alert) string {
	if a.Link != "" {
		return a.Link
	}
	return strings.TrimRight(publicURL, "/") + "/alerts/" + url.PathEscape(a.AlertID)
}

// PageURL is the alert's page under alertbridge's public URL, or "" when
// there is no public URL to put in front of it.
func PageURL(publicURL, alertID string) string {
	if publicURL == "" {
		return ""
	}
	return strings.TrimRight(publicURL, "/") + "/alerts/" + url.PathEscape(alertID)
}

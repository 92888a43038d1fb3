package lifecycle

import (
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// staleNotice reports whether a notice from a sender that fires alerts
// again (Alertmanager, Grafana) is older news than the stored alert's
// status, by the sender's own times (alert.Alert.StateSince): accepting it
// would undo a newer status. An HA pair of Alertmanagers each sends every
// notification, and the copy of a firing notification that one of them
// sends late can arrive after the other's resolved one: taken as news it
// reopens the alert and its issue, and the next notification resolves
// them again.
//
// A firing notice is stale when its firing began no later than the stored
// resolution ended: it is that firing, seen again. A resolved notice is
// stale when its firing ended before the stored one began: it is the end
// of an earlier firing. A status someone else set (a person, Jira) has no
// sender time, and where either time is unknown the notice is news, as it
// was before senders' times were kept.
func staleNotice(cur *alert.Alert, resolved bool, at time.Time) bool {
	if at.IsZero() {
		return false
	}
	// Stored times are whole microseconds.
	at = at.Truncate(time.Microsecond)
	switch {
	case resolved && cur.Status.Firing():
		since := firingSince(cur)
		return !since.IsZero() && at.Before(since)
	case !resolved && cur.Status == alert.StatusResolved:
		return !cur.StateSince.IsZero() && !at.After(cur.StateSince)
	}
	return false
}

// firingSince is when the sender says a firing alert's firing began: its
// state's time, or for an alert stored firing and never changed since, when
// it was created (a sender's alert is created at its startsAt).
func firingSince(cur *alert.Alert) time.Time {
	if !cur.StateSince.IsZero() {
		return cur.StateSince
	}
	return cur.CreatedAt.Truncate(time.Microsecond)
}

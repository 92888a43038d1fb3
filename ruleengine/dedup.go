package ruleengine

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Group is the dedup state of one rule and dedup string: the matches seen in
// its current period and whether they have raised an alert yet. It is plain
// data, meant to be stored as JSON by whoever keeps it between events.
type Group struct {
	RuleID      string    `json:"ruleId"`
	Dedup       string    `json:"dedup"`
	PeriodStart time.Time `json:"periodStart"`
	PeriodEnd   time.Time `json:"periodEnd"` // exclusive
	FirstSeen   time.Time `json:"firstSeen"` // earliest match time in the period
	LastSeen    time.Time `json:"lastSeen"`  // latest match time in the period
	Count       int       `json:"count"`     // matches in the period
	Threshold   int       `json:"threshold"` // the rule's, when the period began
	Raised      bool      `json:"raised"`
	AlertID     string    `json:"alertId"`
	RaisedAt    time.Time `json:"raisedAt,omitzero"` // the `now` of the Raise
	UpdatedAt   time.Time `json:"updatedAt"`         // the `now` of the last Fold
}

// Outcome is what one match does to its group.
type Outcome int

const (
	// Pending: the match is counted, but the period has not reached the
	// rule's threshold, so there is no alert yet.
	Pending Outcome = iota + 1
	// Raise: this match brought the period to its threshold; create the
	// alert (Group.AlertID).
	Raise
	// Update: the period's alert already exists; bump its count and last
	// seen.
	Update
)

func (o Outcome) String() string {
	switch o {
	case Pending:
		return "pending"
	case Raise:
		return "raise"
	case Update:
		return "update"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Fold decides what one match does to its group; g is nil when the group has
// no state yet. It returns the group's next state, which the caller stores.
//
// Periods run on event time: Match.EventTime, or now where that is zero. So a
// backlog replayed after downtime is grouped and counted as it happened, a
// threshold such as "10 removals in 15 minutes" means just that, and
// replaying the same events yields the same alert IDs. A match older than
// the current period (a late arrival) joins the current period rather than
// reopening one that has closed. now also stamps RaisedAt and UpdatedAt.
func Fold(g *Group, m Match, now time.Time) (next Group, out Outcome) {
	t := m.EventTime
	if t.IsZero() {
		t = now
	}
	t = t.UTC()
	period := m.Rule.DedupPeriod
	if period <= 0 {
		period = defaultDedupMinutes * time.Minute // a Rule not made by LoadDir
	}

	if g == nil || g.RuleID != m.Rule.ID || g.Dedup != m.Dedup || !t.Before(g.PeriodEnd) {
		next = Group{
			RuleID:      m.Rule.ID,
			Dedup:       m.Dedup,
			PeriodStart: t,
			PeriodEnd:   t.Add(period),
			FirstSeen:   t,
			LastSeen:    t,
			Threshold:   max(m.Rule.Threshold, 1),
			AlertID:     AlertID(m.Rule.ID, m.Dedup, t),
		}
	} else {
		next = *g
		if t.Before(next.FirstSeen) {
			next.FirstSeen = t
		}
		if t.After(next.LastSeen) {
			next.LastSeen = t
		}
	}
	next.Count++
	next.UpdatedAt = now

	switch {
	case next.Raised:
		return next, Update
	case next.Count >= next.Threshold:
		next.Raised, next.RaisedAt = true, now
		return next, Raise
	}
	return next, Pending
}

// AlertID is the alert's identity for one group and period. It depends only
// on its inputs, so raising the same period twice (after a crash, or on two
// replicas) names the same alert and the second raise is a no-op.
func AlertID(ruleID, dedup string, periodStart time.Time) string {
	return hashID(ruleID, dedup, periodStart.UTC().Format(time.RFC3339Nano))
}

// hashID is the first 128 bits of a SHA-256 over parts, in hex.
func hashID(parts ...string) string {
	h := sha256.New()
	for _, s := range parts {
		// Length prefixes keep ("a", "bc") and ("ab", "c") apart.
		h.Write(strconv.AppendInt(nil, int64(len(s)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Deduper keeps groups in memory, keyed by rule and dedup string. It is the
// simple store for one process and for tests; its fields are exported so the
// whole state can be saved as JSON. It is not safe for concurrent use.
type Deduper struct {
	Groups map[string]Group `json:"groups"`
}

// GroupKey is the key of a rule's dedup group in Deduper.Groups, and a
// suitable key for any other store.
func GroupKey(ruleID, dedup string) string {
	return strconv.Itoa(len(ruleID)) + ":" + ruleID + ":" + dedup
}

// Fold folds m into its group and keeps the result.
func (d *Deduper) Fold(m Match, now time.Time) (Group, Outcome) {
	if d.Groups == nil {
		d.Groups = map[string]Group{}
	}
	key := GroupKey(m.Rule.ID, m.Dedup)
	var prev *Group
	if g, ok := d.Groups[key]; ok {
		prev = &g
	}
	next, out := Fold(prev, m, now)
	d.Groups[key] = next
	return next, out
}

// Expire forgets groups whose period ended at or before t, and says how many
// it dropped. A later match for one of them would start a new period anyway.
func (d *Deduper) Expire(t time.Time) int {
	n := 0
	for k, g := range d.Groups {
		if !t.Before(g.PeriodEnd) {
			delete(d.Groups, k)
			n++
		}
	}
	return n
}

package ruleengine

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// ToAlert builds the alert for a group that Fold raised or updated, from the
// match that did it. The alert's times come from the group, so building it
// twice for the same state gives the same alert.
func ToAlert(m Match, g Group) alert.Alert {
	r := m.Rule
	a := alert.Alert{
		ID:                  r.ID,
		AlertID:             g.AlertID,
		CreatedAt:           g.RaisedAt,
		Severity:            m.Severity,
		Type:                alert.TypeRule,
		Title:               m.Title,
		Name:                r.DisplayName,
		Description:         m.Description,
		Runbook:             m.Runbook,
		Tags:                cloneOrEmpty(r.Tags),
		Version:             r.Version,
		Context:             slices.Clone(m.Context),
		LogTypes:            slices.Clone(r.LogTypes),
		Destinations:        slices.Clone(m.Destinations),
		DestinationOverride: slices.Clone(r.OutputIDs),
		Detection: &alert.Detection{
			MatchCount: g.Count,
			FirstSeen:  g.FirstSeen,
			LastSeen:   g.LastSeen,
			Dedup:      g.Dedup,
		},
		Source:    alert.SourceDetection,
		Status:    alert.StatusOpen,
		UpdatedAt: g.UpdatedAt,
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = g.UpdatedAt
	}
	if m.GeneratedSeverity {
		a.StaticSeverity = r.Severity
	}
	// A rule's text comes from events, which may carry a NUL or bad UTF-8
	// that no database should be asked to store; the alert is raised all
	// the same.
	a.Sanitize()
	return a
}

// ErrorAlert reports a failed rule function as a RULE_ERROR alert. Its
// alertId is derived from the rule, function, error message and the hour of
// now, so a rule failing on every event raises one alert an hour rather than
// one per event. It carries the rule's own severity: a broken rule is a gap
// in exactly the coverage that severity describes.
func ErrorAlert(e RuleError, now time.Time) alert.Alert {
	r := e.Rule
	msg := alert.CleanText(e.Err.Error())
	hour := now.UTC().Truncate(time.Hour)

	ctx := map[string]any{
		"ruleId":   r.ID,
		"function": e.Function,
		"error":    msg,
		"file":     r.Source,
	}
	if e.EventID != "" {
		ctx["eventId"] = e.EventID
	}
	if e.Traceback != "" {
		ctx["traceback"] = alert.CleanText(e.Traceback)
	}
	raw, _ := json.Marshal(ctx) // plain strings: cannot fail

	a := alert.Alert{
		ID:          r.ID,
		AlertID:     hashID("rule-error", r.ID, e.Function, msg, hour.Format(time.RFC3339)),
		CreatedAt:   now,
		Severity:    r.Severity,
		Type:        alert.TypeRuleError,
		Title:       truncate("Rule "+r.ID+" failed in "+e.Function+"(): "+msg, maxTitleLen),
		Name:        r.DisplayName,
		Description: "A detection rule raised an error, so it may have missed events. Fix the rule and run its tests with `alertbridge rules test`.",
		Runbook:     r.Runbook,
		Tags:        cloneOrEmpty(r.Tags),
		Version:     r.Version,
		Context:     raw,
		LogTypes:    slices.Clone(r.LogTypes),
		// A rule error goes where the rule's alerts go.
		DestinationOverride: slices.Clone(r.OutputIDs),
		Source:              alert.SourceDetection,
		Status:              alert.StatusOpen,
		UpdatedAt:           now,
	}
	a.Sanitize() // the error message may quote an event's bad bytes
	return a
}

// cloneOrEmpty copies s; the alert's tags are always a list, never null.
func cloneOrEmpty(s []string) []string {
	return append([]string{}, s...)
}

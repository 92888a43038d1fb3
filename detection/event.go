package detection

import (
	"time"

	"github.com/alertbridge/alertbridge/ruleengine"
)

// LogTypeAtlassianAudit is the log type of Atlassian organization audit events.
const LogTypeAtlassianAudit = "Atlassian.Audit"

// NewEvent wraps one decoded event for the rules, finding its ID and its own
// time where the log type says (else common top-level fields), so dedup
// periods and thresholds run on when things happened rather than when they
// reached us. received stands in for a time the event lacks.
func NewEvent(logType string, data map[string]any, received time.Time) ruleengine.Event {
	ev := ruleengine.Event{LogType: logType, Data: data, Time: received, Received: received}
	ev.ID = firstString(data, "id", "eventId", "event_id", "p_row_id")
	if logType == LogTypeAtlassianAudit {
		if attrs, ok := data["attributes"].(map[string]any); ok {
			if t, ok := parseTime(attrs["time"]); ok {
				ev.Time = t
			}
		}
		return ev
	}
	for _, k := range []string{"p_event_time", "eventTime", "published", "timestamp", "time", "@timestamp"} { // published: Okta
		if t, ok := parseTime(data[k]); ok {
			ev.Time = t
			break
		}
	}
	return ev
}

func firstString(data map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := data[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func parseTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

package ruleengine

import (
	"encoding/json"
	"testing"
	"time"
)

func TestWithPantherFields(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, tc := range []struct {
		name string
		ev   Event
		want map[string]any // fields checked
	}{
		{"all filled", Event{LogType: "L", ID: "id1", Time: at, Received: at.Add(time.Second),
			Data: map[string]any{"src": "10.0.0.1", "n": []any{map[string]any{"mail": "A@Example.com"}, "::1", "10.0.0.1"}}},
			map[string]any{"p_log_type": "L", "p_event_time": "2026-01-02 03:04:05.000000006", "p_parse_time": "2026-01-02 03:04:06.000000006",
				"p_row_id": "id1", "p_any_ip_addresses": []any{"10.0.0.1", "::1"}, "p_any_emails": []any{"a@example.com"}}},
		{"the event's own p_ fields win", Event{LogType: "L", Time: at, Data: map[string]any{"p_log_type": "Mine", "p_row_id": "r"}},
			map[string]any{"p_log_type": "Mine", "p_row_id": "r", "p_parse_time": "2026-01-02 03:04:05.000000006"}},
		{"no indicators, no time", Event{LogType: "L", Data: map[string]any{"x": "not an ip", "y": "a@b", "z": "0.0.0.0"}},
			map[string]any{"p_any_ip_addresses": nil, "p_any_emails": nil, "p_event_time": nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := WithPantherFields(tc.ev)
			for k, want := range tc.want {
				g, _ := json.Marshal(got[k])
				w, _ := json.Marshal(want)
				if string(g) != string(w) {
					t.Errorf("%s = %s, want %s", k, g, w)
				}
			}
			if _, changed := tc.ev.Data["p_log_type"]; changed && tc.name == "all filled" {
				t.Error("the event's map was changed")
			}
		})
	}
	// Without an id, the row id is stable for the same content.
	a := WithPantherFields(Event{LogType: "L", Data: map[string]any{"k": 1}})["p_row_id"]
	b := WithPantherFields(Event{LogType: "L", Data: map[string]any{"k": 1}})["p_row_id"]
	c := WithPantherFields(Event{LogType: "L", Data: map[string]any{"k": 2}})["p_row_id"]
	if a != b || a == c || a == "" {
		t.Errorf("row ids %v %v %v", a, b, c)
	}
}

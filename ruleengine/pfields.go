package ruleengine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// pantherTime is how Panther writes its p_ timestamps.
const pantherTime = "2006-01-02 15:04:05.000000000"

// WithPantherFields is the event as a rule sees it: its data plus the
// standard fields Panther's ingest adds, where the event does not carry them
// already: p_log_type, p_event_time, p_parse_time, p_row_id, and the
// p_any_ip_addresses and p_any_emails indicators found in its string values.
// (Panther fills the other p_any_ fields from its log schemas' indicator
// annotations, which alertbridge does not have.) The caller's map is not
// changed.
func WithPantherFields(ev Event) map[string]any {
	out := maps.Clone(ev.Data)
	if out == nil {
		out = map[string]any{}
	}
	set := func(k string, v any) {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	set("p_log_type", ev.LogType)
	if !ev.Time.IsZero() {
		set("p_event_time", ev.Time.UTC().Format(pantherTime))
	}
	parsed := ev.Received
	if parsed.IsZero() {
		parsed = ev.Time
	}
	if !parsed.IsZero() {
		set("p_parse_time", parsed.UTC().Format(pantherTime))
	}
	set("p_row_id", rowID(ev))
	ips, emails := indicators(ev.Data)
	if len(ips) > 0 {
		set("p_any_ip_addresses", ips)
	}
	if len(emails) > 0 {
		set("p_any_emails", emails)
	}
	return out
}

// rowID is the event's own id, or one derived from its content, so the same
// event always gets the same p_row_id.
func rowID(ev Event) string {
	if ev.ID != "" {
		return ev.ID
	}
	raw, _ := json.Marshal(ev.Data) // decoded JSON: cannot fail
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// indicators walks the event's string values for IP addresses and e-mail
// addresses, each list sorted and without repeats. Keys starting p_ are
// Panther's own and are not searched.
func indicators(data map[string]any) (ips, emails []any) {
	seenIP, seenMail := map[string]bool{}, map[string]bool{}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 32 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				if depth == 0 && strings.HasPrefix(k, "p_") {
					continue
				}
				walk(y, depth+1)
			}
		case []any:
			for _, y := range x {
				walk(y, depth+1)
			}
		case string:
			if len(x) > 320 {
				return
			}
			if a, err := netip.ParseAddr(x); err == nil && !a.IsUnspecified() {
				seenIP[a.String()] = true
			} else if isEmail(x) {
				seenMail[strings.ToLower(x)] = true
			}
		}
	}
	walk(data, 0)
	for _, s := range slices.Sorted(maps.Keys(seenIP)) {
		ips = append(ips, s)
	}
	for _, s := range slices.Sorted(maps.Keys(seenMail)) {
		emails = append(emails, s)
	}
	return ips, emails
}

func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || strings.ContainsAny(s, " \t<>,;\"'()[]") {
		return false
	}
	domain := s[at+1:]
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-1
}

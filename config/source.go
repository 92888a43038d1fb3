package config

import (
	"cmp"
	"time"
)

func (d *decoder) sources(items []item) []Source {
	var out []Source
	first := map[string]string{}
	for _, it := range items {
		b := d.block(it.path, it.node)
		src := d.source(b)
		d.unique(b, "source", src.Name, first)
		b.done()
		out = append(out, src)
	}
	return out
}

func (d *decoder) source(b *block) Source {
	return Source{
		Name:               b.name("name"),
		Type:               b.choice("type", "source type", "", SourceAtlassianAudit),
		OrgID:              b.required("org_id"),
		APIKey:             b.requiredSecret("api_key"),
		BaseURL:            cmp.Or(b.httpURL("base_url", false), DefaultBaseURL),
		Endpoint:           b.choice("endpoint", "endpoint", EndpointEventsStream, EndpointEventsStream, EndpointEvents),
		PollInterval:       b.duration("poll_interval", 60*time.Second, time.Second, 0),
		NoEventsAlertAfter: b.duration("no_events_alert_after", 24*time.Hour, 0, 0),
		APIKeyExpires:      b.date("api_key_expires"),
	}
}

// date accepts a bare date as well as a full time, since an API key's expiry
// is shown to admins as a date.
func (b *block) date(key string) time.Time {
	n, path := b.get(key)
	if n == nil {
		return time.Time{}
	}
	s, ok := b.d.text(path, n)
	if !ok {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t
	}
	b.d.add(path, n, "want a date like 2026-12-31 or an RFC 3339 time, got %q", s)
	return time.Time{}
}

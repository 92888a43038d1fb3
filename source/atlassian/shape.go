package atlassian

import "maps"

// WithPantherShape is an audit event as the rules see it: the Organizations
// API's raw shape, which Panther's Atlassian rules read (attributes.action,
// attributes.actor, ...), plus the fields of Panther's own Atlassian.Audit
// schema that its Standard.Atlassian.Audit data model maps: AuditLog.Type
// (event_type), EventActor.Name (actor_user) and EventLocation.IP
// (source_ip). With both, Panther's rule and its data model (and the
// standard rules built on it) work on the events this source emits. Fields
// the event carries already are left as they are; data is not changed.
func WithPantherShape(data map[string]any) map[string]any {
	attrs, _ := data["attributes"].(map[string]any)
	if attrs == nil {
		return data
	}
	out := maps.Clone(data)
	setIfAbsent := func(key string, v map[string]any) {
		if _, ok := out[key]; !ok && len(v) > 0 {
			out[key] = v
		}
	}
	if action, ok := attrs["action"].(string); ok {
		setIfAbsent("AuditLog", map[string]any{"Type": action})
	}
	if actor, ok := attrs["actor"].(map[string]any); ok {
		ea := map[string]any{}
		for from, to := range map[string]string{"name": "Name", "id": "Id", "email": "Email"} {
			if v, ok := actor[from].(string); ok && v != "" {
				ea[to] = v
			}
		}
		setIfAbsent("EventActor", ea)
	}
	if loc, ok := attrs["location"].(map[string]any); ok {
		el := map[string]any{}
		for from, to := range map[string]string{"ip": "IP", "geo": "Geo", "countryName": "CountryName", "city": "City", "regionName": "RegionName"} {
			if v, ok := loc[from].(string); ok && v != "" {
				el[to] = v
			}
		}
		setIfAbsent("EventLocation", el)
	}
	return out
}

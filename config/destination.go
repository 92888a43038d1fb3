package config

import (
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// maxTimeout caps outbound request timeouts: a delivery worker stuck longer
// than this holds a job slot for nothing.
const maxTimeout = 300 * time.Second

func (d *decoder) destinations(items []item) []Destination {
	var out []Destination
	first := map[string]string{}
	for _, it := range items {
		b := d.block(it.path, it.node)
		dest := d.destination(b)
		d.unique(b, "destination", dest.Name, first)
		b.done()
		out = append(out, dest)
	}
	return out
}

// unique reports a name already used by an earlier element of the list.
func (d *decoder) unique(b *block, what, name string, first map[string]string) {
	if name == "" {
		return
	}
	if prev, dup := first[name]; dup {
		b.problem("name", "duplicate %s name %q (first at %s)", what, name, prev)
		return
	}
	first[name] = b.path
}

func (d *decoder) destination(b *block) Destination {
	dest := Destination{
		Name:           b.name("name"),
		Type:           b.choice("type", "destination type", "", TypeJira, TypeWebhook, TypeSlack),
		Severities:     severities(b),
		AlertTypes:     alertTypes(b),
		ManualDispatch: b.boolean("manual_dispatch", false),
	}
	if logTypes, _ := b.strs("log_types"); len(logTypes) > 0 {
		dest.LogTypes = logTypes
	}
	if sub := d.typeBlock(b, dest.Type, TypeJira); sub != nil {
		dest.Jira = d.jira(sub)
	}
	if sub := d.typeBlock(b, dest.Type, TypeWebhook); sub != nil {
		dest.Webhook = d.webhook(sub)
	}
	if sub := d.typeBlock(b, dest.Type, TypeSlack); sub != nil {
		dest.Slack = d.slack(sub)
	}
	return dest
}

// typeBlock returns the settings block named key when the destination is of
// that type, reporting it missing or, for another type, out of place. With
// an unknown type neither is reported: the type is the mistake.
func (d *decoder) typeBlock(b *block, typ, key string) *block {
	n, path := b.get(key)
	switch {
	case typ == key && n == nil:
		b.problem(key, "required when type is %s", key)
	case typ == key:
		return d.block(path, n)
	case n != nil && typ != "":
		d.add(path, n, "only allowed when type is %s", key)
	}
	return nil
}

// name reads a destination or source name. Names appear in URL paths
// (/webhooks/jira/NAME, /api/v1/destinations/NAME/test), so they are kept
// to characters that need no escaping.
func (b *block) name(key string) string {
	s := b.required(key)
	for _, r := range s {
		if !isNameRune(r) {
			b.problem(key, "%q may hold only letters, digits, '-', '_' and '.'", s)
			return ""
		}
	}
	return s
}

func isNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
}

// severities defaults to every severity. An empty list is refused rather
// than read as "none" or "all": either reading would surprise someone.
func severities(b *block) []alert.Severity {
	items, ok := b.list("severities")
	if !ok {
		return append([]alert.Severity(nil), alert.Severities...)
	}
	if len(items) == 0 {
		b.problem("severities", "empty list matches no alert; leave the key out to match every severity")
	}
	return parseList(b.d, items, alert.ParseSeverity)
}

func alertTypes(b *block) []alert.Type {
	items, ok := b.list("alert_types")
	if !ok {
		return append([]alert.Type(nil), alert.Types...)
	}
	if len(items) == 0 {
		b.problem("alert_types", "empty list matches no alert; leave the key out to match every alert type")
	}
	return parseList(b.d, items, alert.ParseType)
}

func (d *decoder) webhook(b *block) *Webhook {
	w := &Webhook{
		URL:         b.httpURL("url", true),
		Timeout:     b.duration("timeout", 10*time.Second, 0, maxTimeout),
		MaxAttempts: b.integer("max_attempts", DefaultMaxAttempts, 1),
	}
	w.Secret, _ = b.secret("secret")
	b.done()
	return w
}

func (d *decoder) slack(b *block) *Slack {
	s := &Slack{
		WebhookURL: b.requiredSecret("webhook_url"),
		Timeout:    b.duration("timeout", 10*time.Second, 0, maxTimeout),
	}
	if s.WebhookURL.IsSet() {
		// The message stays generic: even a fragment of this URL is a credential.
		if checkHTTPURL(s.WebhookURL.Value()) != nil {
			d.add(join(b.path, "webhook_url"), b.node, "the secret from %s is not an absolute http or https URL", s.WebhookURL.Source())
		}
	}
	b.done()
	return s
}

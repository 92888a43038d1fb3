package ingest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// amMessage is Alertmanager's webhook payload, version 4. Grafana's contact
// point sends the same shape with fields of its own (grafanaMessage).
type amMessage struct {
	Version            *string           `json:"version"`
	GroupKey           string            `json:"groupKey"`
	TruncatedAlerts    int               `json:"truncatedAlerts"`
	Status             string            `json:"status"`
	Receiver           string            `json:"receiver"`
	GroupLabels        map[string]string `json:"groupLabels"`
	CommonLabels       map[string]string `json:"commonLabels"`
	CommonAnnotations  map[string]string `json:"commonAnnotations"`
	ExternalURL        string            `json:"externalURL"`
	NotificationReason string            `json:"notification_reason"`
	// Alerts stay raw until each is decoded on its own, so that errors
	// inside one name it by index ("alerts[2].labels"); encoding/json
	// would report "alerts.labels" whichever alert it was.
	Alerts []json.RawMessage `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Notice is one alert of an Alertmanager or Grafana notification.
type Notice struct {
	Alert    *alert.Alert
	Resolved bool
}

// Notification is one Alertmanager or Grafana webhook notification: the
// alerts of one group, with what the sender says about the group.
type Notification struct {
	Notices []Notice
	// Sender is "Alertmanager" or "Grafana", as the sender calls itself.
	Sender   string
	GroupKey string
	Receiver string
	// ExternalURL is the sender's own address; GroupLabels the labels the
	// group is made by; CommonLabels and CommonAnnotations those all its
	// alerts in this notification share.
	ExternalURL                                  string
	GroupLabels, CommonLabels, CommonAnnotations map[string]string
	// Truncated is how many alerts of the group the sender left out of this
	// notification (truncatedAlerts, from the receiver's max_alerts). They
	// are in no Notice: only a later notification with room for them
	// brings them.
	Truncated int
}

// MaxNotificationAlerts bounds the alerts of one notification, and so the
// transaction that stores them. Alertmanager sends a group whole unless the
// receiver sets max_alerts, takes a 4xx as final and sends the group again
// at every group interval, so a group over this bound is never stored: it
// is twice the 5,000-alert groups large clusters raise, and the refusal says
// to set max_alerts, with which Alertmanager cuts the group short and says
// so in truncatedAlerts, which alertbridge records.
const MaxNotificationAlerts = 10000

// MaxNotificationTextBytes bounds the text the alerts of one notification
// carry together. Every alert repeats the group's common labels and
// annotations in its alertContext, so without it a body of one long common
// annotation and thousands of tiny alerts would become gigabytes of alerts.
// Realistic alerts come to 1.9 times the bytes they take in the body, so
// twice the HTTP limit for notifications (64 MiB) refuses only the
// amplified ones.
const MaxNotificationTextBytes = 128 << 20

// notificationFormat is one of the Alertmanager-shaped webhook formats.
type notificationFormat struct {
	sender  string // as the sender calls itself
	source  alert.Source
	version string
	// grafana adds Grafana's fields to the Alertmanager ones.
	grafana bool
}

var (
	alertmanagerFormat = notificationFormat{sender: "Alertmanager", version: "4", source: alert.SourceAlertmanager}
	grafanaFormat      = notificationFormat{sender: "Grafana", version: "1", grafana: true, source: alert.SourceGrafana}
)

// Alertmanager parses an Alertmanager webhook notification (version 4).
// Each alert in it becomes one alert whose identity is its fingerprint.
func Alertmanager(body []byte, now time.Time) (*Notification, error) {
	return parseNotification(body, now, alertmanagerFormat)
}

func parseNotification(body []byte, now time.Time, f notificationFormat) (*Notification, error) {
	var gm grafanaMessage
	var target any = &gm.amMessage
	if f.grafana {
		target = &gm
	}
	if err := decodeLenient(body, target, ""); err != nil {
		return nil, unembed(err)
	}
	m := &gm.amMessage
	if m.Version == nil {
		return nil, fieldErr("version", "required")
	}
	if *m.Version != f.version {
		return nil, fieldErr("version", "unsupported version %q; want %q", *m.Version, f.version)
	}
	if err := checkTexts("", []namedText{{"status", m.Status}, {"receiver", m.Receiver},
		{"groupKey", m.GroupKey}, {"externalURL", m.ExternalURL}}); err != nil {
		return nil, err
	}
	if err := checkMap("groupLabels", m.GroupLabels); err != nil {
		return nil, err
	}
	if err := checkMap("commonLabels", m.CommonLabels); err != nil {
		return nil, err
	}
	if err := checkMap("commonAnnotations", m.CommonAnnotations); err != nil {
		return nil, err
	}
	if f.grafana {
		if err := gm.check(); err != nil {
			return nil, err
		}
	}
	if m.TruncatedAlerts < 0 {
		return nil, fieldErr("truncatedAlerts", "must not be negative")
	}
	if len(m.Alerts) == 0 {
		return nil, fieldErr("alerts", "required: at least one alert")
	}
	if len(m.Alerts) > MaxNotificationAlerts {
		return nil, fieldErr("alerts", "more than %d alerts; set max_alerts to at most %d on the receiver, "+
			"so that %s leaves the rest out and says so in truncatedAlerts", MaxNotificationAlerts, MaxNotificationAlerts, f.sender)
	}
	n := &Notification{Notices: make([]Notice, 0, len(m.Alerts)), Sender: f.sender, GroupKey: m.GroupKey,
		Receiver: m.Receiver, Truncated: m.TruncatedAlerts, ExternalURL: m.ExternalURL, GroupLabels: m.GroupLabels,
		CommonLabels: m.CommonLabels, CommonAnnotations: m.CommonAnnotations}
	if checkURL("externalURL", n.ExternalURL) != nil {
		n.ExternalURL = "" // a link that would not work; the alerts are what count
	}
	size := 0
	for i, raw := range m.Alerts {
		path := fmt.Sprintf("alerts[%d]", i)
		var ga grafanaAlert
		var target any = &ga.amAlert
		if f.grafana {
			target = &ga
		}
		if err := decodeLenient(raw, target, path); err != nil {
			return nil, unembed(err)
		}
		var extra map[string]any
		if f.grafana {
			var err error
			if extra, err = gm.context(&ga, path); err != nil {
				return nil, err
			}
		}
		notice, err := amNotice(m, &ga.amAlert, extra, f.source, path, now)
		if err != nil {
			return nil, err
		}
		if size += alertBytes(notice.Alert); size > MaxNotificationTextBytes {
			return nil, fieldErr("alerts", "the alerts with their common labels and annotations come to more than %d bytes; "+
				"send fewer alerts per notification (max_alerts) or shorter annotations", MaxNotificationTextBytes)
		}
		n.Notices = append(n.Notices, notice)
	}
	return n, nil
}

// amNotice makes one alert of a notification. extra holds members the
// format adds to alertContext.
func amNotice(m *amMessage, am *amAlert, extra map[string]any, source alert.Source, path string, now time.Time) (Notice, error) {
	err := checkTexts(path, []namedText{{"status", am.Status}, {"fingerprint", am.Fingerprint},
		{"startsAt", am.StartsAt}, {"endsAt", am.EndsAt}, {"generatorURL", am.GeneratorURL}})
	if err == nil {
		err = checkMap(path+".labels", am.Labels)
	}
	if err == nil {
		err = checkMap(path+".annotations", am.Annotations)
	}
	if err != nil {
		return Notice{}, err
	}
	fingerprint := am.Fingerprint
	if fingerprint == "" && len(am.Labels) > 0 {
		// Alertmanager before 0.19 sent no fingerprint. It is a hash of the
		// labels, so computing it gives the identity a newer Alertmanager
		// would send for the same alert.
		fingerprint = labelsFingerprint(am.Labels)
	}
	if err := checkID(path+".fingerprint", fingerprint); err != nil {
		return Notice{}, err
	}
	status := am.Status
	if status == "" {
		// Older senders put the status on the group only.
		status = m.Status
	}
	var resolved bool
	switch status {
	case "firing":
	case "resolved":
		resolved = true
	case "":
		return Notice{}, fieldErr(path+".status", "required")
	default:
		return Notice{}, fieldErr(path+".status", "must be firing or resolved, not %q", status)
	}
	labels := merged(m.CommonLabels, am.Labels)
	annotations := merged(m.CommonAnnotations, am.Annotations)
	created := now
	var startsAt, endsAt time.Time
	if am.StartsAt != "" {
		t, err := parseTime(path+".startsAt", am.StartsAt)
		if err != nil {
			return Notice{}, err
		}
		// Alertmanager writes Go's zero time, year 1, for "not set".
		if t.Year() > 1 {
			created, startsAt = t, t
		}
	}
	if am.EndsAt != "" {
		t, err := parseTime(path+".endsAt", am.EndsAt)
		if err != nil {
			return Notice{}, err
		}
		if t.Year() > 1 {
			endsAt = t
		}
	}
	// The sender's time of what this notice says, so that a late copy of
	// an older notification can be told from news.
	since := startsAt
	if resolved {
		since = endsAt
	}
	link := am.GeneratorURL
	if checkURL(path+".generatorURL", link) != nil {
		// Alertmanager fills generatorURL from Prometheus's --web.external-url,
		// which may be relative; a bad back-link is no reason to lose the alert.
		link = ""
	}
	alertname := labels["alertname"]
	// Blank annotations are skipped so that the title always has content;
	// the fingerprint, checked above, is never blank.
	title := firstOf(annotations["summary"], annotations["title"], alertname, fingerprint)
	members := map[string]any{
		"labels": labels, "annotations": annotations, "startsAt": am.StartsAt, "endsAt": am.EndsAt,
		"generatorURL": am.GeneratorURL, "receiver": m.Receiver, "groupKey": m.GroupKey, "externalURL": m.ExternalURL,
	}
	maps.Copy(members, extra)
	ctx, err := json.Marshal(members)
	if err != nil {
		return Notice{}, fieldErr(path, "cannot encode: %v", err)
	}
	// Labels and annotations are free text of any length; they are cut to
	// the limits Panther input is held to, so every alert fits the same bounds.
	a := &alert.Alert{
		ID:          truncate(alertname, MaxIDLen),
		AlertID:     fingerprint,
		CreatedAt:   created,
		Severity:    amSeverity(labels["severity"]),
		Type:        alert.TypeRule,
		Link:        link,
		Title:       truncate(title, MaxTitleLen),
		Name:        truncate(alertname, MaxTitleLen),
		Description: truncate(firstOf(annotations["description"], annotations["message"]), MaxTextLen),
		Runbook:     truncate(firstOf(annotations["runbook_url"], annotations["runbook"]), MaxTextLen),
		Tags:        tags(labels),
		Context:     ctx,
		Source:      source,
		Status:      alert.StatusOpen,
		UpdatedAt:   now,
		StateSince:  since,
	}
	// Every text of the alert comes from fields checked above; this is the
	// rule every alert is held to, kept in case one is added without a check.
	if err := a.Validate(); err != nil {
		return Notice{}, fieldErr(path, "%v", err)
	}
	return Notice{Alert: a, Resolved: resolved}, nil
}

// alertBytes is the size of the text an alert holds.
func alertBytes(a *alert.Alert) int {
	n := len(a.ID) + len(a.AlertID) + len(a.Link) + len(a.Title) + len(a.Name) +
		len(a.Description) + len(a.Runbook) + len(a.Context)
	for _, t := range a.Tags {
		n += len(t)
	}
	return n
}

// amSeverity maps an Alertmanager severity label. Prometheus rules commonly
// use critical, warning and info; alertbridge's own names work too. A
// missing or unknown value is MEDIUM: an alert Alertmanager thought worth
// sending is not dropped for its label, and the label stays in alertContext.
func amSeverity(label string) alert.Severity {
	if s, err := alert.ParseSeverity(label); err == nil {
		return s
	}
	switch strings.ToLower(label) {
	case "page", "emergency", "fatal":
		return alert.SeverityCritical
	case "error", "major":
		return alert.SeverityHigh
	case "warning", "warn", "minor":
		return alert.SeverityMedium
	case "none", "informational", "notice", "debug":
		return alert.SeverityInfo
	}
	return alert.SeverityMedium
}

func merged(common, own map[string]string) map[string]string {
	out := make(map[string]string, len(common)+len(own))
	maps.Copy(out, common)
	maps.Copy(out, own)
	return out
}

func tags(labels map[string]string) []string {
	out := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if k == "alertname" || k == "severity" || len(out) == MaxTags {
			continue
		}
		out = append(out, truncate(k+"="+labels[k], MaxIDLen))
	}
	return out
}

// labelsFingerprint is Alertmanager's fingerprint of a label set (model.
// LabelSet.Fingerprint in prometheus/common): FNV-1a over the labels sorted
// by name, each name and value followed by the byte 255, as 16 hex digits.
func labelsFingerprint(labels map[string]string) string {
	h := fnv.New64a()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		h.Write([]byte(k))
		h.Write([]byte{255})
		h.Write([]byte(labels[k]))
		h.Write([]byte{255})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// firstOf returns the first of ss that is not blank.
func firstOf(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

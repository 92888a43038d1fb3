package ingest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// amMessage is Alertmanager's webhook payload, version 4.
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
	Alerts             []amAlert         `json:"alerts"`
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

// Notice is one alert of an Alertmanager notification.
type Notice struct {
	Alert    *alert.Alert
	Resolved bool
}

// MaxAlertmanagerAlerts bounds the alerts of one notification.
const MaxAlertmanagerAlerts = 1000

// Alertmanager parses an Alertmanager webhook notification. Each alert in it
// becomes one alert whose identity is its fingerprint.
func Alertmanager(body []byte, now time.Time) ([]Notice, error) {
	var m amMessage
	if err := decodeStrict(body, &m, ""); err != nil {
		return nil, err
	}
	if m.Version == nil {
		return nil, fieldErr("version", "required")
	}
	if *m.Version != "4" {
		return nil, fieldErr("version", "unsupported version %q; want \"4\"", *m.Version)
	}
	if len(m.Alerts) == 0 {
		return nil, fieldErr("alerts", "required: at least one alert")
	}
	if len(m.Alerts) > MaxAlertmanagerAlerts {
		return nil, fieldErr("alerts", "more than %d alerts", MaxAlertmanagerAlerts)
	}
	out := make([]Notice, 0, len(m.Alerts))
	for i, am := range m.Alerts {
		n, err := amNotice(&m, &am, fmt.Sprintf("alerts[%d]", i), now)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func amNotice(m *amMessage, am *amAlert, path string, now time.Time) (Notice, error) {
	if err := checkID(path+".fingerprint", am.Fingerprint); err != nil {
		return Notice{}, err
	}
	var resolved bool
	switch am.Status {
	case "firing":
	case "resolved":
		resolved = true
	case "":
		return Notice{}, fieldErr(path+".status", "required")
	default:
		return Notice{}, fieldErr(path+".status", "must be firing or resolved, not %q", am.Status)
	}
	labels := merged(m.CommonLabels, am.Labels)
	annotations := merged(m.CommonAnnotations, am.Annotations)
	created := now
	if am.StartsAt != "" {
		t, err := time.Parse(time.RFC3339Nano, am.StartsAt)
		if err != nil {
			return Notice{}, fieldErr(path+".startsAt", "must be an RFC 3339 date-time")
		}
		if !t.IsZero() && t.Year() > 1 {
			created = t.UTC()
		}
	}
	if am.EndsAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, am.EndsAt); err != nil {
			return Notice{}, fieldErr(path+".endsAt", "must be an RFC 3339 date-time")
		}
	}
	link := am.GeneratorURL
	if checkURL(path+".generatorURL", link) != nil {
		// Alertmanager fills generatorURL from Prometheus's --web.external-url,
		// which may be relative; a bad back-link is no reason to lose the alert.
		link = ""
	}
	alertname := labels["alertname"]
	title := firstOf(annotations["summary"], annotations["title"], alertname, am.Fingerprint)
	ctx, err := json.Marshal(map[string]any{
		"labels": labels, "annotations": annotations, "startsAt": am.StartsAt, "endsAt": am.EndsAt,
		"generatorURL": am.GeneratorURL, "receiver": m.Receiver, "groupKey": m.GroupKey, "externalURL": m.ExternalURL,
	})
	if err != nil {
		return Notice{}, fieldErr(path, "cannot encode: %v", err)
	}
	a := &alert.Alert{
		ID:          alertname,
		AlertID:     am.Fingerprint,
		CreatedAt:   created,
		Severity:    amSeverity(labels["severity"]),
		Type:        alert.TypeRule,
		Link:        link,
		Title:       truncate(title, MaxTitleLen),
		Name:        alertname,
		Description: truncate(firstOf(annotations["description"], annotations["message"]), MaxTextLen),
		Runbook:     firstOf(annotations["runbook_url"], annotations["runbook"]),
		Tags:        tags(labels),
		Context:     ctx,
		Source:      alert.SourceAlertmanager,
		Status:      alert.StatusOpen,
		UpdatedAt:   now,
	}
	return Notice{Alert: a, Resolved: resolved}, nil
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

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
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

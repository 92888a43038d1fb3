package ingest_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/ingest"
)

// amWant is what one notice of a captured payload must become.
type amWant struct {
	fingerprint string
	severity    alert.Severity
	resolved    bool
	title       string
	description string
	tags        []string
}

// generatorURLs reads the payload's generatorURLs independently of the
// parser; the long Prometheus query URLs are not worth retyping.
func generatorURLs(t *testing.T, body []byte) []string {
	t.Helper()
	var m struct {
		Alerts []struct {
			GeneratorURL string `json:"generatorURL"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(m.Alerts))
	for i, a := range m.Alerts {
		out[i] = a.GeneratorURL
	}
	return out
}

func TestAlertmanagerUpstreamPayloads(t *testing.T) {
	const memSummary = "Ratio(Max(Working Set, RSS) / Reservation) [5m Avg] < 40 %"
	const memDescription = "Lorem ipsum dolor sit amet, consetetur sadipscing elitr, sed diam nonumy eirmod tempor invidunt ut labore et dolore magna aliquyam erat, sed diam voluptua. At vero eos et accusam et justo duo dolores et ea.\\n"
	tests := []struct {
		file      []string
		alertname string
		created   time.Time
		runbook   string
		want      []amWant
	}{
		{
			file:      []string{"alertmanager", "card-grafana-inspired-payload.json"},
			alertname: "JustATestAlert_1",
			created:   time.Date(2020, 10, 11, 14, 34, 11, 279383004, time.UTC),
			want: []amWant{
				{"ff6a7a0f5f1c1309", alert.SeverityInfo, false, memSummary, memDescription,
					[]string{"name=grafana", "name_space=wh_ate_ver/promstack", "namespace=whatever/promstack"}},
				{"554664fa753a2b45", alert.SeverityInfo, false, memSummary, memDescription,
					[]string{"name=nginx", "name_space=wh_ate_ver/promstack", "namespace=whatever/promstack"}},
				{"911c76f0240f015b", alert.SeverityInfo, false, memSummary, memDescription,
					[]string{"name=prometheus", "name_space=wh_ate_ver/promstack", "namespace=whatever/promstack"}},
			},
		},
		{
			// Captured from an Alertmanager older than 0.19: no fingerprint
			// and no per-alert status. The fingerprint is Alertmanager's hash
			// of the alert's labels; the status is the group's.
			file:      []string{"alertmanager", "prom_post_request.json"},
			alertname: "high_memory_load",
			created:   time.Date(2018, 3, 7, 11, 33, 21, 873077559, time.UTC),
			runbook:   "https://github.com/bzon/prometheus-msteams",
			want: []amWant{
				{"b29784719d6a11e6", alert.SeverityMedium, false, "Server High Memory usage",
					"10.80.40.11 reported high memory usage with 23.28%.",
					[]string{"instance=instance-with-hyphen_and_underscore", "job=docker_nodes", "monitor=master"}},
			},
		},
		{
			file:      []string{"alertmanager", "zulip", "alert.json"},
			alertname: "High CPU Temperature",
			created:   time.Date(2020, 2, 6, 0, 17, 58, 432911368, time.UTC),
			want: []amWant{
				{"a1bc48475b20e73d", alert.SeverityCritical, false, "High CPU core temperature",
					"CPU core temperature is 34.75C", []string{"host=andromeda"}},
				{"c2ea85182f28cbd9", alert.SeverityCritical, false, "High CPU core temperature",
					"CPU core temperature is 17.625C", []string{"host=andromeda"}},
			},
		},
		{
			file:      []string{"alertmanager", "zulip", "single_alert.json"},
			alertname: "High CPU Temperature",
			created:   time.Date(2020, 2, 6, 0, 17, 58, 432911368, time.UTC),
			want: []amWant{
				{"a1bc48475b20e73d", alert.SeverityCritical, true, "High CPU core temperature",
					"CPU core temperature is 34.75C", []string{"host=andromeda"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Join(tt.file...), func(t *testing.T) {
			body := readPayload(t, tt.file...)
			notices, err := parseAM(t, body)
			if err != nil {
				t.Fatal(err)
			}
			if len(notices) != len(tt.want) {
				t.Fatalf("%d notices, want %d", len(notices), len(tt.want))
			}
			links := generatorURLs(t, body)
			for i, w := range tt.want {
				n := notices[i]
				a := n.Alert
				if a.AlertID != w.fingerprint {
					t.Errorf("[%d] AlertID = %q, want fingerprint %q", i, a.AlertID, w.fingerprint)
				}
				if a.Severity != w.severity {
					t.Errorf("[%d] Severity = %q, want %q", i, a.Severity, w.severity)
				}
				if n.Resolved != w.resolved {
					t.Errorf("[%d] Resolved = %v, want %v", i, n.Resolved, w.resolved)
				}
				if a.Title != w.title {
					t.Errorf("[%d] Title = %q, want %q", i, a.Title, w.title)
				}
				if a.Description != w.description {
					t.Errorf("[%d] Description = %q, want %q", i, a.Description, w.description)
				}
				if !reflect.DeepEqual(a.Tags, w.tags) {
					t.Errorf("[%d] Tags = %q, want %q", i, a.Tags, w.tags)
				}
				if a.Link != links[i] {
					t.Errorf("[%d] Link = %q, want generatorURL %q", i, a.Link, links[i])
				}
				if a.ID != tt.alertname || a.Name != tt.alertname {
					t.Errorf("[%d] ID, Name = %q, %q, want alertname %q", i, a.ID, a.Name, tt.alertname)
				}
				if !a.CreatedAt.Equal(tt.created) || a.CreatedAt.Location() != time.UTC {
					t.Errorf("[%d] CreatedAt = %v, want startsAt %v in UTC", i, a.CreatedAt, tt.created)
				}
				if a.Runbook != tt.runbook {
					t.Errorf("[%d] Runbook = %q, want %q", i, a.Runbook, tt.runbook)
				}
				if a.Type != alert.TypeRule || a.Source != alert.SourceAlertmanager || a.Status != alert.StatusOpen {
					t.Errorf("[%d] Type, Source, Status = %q, %q, %q", i, a.Type, a.Source, a.Status)
				}
				// The labels survive in alertContext, including severity and
				// alertname, which are not repeated as tags.
				var ctx struct {
					Labels map[string]string `json:"labels"`
				}
				if err := json.Unmarshal(a.Context, &ctx); err != nil {
					t.Fatalf("[%d] alertContext %s: %v", i, a.Context, err)
				}
				if ctx.Labels["alertname"] != tt.alertname || ctx.Labels["severity"] == "" {
					t.Errorf("[%d] alertContext labels = %v", i, ctx.Labels)
				}
			}
		})
	}

	// Every capture parses, including any added after this test was written.
	for _, dir := range [][]string{{"alertmanager"}, {"alertmanager", "zulip"}} {
		for _, f := range payloadFiles(t, dir...) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ingest.Alertmanager(b, now); err != nil {
				t.Errorf("%s: %v", filepath.Base(f), err)
			}
		}
	}
}

// parseAM parses an Alertmanager notification and returns its notices; a
// notification returned together with an error fails the test.
func parseAM(t *testing.T, body []byte) ([]ingest.Notice, error) {
	t.Helper()
	n, err := ingest.Alertmanager(body, now)
	if err != nil {
		if n != nil {
			t.Errorf("%d notices returned with the error %v", len(n.Notices), err)
		}
		return nil, err
	}
	return n.Notices, nil
}

// amBody builds a notification around the given alerts, each a JSON object.
func amBody(alerts ...string) []byte {
	return []byte(`{"version": "4", "status": "firing", "receiver": "bridge", "alerts": [` + strings.Join(alerts, ",") + `]}`)
}

// amAlert builds one firing alert. kv are pairs of a member name and its raw
// JSON value, replacing the default; an empty value removes the member.
func amAlert(kv ...string) string {
	m := map[string]json.RawMessage{
		"status":      json.RawMessage(`"firing"`),
		"fingerprint": json.RawMessage(`"0123456789abcdef"`),
		"labels":      json.RawMessage(`{"alertname": "Disk"}`),
		"startsAt":    json.RawMessage(`"2026-11-20T08:00:00Z"`),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = json.RawMessage(kv[i+1])
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("amAlert%q: %v", kv, err))
	}
	return string(b)
}

// parseOne parses a one-alert notification and returns its only notice.
func parseOne(t *testing.T, body []byte) ingest.Notice {
	t.Helper()
	notices, err := parseAM(t, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 {
		t.Fatalf("%d notices, want 1", len(notices))
	}
	return notices[0]
}

func TestAlertmanagerSeverity(t *testing.T) {
	tests := []struct {
		label string // "" means no severity label
		want  alert.Severity
	}{
		{"critical", alert.SeverityCritical},
		{"CRITICAL", alert.SeverityCritical},
		{"High", alert.SeverityHigh},
		{"medium", alert.SeverityMedium},
		{"low", alert.SeverityLow},
		{"info", alert.SeverityInfo},
		{"warning", alert.SeverityMedium},
		{"warn", alert.SeverityMedium},
		{"page", alert.SeverityCritical},
		{"error", alert.SeverityHigh},
		{"none", alert.SeverityInfo},
		// Unknown and missing labels must not lose the alert; MEDIUM is the
		// documented default.
		{"", alert.SeverityMedium},
		{"sev2", alert.SeverityMedium},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			labels := `{"alertname": "Disk"}`
			if tt.label != "" {
				labels = fmt.Sprintf(`{"alertname": "Disk", "severity": %q}`, tt.label)
			}
			if got := parseOne(t, amBody(amAlert("labels", labels))).Alert.Severity; got != tt.want {
				t.Errorf("severity %q → %q, want %q", tt.label, got, tt.want)
			}
		})
	}

	// The alert's own label wins over the group's common one.
	body := []byte(`{"version": "4", "status": "firing", "commonLabels": {"severity": "info"}, "alerts": [` +
		amAlert("labels", `{"alertname": "Disk", "severity": "critical"}`) + `]}`)
	if got := parseOne(t, body).Alert.Severity; got != alert.SeverityCritical {
		t.Errorf("own severity under common info → %q, want CRITICAL", got)
	}
}

func TestAlertmanagerFields(t *testing.T) {
	tests := []struct {
		name  string
		kv    []string // members replaced in the default alert, as for amAlert
		check func(t *testing.T, n ingest.Notice)
	}{
		{"title from summary", []string{"annotations", `{"summary": "S", "title": "T"}`}, func(t *testing.T, n ingest.Notice) {
			if n.Alert.Title != "S" {
				t.Errorf("Title = %q, want the summary", n.Alert.Title)
			}
		}},
		{"title from title annotation", []string{"annotations", `{"summary": " ", "title": "T"}`}, func(t *testing.T, n ingest.Notice) {
			if n.Alert.Title != "T" {
				t.Errorf("Title = %q, want the title annotation (blank summary skipped)", n.Alert.Title)
			}
		}},
		{"title from alertname", nil, func(t *testing.T, n ingest.Notice) {
			if n.Alert.Title != "Disk" {
				t.Errorf("Title = %q, want the alertname", n.Alert.Title)
			}
		}},
		{"title from fingerprint", []string{"labels", `{"job": "node"}`}, func(t *testing.T, n ingest.Notice) {
			if n.Alert.Title != "0123456789abcdef" {
				t.Errorf("Title = %q, want the fingerprint", n.Alert.Title)
			}
		}},
		{"long summary cut at a rune boundary", []string{"annotations", `{"summary": "` + strings.Repeat("é", ingest.MaxTitleLen) + `"}`}, func(t *testing.T, n ingest.Notice) {
			if len(n.Alert.Title) != ingest.MaxTitleLen || !strings.HasSuffix(n.Alert.Title, "é") {
				t.Errorf("len(Title) = %d, ends %q", len(n.Alert.Title), n.Alert.Title[len(n.Alert.Title)-3:])
			}
		}},
		{"description from message", []string{"annotations", `{"message": "M"}`}, func(t *testing.T, n ingest.Notice) {
			if n.Alert.Description != "M" {
				t.Errorf("Description = %q", n.Alert.Description)
			}
		}},
		{"runbook_url", []string{"annotations", `{"runbook_url": "https://runbooks.example.com/disk"}`}, func(t *testing.T, n ingest.Notice) {
			if n.Alert.Runbook != "https://runbooks.example.com/disk" {
				t.Errorf("Runbook = %q", n.Alert.Runbook)
			}
		}},
		{"link from generatorURL", []string{"generatorURL", `"https://prom.example.com/graph?g0.expr=up"`}, func(t *testing.T, n ingest.Notice) {
			if n.Alert.Link != "https://prom.example.com/graph?g0.expr=up" {
				t.Errorf("Link = %q", n.Alert.Link)
			}
		}},
		// Prometheus without --web.external-url sends a relative URL; the
		// alert is kept without a link rather than refused.
		{"relative generatorURL dropped", []string{"generatorURL", `"/graph?g0.expr=up"`}, func(t *testing.T, n ingest.Notice) {
			if n.Alert.Link != "" {
				t.Errorf("Link = %q, want none", n.Alert.Link)
			}
		}},
		{"resolved", []string{"status", `"resolved"`}, func(t *testing.T, n ingest.Notice) {
			if !n.Resolved {
				t.Error("Resolved = false")
			}
		}},
		// StateSince is the sender's time of what the notice says: when the
		// firing began, or when it ended.
		{"firing: state since startsAt", []string{"endsAt", `"2026-11-20T08:04:00Z"`}, func(t *testing.T, n ingest.Notice) {
			if want := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC); !n.Alert.StateSince.Equal(want) {
				t.Errorf("StateSince = %v, want %v", n.Alert.StateSince, want)
			}
		}},
		{"resolved: state since endsAt", []string{"status", `"resolved"`, "endsAt", `"2026-11-20T08:05:00Z"`}, func(t *testing.T, n ingest.Notice) {
			if want := time.Date(2026, 11, 20, 8, 5, 0, 0, time.UTC); !n.Alert.StateSince.Equal(want) {
				t.Errorf("StateSince = %v, want %v", n.Alert.StateSince, want)
			}
		}},
		{"resolved without endsAt: state since unknown", []string{"status", `"resolved"`, "endsAt", `"0001-01-01T00:00:00Z"`}, func(t *testing.T, n ingest.Notice) {
			if !n.Alert.StateSince.IsZero() {
				t.Errorf("StateSince = %v, want zero", n.Alert.StateSince)
			}
		}},
		{"firing without startsAt: state since unknown", []string{"startsAt", `""`}, func(t *testing.T, n ingest.Notice) {
			if !n.Alert.StateSince.IsZero() {
				t.Errorf("StateSince = %v, want zero (not the receiving time)", n.Alert.StateSince)
			}
		}},
		{"tags sorted without alertname and severity", []string{"labels", `{"alertname": "Disk", "severity": "critical", "zone": "b", "app": "db"}`}, func(t *testing.T, n ingest.Notice) {
			if want := []string{"app=db", "zone=b"}; !reflect.DeepEqual(n.Alert.Tags, want) {
				t.Errorf("Tags = %q, want %q", n.Alert.Tags, want)
			}
		}},
		{"no labels but alertname gives empty tags", nil, func(t *testing.T, n ingest.Notice) {
			if n.Alert.Tags == nil || len(n.Alert.Tags) != 0 {
				t.Errorf("Tags = %#v, want an empty non-nil slice", n.Alert.Tags)
			}
		}},
		{"startsAt offset becomes UTC", []string{"startsAt", `"2026-11-20T08:00:00.123456789-05:00"`}, func(t *testing.T, n ingest.Notice) {
			want := time.Date(2026, 11, 20, 13, 0, 0, 123456789, time.UTC)
			if !n.Alert.CreatedAt.Equal(want) || n.Alert.CreatedAt.Location() != time.UTC {
				t.Errorf("CreatedAt = %v, want %v", n.Alert.CreatedAt, want)
			}
		}},
		// Alertmanager writes Go's zero time when it has no start.
		{"zero startsAt is now", []string{"startsAt", `"0001-01-01T00:00:00Z"`}, func(t *testing.T, n ingest.Notice) {
			if !n.Alert.CreatedAt.Equal(now) {
				t.Errorf("CreatedAt = %v, want now", n.Alert.CreatedAt)
			}
		}},
		{"missing startsAt is now", []string{"startsAt", `""`}, func(t *testing.T, n ingest.Notice) {
			if !n.Alert.CreatedAt.Equal(now) || !n.Alert.UpdatedAt.Equal(now) {
				t.Errorf("CreatedAt, UpdatedAt = %v, %v, want now", n.Alert.CreatedAt, n.Alert.UpdatedAt)
			}
		}},
		// The fingerprint Alertmanager 0.21 sent for these labels in the
		// zulip capture: deriving it must agree with Alertmanager's own.
		{"missing fingerprint derived from labels", []string{"fingerprint", `""`, "labels", `{"alertname": "High CPU Temperature", "host": "andromeda", "severity": "critical"}`}, func(t *testing.T, n ingest.Notice) {
			if n.Alert.AlertID != "a1bc48475b20e73d" {
				t.Errorf("AlertID = %q, want a1bc48475b20e73d", n.Alert.AlertID)
			}
		}},
		{"long alertname cut to the ID limit", []string{"labels", `{"alertname": "` + strings.Repeat("n", ingest.MaxIDLen+10) + `"}`}, func(t *testing.T, n ingest.Notice) {
			if len(n.Alert.ID) != ingest.MaxIDLen {
				t.Errorf("len(ID) = %d, want %d", len(n.Alert.ID), ingest.MaxIDLen)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, parseOne(t, amBody(amAlert(tt.kv...))))
		})
	}
}

func TestAlertmanagerGroupDefaults(t *testing.T) {
	// Common labels and annotations fill what an alert lacks.
	body := []byte(`{"version": "4", "status": "firing",
		"commonLabels": {"alertname": "Disk", "team": "ops"},
		"commonAnnotations": {"summary": "Disk full", "runbook": "https://runbooks.example.com"},
		"alerts": [{"status": "firing", "fingerprint": "f1", "labels": {"alertname": "Disk", "dev": "sda"}}]}`)
	a := parseOne(t, body).Alert
	if a.Title != "Disk full" || a.Runbook != "https://runbooks.example.com" {
		t.Errorf("Title, Runbook = %q, %q", a.Title, a.Runbook)
	}
	if want := []string{"dev=sda", "team=ops"}; !reflect.DeepEqual(a.Tags, want) {
		t.Errorf("Tags = %q, want %q", a.Tags, want)
	}

	// An alert without a status of its own takes the group's.
	body = []byte(`{"version": "4", "status": "resolved", "alerts": [{"fingerprint": "f1"}]}`)
	if !parseOne(t, body).Resolved {
		t.Error("alert in a resolved group without its own status is not resolved")
	}

	// Tags are capped, so a label-heavy alert still fits the limits.
	var labels []string
	for i := range ingest.MaxTags + 20 {
		labels = append(labels, fmt.Sprintf(`"l%03d": "v"`, i))
	}
	a = parseOne(t, amBody(amAlert("labels", `{`+strings.Join(labels, ",")+`}`))).Alert
	if len(a.Tags) != ingest.MaxTags {
		t.Errorf("%d tags, want %d", len(a.Tags), ingest.MaxTags)
	}
}

func TestAlertmanagerFieldErrors(t *testing.T) {
	ok := amAlert()
	tooMany := make([]string, ingest.MaxNotificationAlerts+1)
	for i := range tooMany {
		tooMany[i] = amAlert("fingerprint", fmt.Sprintf(`"f%d"`, i))
	}
	tests := []struct {
		name  string
		body  string
		field string
	}{
		{"version missing", `{"status": "firing", "alerts": [` + ok + `]}`, "version"},
		{"version 3", `{"version": "3", "alerts": [` + ok + `]}`, "version"},
		{"version a number", `{"version": 4, "alerts": [` + ok + `]}`, "version"},
		{"alerts missing", `{"version": "4"}`, "alerts"},
		{"alerts empty", `{"version": "4", "alerts": []}`, "alerts"},
		{"alerts null", `{"version": "4", "alerts": null}`, "alerts"},
		{"alerts an object", `{"version": "4", "alerts": ` + ok + `}`, "alerts"},
		{"alerts too many", string(amBody(tooMany...)), "alerts"},
		{"alerts[0] not an object", string(amBody(`5`)), "alerts[0]"},
		{"alerts[1] null", string(amBody(ok, `null`)), "alerts[1]"},
		// Without a fingerprint or labels there is nothing to identify the alert by.
		{"alerts[1].fingerprint missing", string(amBody(ok, `{"status": "firing"}`)), "alerts[1].fingerprint"},
		{"alerts[1].fingerprint empty without labels", string(amBody(ok, `{"status": "firing", "fingerprint": ""}`)), "alerts[1].fingerprint"},
		{"alerts[1].fingerprint with slash", string(amBody(ok, amAlert("fingerprint", `"ab/cd"`))), "alerts[1].fingerprint"},
		{"alerts[0].fingerprint a number", string(amBody(amAlert("fingerprint", `12`))), "alerts[0].fingerprint"},
		{"alerts[0].status pending", string(amBody(amAlert("status", `"pending"`))), "alerts[0].status"},
		{"alerts[0].status missing everywhere", `{"version": "4", "alerts": [{"fingerprint": "f1"}]}`, "alerts[0].status"},
		{"alerts[0].startsAt bad", string(amBody(amAlert("startsAt", `"2026-11-20"`))), "alerts[0].startsAt"},
		{"alerts[0].startsAt past year 9999 in UTC", string(amBody(amAlert("startsAt", `"9999-12-31T23:59:59-01:00"`))), "alerts[0].startsAt"},
		{"alerts[2].endsAt bad", string(amBody(ok, ok, amAlert("endsAt", `"never"`))), "alerts[2].endsAt"},
		{"alerts[1].labels a string", string(amBody(ok, amAlert("labels", `"alertname=Disk"`))), "alerts[1].labels"},
		{"alerts[1].labels value a number", string(amBody(ok, amAlert("labels", `{"cpu": 3}`))), "alerts[1].labels"},
		{"alerts[0].annotations an array", string(amBody(amAlert("annotations", `[]`))), "alerts[0].annotations"},
		{"commonLabels an array", `{"version": "4", "commonLabels": [], "alerts": [` + ok + `]}`, "commonLabels"},
		{"truncatedAlerts a fraction", `{"version": "4", "truncatedAlerts": 1.5, "alerts": [` + ok + `]}`, "truncatedAlerts"},
		{"truncatedAlerts negative", `{"version": "4", "truncatedAlerts": -5, "alerts": [` + ok + `]}`, "truncatedAlerts"},
		{"malformed", `{"version": "4", "alerts": [}`, ""},
		{"unterminated", `{"version": "4", "alerts": [` + ok, ""},
		{"trailing data", string(amBody(ok)) + `{}`, ""},
		{"array body", `[` + string(amBody(ok)) + `]`, ""},
		{"null body", `null`, ""},
		{"empty body", ``, ""},
		{"invalid UTF-8", strings.Replace(string(amBody(ok)), "Disk", "Di\xc3\x28sk", 1), ""},
		// NUL is text PostgreSQL refuses; each field that carries one is named.
		{"alerts[1].labels value with NUL", string(amBody(ok, amAlert("labels", `{"alertname": "\u0000"}`))), "alerts[1].labels.alertname"},
		{"alerts[0].labels key with NUL", string(amBody(amAlert("labels", `{"\u0000": "x"}`))), "alerts[0].labels"},
		{"alerts[0].annotations value with NUL", string(amBody(amAlert("annotations", `{"summary": "s\u0000"}`))), "alerts[0].annotations.summary"},
		{"alerts[0].fingerprint with NUL", string(amBody(amAlert("fingerprint", `"f\u0000"`))), "alerts[0].fingerprint"},
		{"alerts[0].generatorURL with NUL", string(amBody(amAlert("generatorURL", `"http://x/\u0000"`))), "alerts[0].generatorURL"},
		{"alerts[0].startsAt with NUL", string(amBody(amAlert("startsAt", `"\u0000"`))), "alerts[0].startsAt"},
		{"commonLabels value with NUL", `{"version": "4", "commonLabels": {"team": "\u0000"}, "alerts": [` + ok + `]}`, "commonLabels.team"},
		{"commonAnnotations key with NUL", `{"version": "4", "commonAnnotations": {"\u0000": ""}, "alerts": [` + ok + `]}`, "commonAnnotations"},
		{"receiver with NUL", `{"version": "4", "receiver": "\u0000", "alerts": [` + ok + `]}`, "receiver"},
		{"groupKey with NUL", `{"version": "4", "groupKey": "{}:\u0000", "alerts": [` + ok + `]}`, "groupKey"},
		{"externalURL with NUL", `{"version": "4", "externalURL": "\u0000", "alerts": [` + ok + `]}`, "externalURL"},
	}
	if _, err := ingest.Alertmanager(amBody(ok, ok), now); err != nil {
		t.Fatalf("the base notification must parse: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseAM(t, []byte(tt.body))
			wantFieldError(t, err, tt.field)
		})
	}
}

// TestAlertmanagerSizeBound guards memory: each alert repeats the group's
// common annotations, so one large annotation times many alerts must not
// turn a body well under the HTTP limit into gigabytes.
func TestAlertmanagerSizeBound(t *testing.T) {
	tiny := strings.TrimSuffix(strings.Repeat(`{"status": "firing", "fingerprint": "f"},`, ingest.MaxNotificationAlerts), ",")
	body := []byte(`{"version": "4", "commonAnnotations": {"description": "` + strings.Repeat("x", 900<<10) +
		`"}, "alerts": [` + tiny + `]}`)
	_, err := parseAM(t, body)
	wantFieldError(t, err, "alerts")

	// A notification of as many alerts as one may hold, each with 2 KiB of
	// annotations of its own, still passes.
	alerts := make([]string, ingest.MaxNotificationAlerts)
	for i := range alerts {
		alerts[i] = amAlert("fingerprint", fmt.Sprintf(`"f%d"`, i),
			"annotations", fmt.Sprintf(`{"summary": "Disk %d full", "description": %q}`, i, strings.Repeat("d", 2<<10)))
	}
	notices, err := parseAM(t, amBody(alerts...))
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != ingest.MaxNotificationAlerts {
		t.Errorf("%d notices, want %d", len(notices), ingest.MaxNotificationAlerts)
	}
	// One more is refused, and the answer says how to stay under.
	_, err = parseAM(t, amBody(append(alerts, amAlert("fingerprint", `"one-more"`))...))
	wantFieldError(t, err, "alerts")
	if err == nil || !strings.Contains(err.Error(), "max_alerts") {
		t.Errorf("refusal %v does not name max_alerts", err)
	}
}

// truncatedAlerts says how many alerts of the group Alertmanager left out
// (the receiver's max_alerts); the notification carries it with the group
// key it is about.
func TestAlertmanagerTruncated(t *testing.T) {
	body := `{"version": "4", "status": "firing", "truncatedAlerts": 1601, "groupKey": "{}:{alertname=\"Disk\"}",
		"receiver": "bridge", "alerts": [` + amAlert() + `]}`
	n, err := ingest.Alertmanager([]byte(body), now)
	if err != nil {
		t.Fatal(err)
	}
	if n.Truncated != 1601 || n.GroupKey != `{}:{alertname="Disk"}` || n.Receiver != "bridge" || len(n.Notices) != 1 {
		t.Errorf("notification: truncated %d, group key %q, receiver %q, %d notices", n.Truncated, n.GroupKey, n.Receiver, len(n.Notices))
	}
	n, err = ingest.Alertmanager(amBody(amAlert()), now)
	if err != nil || n.Truncated != 0 {
		t.Errorf("without truncatedAlerts: %v, %v", n, err)
	}
}

// Alertmanager adds fields in new versions (truncatedAlerts and
// notification_reason came late); a field we do not know must not cost the
// alerts of a notification.
func TestAlertmanagerIgnoresUnknownFields(t *testing.T) {
	body := `{"version": "4", "status": "firing", "some_future_field": {"x": 1},
		"alerts": [{"status": "firing", "fingerprint": "f1", "labels": {"alertname": "A"}, "newField": true}]}`
	notices, err := parseAM(t, []byte(body))
	if err != nil {
		t.Fatalf("unknown fields refused: %v", err)
	}
	if len(notices) != 1 || notices[0].Alert.AlertID != "f1" {
		t.Fatalf("notices = %+v", notices)
	}
}

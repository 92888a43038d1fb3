package ingest_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/ingest"
	"github.com/alertbridge/alertbridge/internal/upstream"
)

// inlineSeeds are edge cases for both fuzz targets: near-valid payloads of
// either format, escapes that decode to odd runes, and dates at the edges of
// what time.Time can marshal.
var inlineSeeds = []string{
	pantherBase,
	`{"alertId":"a","title":"t","severity":"info"}`,
	`{"alertId":"a","title":"t","severity":"info","createdAt":"9999-12-31T23:59:59-01:00"}`,
	`{"alertId":"a","title":"t","severity":"info","createdAt":"0001-01-01T00:00:00+14:00"}`,
	`{"alertId":"\ud800","title":"\u0000","severity":"LOW","tags":["\u2028"],"alertContext":{"a":[{"b":null}]}}`,
	`{"alertId":"..","title":" ","severity":"hgih","link":"HTTPS://x"}`,
	`{"alertId":"a","title":"t","severity":"high","alertContext":"x","tags":[null]}`,
	`{"version":"4","status":"firing","alerts":[{"status":"firing","fingerprint":"f","labels":{"alertname":"A","severity":"warning"}}]}`,
	`{"version":"4","status":"resolved","alerts":[{"labels":{"a":"\u00e9"},"startsAt":"0001-01-01T00:00:00Z","generatorURL":"/graph"}]}`,
	`{"version":"4","alerts":[{"status":"firing","fingerprint":"f","startsAt":"9999-12-31T23:59:59-23:59"}]}`,
	`{"version":"4","alerts":[{},null,5,{"fingerprint":" "}]}`,
	`{"version":"4","commonLabels":{"severity":"CRITICAL"},"commonAnnotations":{"summary":"s"},"alerts":[{"status":"resolved","fingerprint":"x"}]}`,
	`{"version":"3","alerts":[]}`,
	`{}`, `[]`, `null`, ``, `{"a":1}{}`, "\xff", `{"alertId":1e400}`,
	// NUL and invalid UTF-8, which PostgreSQL refuses to store (issue 8).
	`{"id":"Rule\u0000X","alertId":"a","title":"t","severity":"HIGH"}`,
	`{"alertId":"a","title":"HIGH\u0000","severity":"HIGH","alertContext":{"k":["\u0000"],"\u0000":1}}`,
	`{"alertId":"a","title":"t","severity":"HIGH","tags":["x\u0000"],"alertContext":{"a":"\\u0000"}}`,
	"{\"alertId\":\"a\xc0\x80\",\"title\":\"t\",\"severity\":\"HIGH\"}",
	`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"\u0000"}}]}`,
	`{"version":"4","alerts":[{"status":"firing","labels":{"\u0000":"x","a":"b"}}]}`,
	`{"version":"4","receiver":"r\u0000","commonAnnotations":{"summary":"\u0000"},"alerts":[{"status":"firing","fingerprint":"f"}]}`,
	`{"version":"4","truncatedAlerts":-1,"alerts":[{"status":"firing","fingerprint":"f"}]}`,
	// Grafana's contact point: version "1" and fields of its own.
	grafanaBody,
	`{"version":"1","orgId":1,"state":"ok","title":"[RESOLVED] t","message":"m","status":"resolved","truncatedAlerts":3,"groupKey":"{}:{}",` +
		`"alerts":[{"status":"resolved","fingerprint":"f","values":null,"valueString":"","dashboardURL":"","orgId":2}]}`,
	`{"version":"1","alerts":[{"status":"firing","fingerprint":"f","values":{"B":1e308,"":-0,"\u0000":1}}]}`,
	`{"version":"1","orgId":"1","alerts":[{"status":"firing","fingerprint":"f","values":{"B":"x"}}]}`,
	`{"version":"1","message":"\u0000","alerts":[{"status":"firing","labels":{"alertname":"A"},"imageURL":"\ud800"}]}`,
}

// addSeeds seeds f with every file of the captured payloads, whatever its
// format, then the inline cases. Without the reference data outside CI the
// inline cases still give the fuzzer a start; in CI its absence fails.
func addSeeds(f *testing.F) {
	if _, ok := upstream.Find(); ok || os.Getenv("CI") == "true" {
		dir := upstream.Path(f, "alert-payloads")
		n := 0
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f.Add(b)
			n++
			return nil
		})
		if err != nil {
			f.Fatal(err)
		}
		if n == 0 {
			f.Fatalf("no files under %s", dir)
		}
	}
	for _, s := range inlineSeeds {
		f.Add([]byte(s))
	}
}

// checkError holds for every rejection: a *FieldError, whose Field the API
// reports, and never anything else, which it would answer with a 500.
func checkError(t *testing.T, err error) {
	t.Helper()
	var fe *ingest.FieldError
	if !errors.As(err, &fe) || fe == nil {
		t.Fatalf("error %v is a %T, not a *FieldError", err, err)
	}
	if fe.Message == "" {
		t.Fatalf("FieldError for %q has no message", fe.Field)
	}
	if !utf8.ValidString(fe.Field) || !utf8.ValidString(fe.Message) {
		t.Fatalf("FieldError is not valid UTF-8: %q", fe.Error())
	}
}

// checkAlert holds for every alert either parser accepts: what the rest of
// alertbridge relies on without checking again.
func checkAlert(t *testing.T, a *alert.Alert) {
	t.Helper()
	if a == nil {
		t.Fatal("nil alert without an error")
	}
	if a.Severity.Rank() == 0 {
		t.Fatalf("severity %q is not one of %v", a.Severity, alert.Severities)
	}
	if !slices.Contains(alert.Types, a.Type) {
		t.Fatalf("type %q is not one of %v", a.Type, alert.Types)
	}
	// The alertId is a URL path segment of the API.
	if a.AlertID == "" || len(a.AlertID) > ingest.MaxIDLen || strings.Contains(a.AlertID, "/") ||
		a.AlertID == "." || a.AlertID == ".." || strings.TrimSpace(a.AlertID) != a.AlertID {
		t.Fatalf("alertId %q cannot address the alert", a.AlertID)
	}
	if strings.TrimSpace(a.Title) == "" || len(a.Title) > ingest.MaxTitleLen {
		t.Fatalf("title %q is blank or over %d bytes", a.Title, ingest.MaxTitleLen)
	}
	if len(a.ID) > ingest.MaxIDLen || len(a.Name) > ingest.MaxTitleLen ||
		len(a.Description) > ingest.MaxTextLen || len(a.Runbook) > ingest.MaxTextLen {
		t.Fatalf("a field is over its limit: id %d, name %d, description %d, runbook %d bytes",
			len(a.ID), len(a.Name), len(a.Description), len(a.Runbook))
	}
	if a.Tags == nil || len(a.Tags) > ingest.MaxTags {
		t.Fatalf("tags %q: want a non-nil list of at most %d", a.Tags, ingest.MaxTags)
	}
	texts := []string{a.ID, a.AlertID, a.Title, a.Name, a.Description, a.Runbook, a.Link, a.Version}
	texts = append(append(append(texts, a.Tags...), a.LogTypes...), a.Destinations...)
	for _, s := range texts {
		if !utf8.ValidString(s) {
			t.Fatalf("%q is not valid UTF-8", s)
		}
	}
	for _, tag := range a.Tags {
		if strings.TrimSpace(tag) == "" {
			t.Fatalf("blank tag in %q", a.Tags)
		}
	}
	if a.Context != nil && !json.Valid(a.Context) {
		t.Fatalf("alertContext %q is not JSON", a.Context)
	}
	if a.CreatedAt.IsZero() || a.CreatedAt.Location() != time.UTC {
		t.Fatalf("createdAt %v: want a set time in UTC", a.CreatedAt)
	}
	// Every accepted alert must be storable and sendable: on PostgreSQL,
	// text with a NUL or invalid UTF-8 is neither.
	if err := a.Validate(); err != nil {
		t.Fatalf("accepted alert fails Validate: %v", err)
	}
	if _, err := json.Marshal(a); err != nil {
		t.Fatalf("accepted alert cannot be marshalled: %v", err)
	}
}

func FuzzPanther(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ingest.Panther(body, now)
		if err != nil {
			if a != nil {
				t.Fatalf("alert %+v returned with error %v", a, err)
			}
			checkError(t, err)
			return
		}
		checkAlert(t, a)
		if a.Source != alert.SourceAPI {
			t.Fatalf("source %q", a.Source)
		}
	})
}

func FuzzAlertmanager(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) { checkNotification(t, ingest.Alertmanager, body) })
}

func FuzzGrafana(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) { checkNotification(t, ingest.Grafana, body) })
}

// checkNotification holds for every notification either Alertmanager-shaped
// parser meets.
func checkNotification(t *testing.T, parse func([]byte, time.Time) (*ingest.Notification, error), body []byte) {
	n, err := parse(body, now)
	if err != nil {
		if n != nil {
			t.Fatalf("%d notices returned with error %v", len(n.Notices), err)
		}
		checkError(t, err)
		return
	}
	if len(n.Notices) == 0 || len(n.Notices) > ingest.MaxNotificationAlerts {
		t.Fatalf("%d notices without an error", len(n.Notices))
	}
	if n.Truncated < 0 {
		t.Fatalf("truncated %d", n.Truncated)
	}
	// The group key goes into a timeline entry and the log.
	if err := alert.CheckText(n.GroupKey); err != nil {
		t.Fatalf("group key %q %v", n.GroupKey, err)
	}
	size := 0
	for _, x := range n.Notices {
		checkAlert(t, x.Alert)
		if want := map[string]alert.Source{"Alertmanager": alert.SourceAlertmanager, "Grafana": alert.SourceGrafana}[n.Sender]; x.Alert.Source != want {
			t.Fatalf("source %q from %s", x.Alert.Source, n.Sender)
		}
		size += len(x.Alert.Context) + len(x.Alert.Description) + len(x.Alert.Title) + len(x.Alert.Runbook)
	}
	// Alerts repeat the group's common data; the total stays bounded.
	if size > ingest.MaxNotificationTextBytes {
		t.Fatalf("notices hold %d bytes, over %d", size, ingest.MaxNotificationTextBytes)
	}
	// The same notification must give the same identities, or a
	// re-sent notification would open new alerts instead of deduplicating.
	again, err := parse(body, now)
	if err != nil {
		t.Fatalf("second parse failed: %v", err)
	}
	for i, x := range n.Notices {
		y := again.Notices[i]
		if x.Alert.AlertID != y.Alert.AlertID || x.Alert.Title != y.Alert.Title || !slices.Equal(x.Alert.Tags, y.Alert.Tags) {
			t.Fatalf("alert %d differs between two parses of the same body", i)
		}
	}
}

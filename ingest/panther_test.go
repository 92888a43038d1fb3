package ingest_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/ingest"
	"github.com/alertbridge/alertbridge/internal/upstream"
)

// now is the clock every test hands the parsers; it is far from every date
// in the payloads, so a defaulted time cannot pass for a parsed one.
var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// readPayload reads one captured payload from the shared reference data.
func readPayload(t *testing.T, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(upstream.Path(t, append([]string{"alert-payloads"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// payloadFiles lists the JSON payloads in one directory of the reference
// data, so that a capture added later is parsed without a test change.
func payloadFiles(t *testing.T, elem ...string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(upstream.Path(t, append([]string{"alert-payloads"}, elem...)...), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no payloads under %v", elem)
	}
	return files
}

// wantFieldError fails unless err is a *FieldError naming field.
func wantFieldError(t *testing.T, err error, field string) {
	t.Helper()
	var fe *ingest.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want a *FieldError for %q", err, err, field)
	}
	if fe.Field != field {
		t.Errorf("Field = %q, want %q (error: %v)", fe.Field, field, err)
	}
	if fe.Message == "" {
		t.Errorf("FieldError for %q has no message", field)
	}
}

// sameAlert compares alerts field by field; times compare as instants, and
// must be in UTC because they are stored and compared as UTC downstream.
func sameAlert(t *testing.T, got, want *alert.Alert) {
	t.Helper()
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{{"CreatedAt", got.CreatedAt, want.CreatedAt}, {"UpdatedAt", got.UpdatedAt, want.UpdatedAt}} {
		if !tm.got.Equal(tm.want) || tm.got.Location() != time.UTC {
			t.Errorf("%s = %v, want %v in UTC", tm.name, tm.got, tm.want)
		}
	}
	g, w := *got, *want
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		gj, _ := json.MarshalIndent(g, "", "  ")
		wj, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("alert differs\ngot:  %s\nwant: %s", gj, wj)
	}
}

func TestPantherUpstreamPayloads(t *testing.T) {
	tests := []struct {
		file string
		want *alert.Alert
	}{
		{
			file: "custom_webhook.example-payload.json",
			want: &alert.Alert{
				ID:          "AllLogs.IPMonitoring",
				AlertID:     "b90c19e66e160e194a5b3b94ec27fb7c",
				CreatedAt:   time.Date(2020, 10, 13, 3, 35, 24, 0, time.UTC),
				Severity:    alert.SeverityInfo,
				Type:        alert.TypeRule,
				Link:        "https://runpanther.io/alerts/b90c19e66e160e194a5b3b94ec27fb7c",
				Title:       "New Alert: Suspicious traffic detected from [123.123.123.123]",
				Name:        "Monitor Suspicious IPs",
				Description: "This rule alerts on any activity outside of our IP address whitelist",
				Runbook:     "",
				Tags:        []string{"Network Monitoring", "Threat Intel"},
				Version:     "CJm9PiaXV0q8U0JhoFmE6L21ou7e5Ek0",
				Source:      alert.SourceAPI,
				Status:      alert.StatusOpen,
				UpdatedAt:   now,
			},
		},
		{
			file: "servicenow-destination.test-alert-payload.json",
			want: &alert.Alert{
				ID:          "Test.Alert",
				AlertID:     "Test.Alert",
				CreatedAt:   time.Date(2022, 4, 26, 3, 17, 32, 99054303, time.UTC),
				Severity:    alert.SeverityInfo,
				Type:        alert.TypeRule,
				Link:        "https://domain.runpanther.net",
				Title:       "This is a Test Alert",
				Name:        "Test Alert",
				Description: "This is a Test Alert",
				Runbook:     "Stuck? Check out our docs: https://docs.runpanther.io",
				Tags:        []string{"test"},
				Version:     "1",
				Context:     json.RawMessage(`{}`),
				Source:      alert.SourceAPI,
				Status:      alert.StatusOpen,
				UpdatedAt:   now,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ingest.Panther(readPayload(t, "panther", tt.file), now)
			if err != nil {
				t.Fatal(err)
			}
			sameAlert(t, got, tt.want)
		})
	}

	// Panther sends nanoseconds; the forwarded alert must keep all nine digits
	// or a downstream consumer sees a different createdAt than Panther did.
	got, err := ingest.Panther(readPayload(t, "panther", "servicenow-destination.test-alert-payload.json"), now)
	if err != nil {
		t.Fatal(err)
	}
	if s := got.CreatedAt.Format(time.RFC3339Nano); s != "2022-04-26T03:17:32.099054303Z" {
		t.Errorf("createdAt formats as %s", s)
	}

	// Every capture parses, including any added after this test was written.
	for _, f := range payloadFiles(t, "panther") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.Panther(b, now); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}

// pantherBase is a valid alert; each error case changes one field of it, so
// the error can only come from that change.
const pantherBase = `{
	"id": "Rule.One", "alertId": "abc123", "title": "Something happened",
	"severity": "HIGH", "type": "RULE", "createdAt": "2026-11-20T08:00:00Z",
	"link": "https://panther.example.com/alerts/abc123", "tags": ["a", "b"],
	"alertContext": {"ip": "192.0.2.1"}, "logTypes": ["AWS.CloudTrail"]
}`

// withField returns pantherBase with key set to the raw JSON value, or
// removed when value is "".
func withField(t *testing.T, key, value string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(pantherBase), &m); err != nil {
		t.Fatal(err)
	}
	if value == "" {
		delete(m, key)
	} else {
		m[key] = json.RawMessage(value)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("%s=%s: %v", key, value, err)
	}
	return b
}

func TestPantherAccepts(t *testing.T) {
	tests := []struct {
		name       string
		key, value string
		check      func(t *testing.T, a *alert.Alert)
	}{
		{"base", "id", `"Rule.One"`, func(t *testing.T, a *alert.Alert) {
			if a.Severity != alert.SeverityHigh || a.AlertID != "abc123" || string(a.Context) != `{"ip":"192.0.2.1"}` {
				t.Errorf("got %+v", a)
			}
			if !reflect.DeepEqual(a.LogTypes, []string{"AWS.CloudTrail"}) {
				t.Errorf("LogTypes = %q", a.LogTypes)
			}
		}},
		// The contract matches vocabulary case-insensitively and emits upper case.
		{"severity lower case", "severity", `"high"`, func(t *testing.T, a *alert.Alert) {
			if a.Severity != alert.SeverityHigh {
				t.Errorf("Severity = %q, want HIGH", a.Severity)
			}
		}},
		{"severity mixed case", "severity", `"CrItIcAl"`, func(t *testing.T, a *alert.Alert) {
			if a.Severity != alert.SeverityCritical {
				t.Errorf("Severity = %q, want CRITICAL", a.Severity)
			}
		}},
		{"type lower case", "type", `"scheduled_rule"`, func(t *testing.T, a *alert.Alert) {
			if a.Type != alert.TypeScheduledRule {
				t.Errorf("Type = %q, want SCHEDULED_RULE", a.Type)
			}
		}},
		{"type missing is RULE", "type", "", func(t *testing.T, a *alert.Alert) {
			if a.Type != alert.TypeRule {
				t.Errorf("Type = %q, want RULE", a.Type)
			}
		}},
		{"createdAt missing is now", "createdAt", "", func(t *testing.T, a *alert.Alert) {
			if !a.CreatedAt.Equal(now) {
				t.Errorf("CreatedAt = %v, want now", a.CreatedAt)
			}
		}},
		{"createdAt offset becomes UTC", "createdAt", `"2026-11-20T08:00:00.5+02:00"`, func(t *testing.T, a *alert.Alert) {
			want := time.Date(2026, 11, 20, 6, 0, 0, 5e8, time.UTC)
			if !a.CreatedAt.Equal(want) || a.CreatedAt.Location() != time.UTC {
				t.Errorf("CreatedAt = %v, want %v", a.CreatedAt, want)
			}
		}},
		// A missing tags list must still encode as [], which Panther's schema
		// consumers expect, not null.
		{"tags missing", "tags", "", func(t *testing.T, a *alert.Alert) {
			if a.Tags == nil || len(a.Tags) != 0 {
				t.Errorf("Tags = %#v, want an empty non-nil slice", a.Tags)
			}
		}},
		{"alertContext null", "alertContext", `null`, func(t *testing.T, a *alert.Alert) {
			if a.Context != nil {
				t.Errorf("Context = %s, want none", a.Context)
			}
		}},
		{"alertContext compacted", "alertContext", "{ \"a\" :\n [1, 2] }", func(t *testing.T, a *alert.Alert) {
			if string(a.Context) != `{"a":[1,2]}` {
				t.Errorf("Context = %s", a.Context)
			}
		}},
		{"link http", "link", `"http://panther.example.com/x"`, func(t *testing.T, a *alert.Alert) {
			if a.Link != "http://panther.example.com/x" {
				t.Errorf("Link = %q", a.Link)
			}
		}},
		{"title of MaxTitleLen bytes", "title", `"` + strings.Repeat("t", ingest.MaxTitleLen) + `"`, func(t *testing.T, a *alert.Alert) {
			if len(a.Title) != ingest.MaxTitleLen {
				t.Errorf("len(Title) = %d", len(a.Title))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ingest.Panther(withField(t, tt.key, tt.value), now)
			if err != nil {
				t.Fatal(err)
			}
			if a.Source != alert.SourceAPI || a.Status != alert.StatusOpen || !a.UpdatedAt.Equal(now) {
				t.Errorf("Source, Status, UpdatedAt = %q, %q, %v", a.Source, a.Status, a.UpdatedAt)
			}
			tt.check(t, a)
		})
	}
}

func TestPantherFieldErrors(t *testing.T) {
	tests := []struct {
		name       string
		key, value string // value "" removes the key
		field      string
	}{
		{"alertId missing", "alertId", "", "alertId"},
		{"alertId empty", "alertId", `""`, "alertId"},
		{"alertId null", "alertId", `null`, "alertId"},
		{"alertId with slash", "alertId", `"a/b"`, "alertId"},
		{"alertId with control character", "alertId", `"a\u0007b"`, "alertId"},
		{"alertId with newline", "alertId", `"a\nb"`, "alertId"},
		{"alertId blank", "alertId", `"   "`, "alertId"},
		{"alertId padded", "alertId", `" abc"`, "alertId"},
		{"alertId dot dot", "alertId", `".."`, "alertId"},
		{"alertId too long", "alertId", `"` + strings.Repeat("x", ingest.MaxIDLen+1) + `"`, "alertId"},
		{"alertId a number", "alertId", `42`, "alertId"},
		{"title missing", "title", "", "title"},
		{"title blank", "title", `" \t "`, "title"},
		{"title too long", "title", `"` + strings.Repeat("t", ingest.MaxTitleLen+1) + `"`, "title"},
		{"title an object", "title", `{"text": "x"}`, "title"},
		{"severity missing", "severity", "", "severity"},
		{"severity empty", "severity", `""`, "severity"},
		{"severity unknown", "severity", `"hgih"`, "severity"},
		{"severity padded", "severity", `" HIGH"`, "severity"},
		{"severity a number", "severity", `4`, "severity"},
		{"type unknown", "type", `"ALERT"`, "type"},
		{"createdAt not a date", "createdAt", `"yesterday"`, "createdAt"},
		{"createdAt without zone", "createdAt", `"2020-10-13T03:35:24"`, "createdAt"},
		{"createdAt with space", "createdAt", `"2020-10-13 03:35:24Z"`, "createdAt"},
		{"createdAt epoch number", "createdAt", `1602560124`, "createdAt"},
		// An offset can move a 9999 date into year 10000, which cannot be
		// marshalled: the alert would be accepted and then never stored.
		{"createdAt past year 9999 in UTC", "createdAt", `"9999-12-31T23:30:00-01:00"`, "createdAt"},
		{"createdAt before year 1 in UTC", "createdAt", `"0000-01-01T00:00:00+01:00"`, "createdAt"},
		{"link ftp", "link", `"ftp://example.com/a"`, "link"},
		{"link javascript", "link", `"javascript:alert(1)"`, "link"},
		{"link relative", "link", `"/alerts/abc"`, "link"},
		{"link without host", "link", `"https://"`, "link"},
		{"tags not an array", "tags", `"a,b"`, "tags"},
		{"tags an object", "tags", `{"a": "b"}`, "tags"},
		{"tags[1] empty", "tags", `["a", ""]`, "tags[1]"},
		{"tags[1] blank", "tags", `["a", "  "]`, "tags[1]"},
		{"tags[0] null", "tags", `[null]`, "tags[0]"},
		{"tags element a number", "tags", `["a", 1]`, "tags"},
		{"tags too many", "tags", `[` + strings.Repeat(`"t",`, ingest.MaxTags) + `"t"]`, "tags"},
		{"logTypes[0] empty", "logTypes", `[""]`, "logTypes[0]"},
		{"destinations[2] too long", "destinations", `["a", "b", "` + strings.Repeat("d", ingest.MaxIDLen+1) + `"]`, "destinations[2]"},
		{"alertContext a string", "alertContext", `"ip=1.2.3.4"`, "alertContext"},
		{"alertContext an array", "alertContext", `[{"ip": "1.2.3.4"}]`, "alertContext"},
		{"alertContext a number", "alertContext", `1`, "alertContext"},
		{"unknown field", "severty", `"HIGH"`, "severty"},
		{"id too long", "id", `"` + strings.Repeat("i", ingest.MaxIDLen+1) + `"`, "id"},
		{"version a number", "version", `1`, "version"},
		// NUL is text PostgreSQL refuses; each field that carries one is named.
		{"id with NUL", "id", `"Rule\u0000X"`, "id"},
		{"alertId with NUL", "alertId", `"a\u0000b"`, "alertId"},
		{"title with NUL", "title", `"HIGH\u0000"`, "title"},
		{"name with NUL", "name", `"\u0000"`, "name"},
		{"description with NUL", "description", `"d\u0000"`, "description"},
		{"runbook with NUL", "runbook", `"\u0000"`, "runbook"},
		{"version with NUL", "version", `"1\u0000"`, "version"},
		{"severity with NUL", "severity", `"HIGH\u0000"`, "severity"},
		{"tags[1] with NUL", "tags", `["a", "b\u0000"]`, "tags[1]"},
		{"logTypes[0] with NUL", "logTypes", `["AWS\u0000"]`, "logTypes[0]"},
		{"destinations[0] with NUL", "destinations", `["\u0000"]`, "destinations[0]"},
		{"alertContext value with NUL", "alertContext", `{"ip": "\u0000"}`, "alertContext.ip"},
		{"alertContext nested value with NUL", "alertContext", `{"a": [1, {"b": "\u0000"}]}`, "alertContext.a[1].b"},
		{"alertContext key with NUL", "alertContext", `{"a": {"\u0000": 1}}`, "alertContext.a"},
	}
	if _, err := ingest.Panther([]byte(pantherBase), now); err != nil {
		t.Fatalf("the base alert must parse: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := withField(t, tt.key, tt.value)
			a, err := ingest.Panther(body, now)
			if a != nil {
				t.Errorf("alert %+v returned with the error", a)
			}
			wantFieldError(t, err, tt.field)
		})
	}
}

// TestPantherBodyErrors covers bodies that are not one JSON object at all;
// they have no field to name, so Field is empty and the API answers
// invalid_json.
func TestPantherBodyErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"white space", " \n\t "},
		{"malformed", `{"alertId": }`},
		{"unterminated", `{"alertId": "a"`},
		{"unquoted key", `{alertId: "a"}`},
		{"trailing object", pantherBase + ` {}`},
		{"trailing garbage", pantherBase + `x`},
		{"trailing bracket", pantherBase + `]`},
		{"array", `[` + pantherBase + `]`},
		{"string", `"alert"`},
		{"null", `null`},
		{"number", `42`},
		{"invalid UTF-8", strings.Replace(pantherBase, "Something", "Some\xffthing", 1)},
		{"byte order mark", "\uFEFF" + pantherBase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ingest.Panther([]byte(tt.body), now)
			if a != nil {
				t.Errorf("alert %+v returned with the error", a)
			}
			wantFieldError(t, err, "")
		})
	}
}

func TestFieldErrorString(t *testing.T) {
	for _, tt := range []struct {
		err  ingest.FieldError
		want string
	}{
		{ingest.FieldError{Field: "severity", Message: "required"}, "severity: required"},
		{ingest.FieldError{Message: "body is empty"}, "body is empty"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

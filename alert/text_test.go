package alert_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/alertbridge/alertbridge/alert"
)

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{"", nil},
		{"plain", nil},
		{"tab\tnewline\n and é, 日本, 🚨", nil},
		{"\uFFFD", nil}, // what encoding/json makes of bad bytes: valid
		{"\x7f\x01", nil},
		{"\x00", alert.ErrNUL},
		{"HIGH\x00", alert.ErrNUL},
		{"a\x00b", alert.ErrNUL},
		{"\xc0\x80", alert.ErrInvalidUTF8}, // overlong NUL
		{"\xff", alert.ErrInvalidUTF8},
		{"caf\xe9", alert.ErrInvalidUTF8},      // Latin-1
		{"\xed\xa0\x80", alert.ErrInvalidUTF8}, // a surrogate
		{"\xe2\x82", alert.ErrInvalidUTF8},     // cut short
		{"\xff\x00", alert.ErrNUL},             // NUL is named first
	} {
		if got := alert.CheckText(c.in); !errors.Is(got, c.want) {
			t.Errorf("CheckText(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestCheckJSON(t *testing.T) {
	for _, c := range []struct {
		in, path string
		want     error // nil: accepted
		msg      string
	}{
		{in: `{}`},
		{in: `{"a":"b","c":[1,"x",{"d":null}],"e":true}`},
		{in: `"\u2028 \ud800"`}, // a lone surrogate decodes to U+FFFD
		{in: `{"a":"\\u0000"}`}, // an escaped backslash: the text \u0000, not a NUL
		{in: `{"a":"\u0000"}`, path: "a", want: alert.ErrNUL},
		{in: `"\u0000"`, path: "", want: alert.ErrNUL},
		{in: `["ok","x\u0000"]`, path: "[1]", want: alert.ErrNUL},
		{in: `{"a":{"b":[1,2,{"c":"ok"},{"c":"\u0000"}]}}`, path: "a.b[3].c", want: alert.ErrNUL},
		{in: `{"a":[{"b":"ok"}],"c":"\u0000"}`, path: "c", want: alert.ErrNUL},
		{in: `{"a":{"\u0000":1}}`, path: "a", want: alert.ErrNUL, msg: `the key "\x00"`},
		{in: `{"\u0000x":1}`, path: "", want: alert.ErrNUL, msg: `the key "\x00x"`},
		{in: `{"a":[{"k":1},{"z\u0000":[]}]}`, path: "a[1]", want: alert.ErrNUL},
		{in: `{"first":"\u0000","second":"\u0000"}`, path: "first", want: alert.ErrNUL},
		{in: "{\"a\":\"\xff\"}", path: "", want: alert.ErrInvalidUTF8},
		{in: `{"a":"\u0000`, path: "", msg: "not JSON"},
	} {
		path, err := alert.CheckJSON([]byte(c.in))
		switch {
		case c.want == nil && c.msg == "" && err != nil:
			t.Errorf("CheckJSON(%s) = %q, %v; want it accepted", c.in, path, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("CheckJSON(%s) = %q, %v; want %v", c.in, path, err, c.want)
		case c.msg != "" && (err == nil || !strings.Contains(err.Error(), c.msg)):
			t.Errorf("CheckJSON(%s) = %q, %v; want an error saying %q", c.in, path, err, c.msg)
		case path != c.path:
			t.Errorf("CheckJSON(%s) names %q, want %q", c.in, path, c.path)
		}
	}
}

func TestValidate(t *testing.T) {
	valid := func() *alert.Alert {
		return &alert.Alert{
			ID: "Rule.X", AlertID: "a-1", Title: "t", Severity: alert.SeverityHigh, Type: alert.TypeRule,
			Tags: []string{"x"}, Context: json.RawMessage(`{"ip":"10.0.0.1","user":{"name":"é"}}`),
			Source: alert.SourceAPI, Status: alert.StatusOpen, Detection: &alert.Detection{Dedup: "d"},
		}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid alert: %v", err)
	}
	for _, c := range []struct {
		field  string
		change func(a *alert.Alert)
	}{
		{"alertId", func(a *alert.Alert) { a.AlertID = "a\x00b" }},
		{"alertId", func(a *alert.Alert) { a.AlertID = "\xc0\x80" }},
		{"id", func(a *alert.Alert) { a.ID = "Rule\x00X" }},
		{"title", func(a *alert.Alert) { a.Title = "t\x00" }},
		{"name", func(a *alert.Alert) { a.Name = "\x00" }},
		{"description", func(a *alert.Alert) { a.Description = "\xff" }},
		{"runbook", func(a *alert.Alert) { a.Runbook = "\x00" }},
		{"link", func(a *alert.Alert) { a.Link = "https://x/\x00" }},
		{"version", func(a *alert.Alert) { a.Version = "\x00" }},
		{"severity", func(a *alert.Alert) { a.Severity = "HIGH\x00" }},
		{"assignee", func(a *alert.Alert) { a.Assignee = "\x00" }},
		{"tags[1]", func(a *alert.Alert) { a.Tags = []string{"ok", "a=\x00"} }},
		{"logTypes[0]", func(a *alert.Alert) { a.LogTypes = []string{"\x00"} }},
		{"destinations[0]", func(a *alert.Alert) { a.Destinations = []string{"\x00"} }},
		{"destinationOverride[0]", func(a *alert.Alert) { a.DestinationOverride = []string{"\x00"} }},
		{"detection.dedup", func(a *alert.Alert) { a.Detection.Dedup = "\x00" }},
		{"alertContext.user.name", func(a *alert.Alert) { a.Context = json.RawMessage(`{"user":{"name":"\u0000"}}`) }},
		{"alertContext", func(a *alert.Alert) { a.Context = json.RawMessage(`{"\u0000":1}`) }},
		{"alertContext.labels", func(a *alert.Alert) { a.Context = json.RawMessage(`{"labels":{"\u0000":""}}`) }},
	} {
		a := valid()
		c.change(a)
		err := a.Validate()
		var fe *alert.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: Validate() = %v, want a FieldError for %s", c.field, err, c.field)
		}
	}
}

func TestSanitize(t *testing.T) {
	a := alert.Alert{AlertID: "r-1", Title: "login by a\x00b", Description: "bad \xc0\x80 bytes", Tags: []string{"ok", "t\x00"},
		Detection: &alert.Detection{Dedup: "u\x00"}, Context: []byte(`{"user":"a\u0000b"}`)}
	a.Sanitize()
	if err := a.Validate(); err != nil && !strings.HasPrefix(err.Error(), "alertContext") {
		t.Fatalf("after Sanitize: %v", err)
	}
	if a.Title != "login by a\uFFFDb" || a.Tags[1] != "t\uFFFD" || a.Detection.Dedup != "u\uFFFD" || !utf8.ValidString(a.Description) {
		t.Errorf("sanitized to %q %q %q %q", a.Title, a.Tags, a.Detection.Dedup, a.Description)
	}
	if got := alert.CleanText("plain"); got != "plain" {
		t.Errorf("CleanText changed clean text to %q", got)
	}
}

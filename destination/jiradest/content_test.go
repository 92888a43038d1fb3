package jiradest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/internal/upstream"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
)

var adfSchema struct {
	once sync.Once
	sch  *jsonschema.Schema
	err  error
}

// requireADF fails the test unless doc satisfies Atlassian's ADF schema.
func requireADF(tb testing.TB, doc any) {
	tb.Helper()
	path := upstream.Path(tb, "adf-schema", "full.json")
	adfSchema.once.Do(func() {
		data, err := os.ReadFile(path)
		if err != nil {
			adfSchema.err = err
			return
		}
		raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			adfSchema.err = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft4)
		const url = "https://unpkg.com/@atlaskit/adf-schema/dist/json-schema/v1/full.json"
		if adfSchema.err = c.AddResource(url, raw); adfSchema.err == nil {
			adfSchema.sch, adfSchema.err = c.Compile(url)
		}
	})
	if adfSchema.err != nil {
		tb.Fatalf("ADF schema: %v", adfSchema.err)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	if err := adfSchema.sch.Validate(inst); err != nil {
		tb.Fatalf("document breaks the ADF schema: %v\n%.2000s", err, data)
	}
}

func sample() *alert.Alert {
	return &alert.Alert{
		ID: "Atlassian.LoggedInAsUser", AlertID: "a-1", Severity: alert.SeverityHigh, Type: alert.TypeRule,
		Title: "admin logged in as *alice*", Description: "An admin **impersonated** a user.",
		Runbook: "1. Ask the admin why.\n2. Check [the log](https://example.com/log).",
		Tags:    []string{"impersonation", "atlassian"}, LogTypes: []string{"Atlassian.Audit"},
		Context: json.RawMessage(`{"actor":"admin@example.com","ip":"192.0.2.7"}`),
		Detection: &alert.Detection{MatchCount: 3, FirstSeen: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			LastSeen: time.Date(2025, 1, 2, 4, 4, 5, 0, time.UTC), Dedup: "admin@example.com"},
	}
}

func TestSummary(t *testing.T) {
	long := strings.Repeat("x", 250) + "😀😀😀😀"
	tests := []struct {
		name, tmpl string
		a          alert.Alert
		want       string
	}{
		{"default", DefaultSummary, alert.Alert{Severity: "HIGH", Title: "t"}, "[HIGH] t"},
		{"newlines become spaces", DefaultSummary, alert.Alert{Severity: "LOW", Title: "a\nb\r\nc"}, "[LOW] a b c"},
		{"empty falls back to title", "{{.Name}}", alert.Alert{Title: "title"}, "title"},
		{"nothing at all", "{{.Name}}", alert.Alert{AlertID: "x"}, "Alert x"},
		{"fields of the alert", "{{.ID}}/{{.AlertID}}", alert.Alert{ID: "r", AlertID: "a"}, "r/a"},
		// 250 x and two emoji (2 UTF-16 units each) make 254; a third would
		// pass 254, so the cut leaves 254 and an ellipsis: 255.
		{"cut at a character boundary", "{{.Title}}", alert.Alert{Title: long}, strings.Repeat("x", 250) + "😀😀…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := DefaultSummary
			if tt.tmpl != "" {
				tmpl = tt.tmpl
			}
			got, err := Summary(mustTemplate(t, "summary", tmpl), NewData("", &tt.a))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if adf.StringLen(got) > MaxSummary || !utf8.ValidString(got) {
				t.Fatalf("summary of %d units or invalid UTF-8", adf.StringLen(got))
			}
		})
	}
}

func mustTemplate(tb testing.TB, name, text string) *template.Template {
	tb.Helper()
	tmpl, err := ParseTemplate(name, text)
	if err != nil {
		tb.Fatal(err)
	}
	return tmpl
}

// defaultADF and defaultWiki are the descriptions the default template makes.
func defaultADF(tb testing.TB, a *alert.Alert, publicURL string) *adf.Node {
	tb.Helper()
	doc, err := DescriptionADF(mustTemplate(tb, "description", DefaultDescription), NewData(publicURL, a))
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

func defaultWiki(tb testing.TB, a *alert.Alert, publicURL string) string {
	tb.Helper()
	w, err := DescriptionWiki(mustTemplate(tb, "description", DefaultDescription), NewData(publicURL, a))
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"ab  cd", 4, "ab…"},
		{"é日本語", 3, "é日…"},
		{"😀😀", 3, "😀…"},
		{"😀😀", 2, "…"},
	} {
		if got := Truncate(tt.in, tt.max); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestMarkerAndLabels(t *testing.T) {
	m := Marker("sec-jira", "a-1")
	if !strings.HasPrefix(m, MarkerPrefix) || len(m) != len(MarkerPrefix)+24 || strings.ContainsAny(m, " \t") {
		t.Fatalf("marker %q", m)
	}
	if m != Marker("sec-jira", "a-1") {
		t.Fatal("marker is not stable")
	}
	for _, other := range []string{Marker("sec-jira2", "a-1"), Marker("sec-jira", "a-2"), Marker("sec-jir", "aa-1")} {
		if other == m {
			t.Fatalf("marker %q is not unique to destination and alert", m)
		}
	}
	got := Labels([]string{"security-detection", "p0"}, map[alert.Severity][]string{alert.SeverityCritical: {"p0", "page"}},
		alert.SeverityCritical, m)
	want := []string{"security-detection", "p0", "page", m}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("labels %v, want %v", got, want)
	}
	if got := Labels(nil, nil, alert.SeverityLow, m); fmt.Sprint(got) != fmt.Sprint([]string{m}) {
		t.Fatalf("labels %v", got)
	}
}

func TestDescriptionADF(t *testing.T) {
	doc := defaultADF(t, sample(), "https://ab.example")
	requireADF(t, doc)
	md := adf.ToMarkdown(doc)
	for _, want := range []string{
		"An admin **impersonated** a user.",
		"[View the alert in alertbridge](https://ab.example/alerts/a-1)",
		"**Rule ID:** `Atlassian.LoggedInAsUser`", "**Alert ID:** `a-1`", "**Severity:** HIGH",
		"**Tags:** impersonation, atlassian", "**Log types:** Atlassian.Audit", "**Match count:** 3",
		"**First seen:** 2025-01-02T03:04:05Z", "**Last seen:** 2025-01-02T04:04:05Z", "**Dedup string:** `admin@example.com`",
		"### Runbook", "[the log](https://example.com/log)",
		"### Alert context", "```json\n{\n  \"actor\": \"admin@example.com\",\n  \"ip\": \"192.0.2.7\"\n}\n```",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("description lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "cut to fit") {
		t.Error("a short description says it was cut")
	}
	// An alert with nothing optional still makes a valid document.
	bare := defaultADF(t, &alert.Alert{AlertID: "b"}, "http://x")
	requireADF(t, bare)
}

func TestDescriptionWiki(t *testing.T) {
	a := sample()
	a.Link = "https://panther.example/alerts/a-1?x=|y"
	w := defaultWiki(t, a, "https://ab.example")
	for _, want := range []string{
		"An admin *impersonated* a user.",
		"[View the alert in alertbridge|https://ab.example/alerts/a-1]",
		"* *Source:* [https://panther.example/alerts/a-1?x=\\|y|https://panther.example/alerts/a-1?x=%7Cy]",
		"* *Rule ID:* {{Atlassian.LoggedInAsUser}}", "* *Severity:* HIGH", "* *Match count:* 3",
		"h3. Runbook", "h3. Alert context", "{code:json}\n{\n  \"actor\": \"admin@example.com\",",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("description lacks %q:\n%s", want, w)
		}
	}
	// Markup in a plain value is escaped.
	a = &alert.Alert{AlertID: "x", Tags: []string{"*bold*", "{code}"}}
	if w := defaultWiki(t, a, "http://x"); !strings.Contains(w, `\*bold\*`) || strings.Contains(w, "* *Tags:* *bold*") {
		t.Errorf("tags not escaped:\n%s", w)
	}
}

func TestDescriptionTooLong(t *testing.T) {
	big := map[string]string{}
	for i := range 3000 {
		big[fmt.Sprintf("key%04d", i)] = strings.Repeat("v", 20) + "😀"
	}
	ctx, _ := json.Marshal(big)
	a := sample()
	a.Context = ctx
	a.Description = strings.Repeat("word ", 10000)

	doc := defaultADF(t, a, "https://ab.example")
	requireADF(t, doc)
	if n := adf.TextLen(doc); n > MaxDescription || n < MaxDescription-2000 {
		t.Fatalf("ADF description is %d characters, want just under %d", n, MaxDescription)
	}
	md := adf.ToMarkdown(doc)
	if !strings.Contains(md, "cut to fit Jira's limit of 32,767 characters") || !strings.Contains(md, "**Alert ID:** `a-1`") {
		t.Fatalf("cut description lacks the note or the facts:\n%.500s", md)
	}

	w := defaultWiki(t, a, "https://ab.example")
	if n := adf.StringLen(w); n > MaxDescription || n < MaxDescription-2000 {
		t.Fatalf("wiki description is %d characters", n)
	}
	if !utf8.ValidString(w) || !strings.Contains(w, "cut to fit") || !strings.Contains(w, "{code:json}") || !strings.HasSuffix(w, "{code}") {
		t.Fatalf("cut wiki description is malformed: %.300s … %s", w, w[len(w)-200:])
	}
}

func TestFields(t *testing.T) {
	n, err := New(Config{
		Destination: "sec-jira", Client: jira.New(jira.Config{BaseURL: "http://jira"}), Project: "SEC",
		AssigneeID: "acc-1", Labels: []string{"security-detection"},
		Priority:     map[alert.Severity]string{alert.SeverityHigh: "High"},
		CustomFields: map[string]any{"customfield_10010": "v", "summary": "not this"},
		PublicURL:    "https://ab.example/",
	})
	if err != nil {
		t.Fatal(err)
	}
	a := sample()
	a.Link = ""
	m := Marker("sec-jira", "a-1")
	cloud, err := n.Fields(jira.DeploymentCloud, a, m)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(map[string]any{
		"project": cloud["project"], "issuetype": cloud["issuetype"], "summary": cloud["summary"], "labels": cloud["labels"],
		"priority": cloud["priority"], "assignee": cloud["assignee"], "customfield_10010": cloud["customfield_10010"],
	})
	want := `{"assignee":{"id":"acc-1"},"customfield_10010":"v","issuetype":{"name":"Task"},"labels":["security-detection","` + m +
		`"],"priority":{"name":"High"},"project":{"key":"SEC"},"summary":"[HIGH] admin logged in as *alice*"}`
	if string(js) != want {
		t.Fatalf("cloud fields\n got %s\nwant %s", js, want)
	}
	if _, ok := cloud["description"].(*adf.Node); !ok {
		t.Fatalf("cloud description is %T", cloud["description"])
	}
	if md := adf.ToMarkdown(cloud["description"].(*adf.Node)); !strings.Contains(md, "https://ab.example/alerts/a-1") {
		t.Fatalf("no link back to the public URL: %s", md)
	}
	dc, _ := n.Fields(jira.DeploymentDataCenter, a, m)
	if js, _ := json.Marshal(dc["assignee"]); string(js) != `{"name":"acc-1"}` {
		t.Fatalf("DC assignee %s", js)
	}
	if _, ok := dc["description"].(string); !ok {
		t.Fatalf("DC description is %T", dc["description"])
	}
	a.Severity = alert.SeverityLow
	low, _ := n.Fields(jira.DeploymentCloud, a, m)
	if _, ok := low["priority"]; ok {
		t.Fatal("a severity without a priority sent one")
	}
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		err             error
		permanent, wait bool
		delay           time.Duration
	}{
		{&jira.Error{Status: 400, Hint: "h"}, true, false, 0},
		{&jira.Error{Status: 401}, true, false, 0},
		{&jira.Error{Status: 403}, true, false, 0},
		{&jira.Error{Status: 404}, true, false, 0},
		{&jira.Error{Status: 429, RetryAfter: 7 * time.Second}, false, true, 7 * time.Second},
		{&jira.Error{Status: 429}, false, true, time.Second},
		{&jira.Error{Status: 502}, false, false, 0},
		{&jira.Error{Status: 408}, false, false, 0},
		{errors.New("connection reset"), false, false, 0},
	} {
		err := classify(fmt.Errorf("create issue: %w", tt.err))
		d, wait := destination.RetryDelay(err)
		if destination.IsPermanent(err) != tt.permanent || wait != tt.wait || d != tt.delay {
			t.Errorf("%v: permanent %v, wait %v %v", tt.err, destination.IsPermanent(err), wait, d)
		}
	}
	_ = http.StatusOK
}

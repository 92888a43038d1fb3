package jiradest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

// render parses and executes one template over d.
func render(tb testing.TB, text string, d *Data) (string, error) {
	tb.Helper()
	tmpl, err := ParseTemplate("t", text)
	if err != nil {
		return "", err
	}
	return Execute(tmpl, d)
}

func richSample() *alert.Alert {
	a := SampleAlert(sampleTime)
	a.Assignee = "alice@example.com"
	a.UpdatedAt = sampleTime.Add(time.Minute)
	return a
}

func TestTemplateFields(t *testing.T) {
	d := NewData("https://ab.example/", richSample())
	for _, tt := range []struct{ tmpl, want string }{
		{"{{.ID}}", "alertbridge.Test"},
		{"{{.AlertID}}", "test-sample"},
		{"{{.CreatedAt.Unix}}", "1735787045"},
		{"{{.Severity}}", "INFO"},
		{"{{.Type}}", "RULE"},
		{"{{.Title}}", "alertbridge test alert"},
		{"{{.Name}}", "Test Alert"},
		{"{{.Description}}", "A test alert sent by alertbridge to check a destination. No action is needed."},
		{"{{.Runbook}}", "No action is needed."},
		{"{{.Tags}}", "[test]"},
		{"{{.Version}}", "1"},
		{"{{.LogTypes}}", "[Alertbridge.Test]"},
		{"{{.Detection.MatchCount}} {{.Detection.Dedup}} {{.Detection.FirstSeen.Unix}} {{.Detection.LastSeen.Unix}}", "1 test 1735787045 1735787045"},
		{"{{.Source}}", "test"},
		{"{{.Status}}", "OPEN"},
		{"{{.Assignee}}", "alice@example.com"},
		{"{{.UpdatedAt.Unix}}", "1735787105"},
		{"{{.Link}}", "http://prometheus.example:9090/graph?g0.expr=up+%3D%3D+0"},
		{"{{.PageURL}}", "https://ab.example/alerts/test-sample"},
		{"{{.Labels.team}} {{.Labels.alertname}}", "security AlertbridgeTest"},
		{"{{.Annotations.runbook_url}}", "https://example.com/runbook"},
		{"{{.Context.test}} {{.Context.receiver}} {{.Context.labels.job}}", "true alertbridge alertbridge"},
		{"{{len .ContextJSON | printf \"%d\" | len | lt 2}}", "true"},
		{"{{len .Alerts}} {{(index .Alerts 0).Title}}", "1 alertbridge test alert"},
		{"{{range .Alerts}}{{.Labels.instance}}{{end}}", "alertbridge:8080"},
		{"{{.CommonLabels.team}} {{.CommonAnnotations.summary}}", "security alertbridge test alert"},
		// Missing keys read as empty, in string maps and in the context alike.
		{"[{{.Labels.nope}}][{{.Annotations.nope}}][{{.Context.nope}}][{{.CommonLabels.nope}}]", "[][][][]"},
		{"{{with .Context.nope}}x{{else}}none{{end}}", "none"},
		{"{{.Context.nope | toUpper}}", ""},
	} {
		t.Run(tt.tmpl, func(t *testing.T) {
			got, err := render(t, tt.tmpl, d)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if !strings.HasPrefix(d.ContextJSON, "{\n  \"annotations\": {") {
		t.Fatalf("ContextJSON %q", d.ContextJSON)
	}
}

func TestTemplateFunctions(t *testing.T) {
	a := richSample()
	a.Tags = []string{"b", "a*"}
	a.Context = json.RawMessage(`{"labels":{"z":"last","a":"first"},"n":1234567890123,"when":"2025-03-04T05:06:07+02:00",
		"secs":1735787045,"bad":"yesterday","title":"hello wORLD-foo bar's ünïcode"}`)
	d := NewData("https://ab.example", a)
	for _, tt := range []struct{ name, tmpl, want string }{
		{"toUpper", `{{ toUpper "abc é" }}`, "ABC É"},
		{"toUpper of a typed string", `{{ .Severity | toLower | toUpper }}`, "INFO"},
		{"toLower", `{{ .Title | toLower }}`, "alertbridge test alert"},
		{"title", `{{ .Context.title | title }}`, "Hello WORLD-Foo Bar's Ünïcode"},
		{"trim", `[{{ trim "  x y \n" }}]`, "[x y]"},
		{"join a list", `{{ join ", " .Tags }}`, "b, a*"},
		{"join a map's values in key order", `{{ join "," .Labels }}`, "first,last"},
		{"join nothing", `[{{ join "," .Context.nope }}]`, "[]"},
		{"default when missing", `{{ .Labels.team | default "none" }}`, "none"},
		{"default when set", `{{ .Labels.a | default "none" }}`, "first"},
		{"default of zero", `{{ 0 | default 5 }}`, "5"},
		{"default of an empty list", `{{ .Alerts | len }} {{ .CommonAnnotations | default "x" }}`, "1 x"},
		{"truncate", `{{ "abcdefgh" | truncate 5 }}`, "abcd…"},
		{"truncate short", `{{ "abc" | truncate 5 }}`, "abc"},
		{"truncate to nothing", `[{{ "abc" | truncate 0 }}]`, "[]"},
		{"date of a time", `{{ .CreatedAt | date "2006-01-02 15:04" }}`, "2025-01-02 03:04"},
		{"date of RFC 3339 text, in UTC", `{{ .Context.when | date "15:04:05Z07:00" }}`, "03:06:07Z"},
		{"date of Unix seconds", `{{ .Context.secs | date "2006-01-02T15:04:05Z07:00" }}`, "2025-01-02T03:04:05Z"},
		{"date of a zero time", `[{{ .Detection.FirstSeen | date "2006" }}]`, "[2025]"},
		{"date of nothing", `[{{ .Context.nope | date "2006" }}]`, "[]"},
		{"json", `{{ json .Labels }}`, `{"a":"first","z":"last"}`},
		{"json keeps numbers and text as they are", `{{ json .Context.n }} {{ json "<&>" }}`, `1234567890123 "<&>"`},
		{"numbers print as written", `{{ .Context.n }}`, "1234567890123"},
		{"markdownEscape", `{{ markdownEscape "*a* [b](c) #1 <x> a_b" }}`, `\*a\* \[b\]\(c\) \#1 \<x\> a\_b`},
		{"code", "{{ code \"a`b\" }}", "``a`b``"},
		{"code of nothing", `[{{ code "" }}]`, "[]"},
		{"codeBlock", `{{ codeBlock "json" "{}" }}`, "```json\n{}\n```"},
		{"codeBlock with fences inside", "{{ codeBlock \"\" \"```\" }}", "````\n```\n````"},
		{"link", `{{ link "the [page]" "https://x.example/a b" }}`, `[the \[page\]](<https://x.example/a b>)`},
		{"link without a URL", `{{ link "*t*" "" }}`, `\*t\*`},
		{"link without text", `{{ link "" "https://x.example" }}`, `<https://x.example>`},
		{"markdown closes a fence", "{{ markdown \"```\\nopen\" }}", "```\nopen\n```"},
		{"markdown of nothing", `[{{ markdown "  " }}]`, "[]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := render(t, tt.tmpl, d)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("%s\n got %q\nwant %q", tt.tmpl, got, tt.want)
			}
		})
	}
	// What each Markdown builder writes reads back as what it was given.
	for _, s := range []string{"a*b_c", "[x](y)", "1. not a list", "# not a heading", "<b>&amp;", "back\\slash", "`tick`"} {
		for name, tmpl := range map[string]string{
			"markdownEscape": "{{ markdownEscape . }}", "code": "{{ code . }}", "link": `{{ link . "https://x.example/" }}`,
		} {
			tm, err := ParseTemplate(name, tmpl)
			if err != nil {
				t.Fatal(err)
			}
			var w outWriter
			if err := tm.Execute(&w, s); err != nil {
				t.Fatal(err)
			}
			doc := adf.FromMarkdown(w.b.String())
			if len(doc.Content) != 1 || len(doc.Content[0].Content) != 1 || doc.Content[0].Content[0].Text != s {
				js, _ := json.Marshal(doc)
				t.Errorf("%s of %q reads back as %s", name, s, js)
			}
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	d := NewData("", richSample())
	for _, tt := range []struct{ name, tmpl, want string }{
		{"unknown field", "{{.Titel}}", "can't evaluate field Titel"},
		{"unknown field of an alert", "{{range .Alerts}}{{.Nope}}{{end}}", "can't evaluate field Nope"},
		{"unknown function", "{{ toupper .Title }}", `function "toupper" not defined`},
		{"no environment", `{{ env "HOME" }}`, `function "env" not defined`},
		{"no files", `{{ readFile "/etc/passwd" }}`, `function "readFile" not defined`},
		{"bad date", `{{ .Context.startsAt | date "2006" }}{{ "yesterday" | date "2006" }}`, `date: "yesterday" is not an RFC 3339 time`},
		{"join of a number", `{{ join "," 3 }}`, "join: want a list, got int"},
		{"nested key of a missing one", "{{ .Context.nope.deeper }}", "nil pointer evaluating interface {}.deeper"},
		{"runaway output", `{{ range .Tags }}{{ end }}{{ define "x" }}{{ end }}` + strings.Repeat(`{{ printf "%2000000s" "" }}`, 1), "longer than 1 MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, tt.tmpl, d)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCheckTemplate(t *testing.T) {
	if _, err := CheckTemplate("summary", DefaultSummary); err != nil {
		t.Fatal(err)
	}
	if md, err := CheckTemplate("description", DefaultDescription); err != nil || !strings.Contains(md, "**Rule ID:**") {
		t.Fatalf("default description: %q, %v", md, err)
	}
	_, err := CheckTemplate("summary", "[{{ .Severity }}] {{ .Titel }}")
	var te *TemplateError
	if !errors.As(err, &te) || te.Parse || !strings.HasPrefix(err.Error(), `template: summary:1:`) ||
		!strings.Contains(err.Error(), "can't evaluate field Titel") || !strings.HasSuffix(err.Error(), "(rendering a sample alert)") {
		t.Fatalf("misspelt field: %v", err)
	}
	// A template that fails only for a group's alert is caught too.
	_, err = CheckTemplate("description", "{{ if .Group.Key }}{{ (index .Alerts 1).Titel }}{{ end }}")
	if !errors.As(err, &te) || !te.Group || !strings.Contains(err.Error(), "can't evaluate field Titel") ||
		!strings.HasSuffix(err.Error(), "(rendering a sample group's alert, as jira.issue_per: group makes)") {
		t.Fatalf("a field misspelt for groups: %v", err)
	}
	if out, err := CheckTemplate("description", "{{ range .Alerts }}{{ .Labels.instance }} {{ end }}"); err != nil || out != "alertbridge:8080 " {
		t.Fatalf("a template over .Alerts: %q, %v", out, err)
	}
	if _, err := CheckTemplate("summary", "{{ .Title"); !errors.As(err, &te) || !te.Parse ||
		!strings.HasPrefix(err.Error(), "template does not parse: template: summary:1:") {
		t.Fatalf("parse error: %v", err)
	}
	for _, tt := range []struct{ label, want string }{
		{"team-{{ .Labels.team }}", ""},
		{"{{ .Labels.nope }}", "label is empty (rendering a sample alert)"},
		{"{{ .Title }}", `label "alertbridge test alert" contains a space, which Jira does not allow (rendering a sample alert)`},
		{"a b", `label "a b" contains a space, which Jira does not allow`},
		{"{{ .Nope }}", "can't evaluate field Nope"},
	} {
		err := CheckLabel("labels[0]", tt.label)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckLabel(%q) = %v, want %q", tt.label, err, tt.want)
		}
	}
}

func TestGroupData(t *testing.T) {
	a, b := SampleAlert(sampleTime), SampleAlert(sampleTime)
	b.AlertID = "other"
	b.Context = json.RawMessage(`{"labels":{"alertname":"AlertbridgeTest","team":"ops"},"annotations":{"summary":"alertbridge test alert"}}`)
	d := NewData("http://ab", a, b)
	got, err := render(t, `{{ len .Alerts }} {{ .AlertID }} {{ json .CommonLabels }} {{ json .CommonAnnotations }} {{ range .Alerts }}{{ .PageURL }} {{ end }}`, d)
	if err != nil {
		t.Fatal(err)
	}
	want := `2 test-sample {"alertname":"AlertbridgeTest"} {"summary":"alertbridge test alert"} http://ab/alerts/test-sample http://ab/alerts/other `
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Labels come only from an alertContext object of that name.
	for _, ctx := range []string{``, `null`, `[1]`, `{"labels":"x"}`, `{"labels":{"n":1,"b":true}}`} {
		a.Context = json.RawMessage(ctx)
		got, err := render(t, `{{ json .Labels }}`, NewData("", a))
		want := "null"
		if ctx == `{"labels":{"n":1,"b":true}}` {
			want = `{"b":"true","n":"1"}`
		}
		if err != nil || got != want {
			t.Errorf("context %s: labels %s (%v), want %s", ctx, got, err, want)
		}
	}
}

// An alert standing for a group shows its members as .Alerts, the group's
// labels as the common ones, and its context without the member list.
func TestGroupAlertData(t *testing.T) {
	ctx := json.RawMessage(`{"groupKey":"{}:{alertname=\"HostDown\"}","labels":{"alertname":"HostDown","severity":"critical"},
		"annotations":{"team":"db"},"alerts":[
		{"alertId":"fp1","title":"db-1 is down","severity":"CRITICAL","status":"OPEN","labels":{"alertname":"HostDown","instance":"db-1","severity":"critical"},"startsAt":"2026-12-01T08:00:00Z","link":"http://prom/1"},
		{"alertId":"fp2","title":"db-2 is down","severity":"CRITICAL","status":"RESOLVED","labels":{"alertname":"HostDown","instance":"db-2","severity":"critical"},"link":"http://prom/2"}]}`)
	g := &alert.Alert{AlertID: "group-1", Title: "HostDown", Severity: alert.SeverityCritical, Source: alert.SourceAlertmanager,
		Status: alert.StatusOpen, Context: ctx, Group: &alert.Group{Key: `{}:{alertname="HostDown"}`, Sender: "Alertmanager", Alerts: 2, Firing: 1}}
	d := NewData("http://ab", g)
	got, err := render(t, `{{ .Group.Sender }} {{ .Group.Firing }}/{{ .Group.Alerts }} {{ len .Alerts }} {{ .CommonLabels.severity }} {{ .CommonAnnotations.team }}`+
		`{{ range .Alerts }} {{ .AlertID }}:{{ .Status }}:{{ .Labels.instance }}:{{ .PageURL }}:{{ .CreatedAt.Year }}{{ end }}`, d)
	if err != nil {
		t.Fatal(err)
	}
	want := `Alertmanager 1/2 2 critical db fp1:OPEN:db-1:http://ab/alerts/fp1:2026 fp2:RESOLVED:db-2:http://ab/alerts/fp2:1`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if strings.Contains(d.ContextJSON, "db-1") || !strings.Contains(d.ContextJSON, "groupKey") {
		t.Errorf("a group's context JSON shows its members or lacks the group:\n%s", d.ContextJSON)
	}
	md, err := Execute(defaultTemplates.description, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Alerts", "1 of 2 firing.", "**firing** [db-1 is down](http://prom/1) `instance=db-1`",
		"resolved [db-2 is down](http://prom/2) `instance=db-2`"} {
		if !strings.Contains(md, want) {
			t.Errorf("the default description does not say %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "`severity=critical`") {
		t.Errorf("the description tells members apart by a label they share:\n%s", md)
	}
	// An alert of its own lists no group.
	md, err = Execute(defaultTemplates.description, NewData("http://ab", SampleAlert(sampleTime)))
	if err != nil || strings.Contains(md, "### Alerts") {
		t.Errorf("a single alert's description lists a group (%v):\n%s", err, md)
	}
}

// The description's first link leads to the alert's page in alertbridge,
// whatever link the alert came with; that link is shown as the source.
func TestDescriptionLinks(t *testing.T) {
	a := sample()
	a.Link = "http://prometheus.example:9090/graph?g0.expr=up"
	doc := defaultADF(t, a, "https://ab.example")
	requireADF(t, doc)
	md := adf.ToMarkdown(doc)
	for _, want := range []string{
		"[View the alert in alertbridge](https://ab.example/alerts/a-1)",
		"- **Source:** <http://prometheus.example:9090/graph?g0.expr=up>",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("description lacks %q:\n%s", want, md)
		}
	}
	w := defaultWiki(t, a, "https://ab.example")
	for _, want := range []string{
		"[View the alert in alertbridge|https://ab.example/alerts/a-1]",
		"* *Source:* [http://prometheus.example:9090/graph?g0.expr=up]",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("wiki description lacks %q:\n%s", want, w)
		}
	}
	// Without a public URL there is no page to link to; the source stays.
	if md := adf.ToMarkdown(defaultADF(t, a, "")); strings.Contains(md, "View the alert") || !strings.Contains(md, "**Source:**") {
		t.Errorf("description without a public URL:\n%s", md)
	}
}

// A description template that shows more than Jira takes is cut to fit.
func TestDescriptionTemplateTooLong(t *testing.T) {
	a := sample()
	a.Context, _ = json.Marshal(map[string]string{"big": strings.Repeat("x ", 30000)})
	tmpl := mustTemplate(t, "description", "{{ .Title }}\n\n{{ json .Context }}\n\n{{ json .Context }}")
	doc, err := DescriptionADF(tmpl, NewData("https://ab.example", a))
	if err != nil {
		t.Fatal(err)
	}
	requireADF(t, doc)
	if n := adf.TextLen(doc); n > MaxDescription || n < MaxDescription/2 {
		t.Fatalf("ADF description of %d characters", n)
	}
	if md := adf.ToMarkdown(doc); !strings.Contains(md, "cut to fit") {
		t.Fatalf("no note:\n%.300s", md)
	}
	w, err := DescriptionWiki(tmpl, NewData("https://ab.example", a))
	if err != nil || adf.StringLen(w) > MaxDescription || !strings.Contains(w, "cut to fit") {
		t.Fatalf("wiki description of %d characters (%v)", adf.StringLen(w), err)
	}
}

func TestFieldsTemplates(t *testing.T) {
	n, err := New(Config{
		Destination: "sec-jira", Client: jira.New(jira.Config{BaseURL: "http://jira"}), Project: "SEC",
		Labels:           []string{"security-detection", "team-{{ .Labels.team }}", "{{ .Labels.nope }}", "{{ .Title }}"},
		LabelsBySeverity: map[alert.Severity][]string{alert.SeverityInfo: {"sev-{{ .Severity | toLower }}"}},
		Summary:          "{{ .Labels.alertname }}: {{ .Title | title }}",
		Description:      "Team **{{ .Labels.team }}**: {{ .Annotations.description | markdownEscape }}",
		CustomFields: map[string]any{
			"customfield_10010": "{{ .Labels.team }}",
			"customfield_10020": map[string]any{"value": "{{ toUpper .Severity }}"},
			"customfield_10030": []any{int64(1), "{{ .AlertID }}", true},
		},
		PublicURL: "https://ab.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	a := SampleAlert(sampleTime)
	m := Marker("sec-jira", a.AlertID)
	cloud, err := n.Fields(jira.DeploymentCloud, a, m)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(map[string]any{"summary": cloud["summary"], "labels": cloud["labels"],
		"customfield_10010": cloud["customfield_10010"], "customfield_10020": cloud["customfield_10020"], "customfield_10030": cloud["customfield_10030"]})
	want := `{"customfield_10010":"security","customfield_10020":{"value":"INFO"},"customfield_10030":[1,"test-sample",true],` +
		`"labels":["security-detection","team-security","alertbridge_test_alert","sev-info","` + m + `"],"summary":"AlertbridgeTest: Alertbridge Test Alert"}`
	if string(js) != want {
		t.Fatalf("fields\n got %s\nwant %s", js, want)
	}
	doc := cloud["description"].(*adf.Node)
	requireADF(t, doc)
	if md := adf.ToMarkdown(doc); md != "Team **security**: A test alert sent by alertbridge to check a destination." {
		t.Fatalf("cloud description %q", md)
	}
	dc, err := n.Fields(jira.DeploymentDataCenter, a, m)
	if err != nil {
		t.Fatal(err)
	}
	if w := dc["description"]; w != "Team *security*: A test alert sent by alertbridge to check a destination." {
		t.Fatalf("DC description %q", w)
	}
}

// A template that fails for one alert (it names a context key this alert
// lacks) costs the issue nothing: the default stands in, and the receipt
// says so.
func TestTemplateFailureFallsBack(t *testing.T) {
	for _, dep := range []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter} {
		t.Run(string(dep), func(t *testing.T) {
			n, sb := setup(t, dep, sandbox.Options{}, Config{
				Summary:      "{{ .Context.labels.team }}",
				Description:  "{{ .Context.annotations.summary }}",
				Labels:       []string{"ok", "{{ .Context.labels.team }}"},
				CustomFields: map[string]any{"customfield_10010": "{{ .Context.labels.team }}"},
				PublicURL:    "https://ab.example",
			})
			a := sample() // a Panther alert: no labels in its context
			if _, err := n.Fields(dep, a, "m"); err == nil || !strings.Contains(err.Error(), "nil pointer evaluating interface {}.team") {
				t.Fatalf("Fields: %v", err)
			}
			r, err := notify(t, n, destination.Notification{Alert: a, DeliveryID: 1, Attempt: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"created SEC-1", "summary: the default was used", "description: the default was used",
				"labels[1]: left out", "custom_fields.customfield_10010: left out", "template: summary:1:"} {
				if !strings.Contains(r.Detail, want) {
					t.Errorf("detail lacks %q: %s", want, r.Detail)
				}
			}
			is := sb.Issues()[0]
			if is.Summary != "[HIGH] admin logged in as *alice*" || strings.Join(is.Labels, ",") != "ok,"+Marker("sec-jira", "a-1") {
				t.Fatalf("issue %+v", is)
			}
			if _, ok := is.Fields["customfield_10010"]; ok {
				t.Fatal("a failed custom field was sent")
			}
		})
	}
}

func TestNewRefusesBadTemplates(t *testing.T) {
	_, err := New(Config{Destination: "d", Client: jira.New(jira.Config{BaseURL: "http://jira"}),
		Summary: "{{ .Title", Labels: []string{"{{ nope }}"}, CustomFields: map[string]any{"c": []any{"{{ end }}"}}})
	for _, want := range []string{"jira destination d:", "template: summary:1:", "template: labels[0]:1:", "template: custom_fields.c[0]:1:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

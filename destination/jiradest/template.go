package jiradest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"
	"unicode"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/jira/adf"
)

// Data is what a destination's templates (summary, description, labels,
// custom field values) are executed over. The alert's own fields are at the
// top, so "{{.Severity}}" and "{{.Title}}" read as they always have.
type Data struct {
	Alert
	// Alerts are the alerts the issue is for: for an issue per alert, the
	// one alert; for an issue per group, every alert of the group.
	Alerts []Alert
	// CommonLabels and CommonAnnotations are the labels and annotations
	// every alert in Alerts has with the same value.
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
}

// Alert is one alert as templates see it.
type Alert struct {
	ID          string // the detection (rule) that raised it
	AlertID     string
	CreatedAt   time.Time
	Severity    alert.Severity
	Type        alert.Type
	Title       string
	Name        string
	Description string // Markdown
	Runbook     string // Markdown
	Tags        []string
	Version     string
	LogTypes    []string
	// Detection holds the facts of alerts raised by alertbridge's own
	// rules; it is a value, not a pointer, so that ".Detection.MatchCount"
	// is 0 for other alerts instead of failing the template.
	Detection alert.Detection
	// Group holds the facts of an alert standing for a group: its key,
	// sender and counts; ".Group.Key" is "" for other alerts.
	Group     alert.Group
	Source    alert.Source
	Status    alert.Status
	Assignee  string
	UpdatedAt time.Time

	// Link is where the alert came from: Panther's link, Alertmanager's
	// generatorURL. PageURL is the alert's page in alertbridge.
	Link    string
	PageURL string

	// Labels and Annotations are an Alertmanager or Grafana alert's; other
	// alerts have none unless their alertContext holds "labels" or
	// "annotations" objects.
	Labels      map[string]string
	Annotations map[string]string
	// Context is the alertContext object; ContextJSON is the same
	// indented, as the default description shows it (and cuts it when the
	// description is too long for Jira).
	Context     map[string]any
	ContextJSON string
}

// NewData is the template data for an issue about alerts; the first is the
// one whose fields are at the top. For an alert standing for a group
// (jira.issue_per: group), Alerts are the members its context lists, and
// the common labels and annotations are the group's.
func NewData(publicURL string, alerts ...*alert.Alert) *Data {
	if len(alerts) == 1 && alerts[0].Group != nil {
		d := &Data{Alert: viewOf(publicURL, alerts[0])}
		d.Alerts = groupMembers(publicURL, alerts[0])
		d.CommonLabels, d.CommonAnnotations = d.Labels, d.Annotations
		return d
	}
	d := &Data{Alerts: make([]Alert, 0, len(alerts))}
	for _, a := range alerts {
		d.Alerts = append(d.Alerts, viewOf(publicURL, a))
	}
	if len(d.Alerts) > 0 {
		d.Alert = d.Alerts[0]
	}
	d.CommonLabels = common(d.Alerts, func(a Alert) map[string]string { return a.Labels })
	d.CommonAnnotations = common(d.Alerts, func(a Alert) map[string]string { return a.Annotations })
	return d
}

// groupMembers reads the members a group's context lists.
func groupMembers(publicURL string, group *alert.Alert) []Alert {
	var c struct {
		Alerts []struct {
			AlertID     string            `json:"alertId"`
			Title       string            `json:"title"`
			Severity    alert.Severity    `json:"severity"`
			Status      alert.Status      `json:"status"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			StartsAt    time.Time         `json:"startsAt"`
			Link        string            `json:"link"`
		} `json:"alerts"`
	}
	_ = json.Unmarshal(group.Context, &c) // a context without the list lists no one
	out := make([]Alert, 0, len(c.Alerts))
	for _, m := range c.Alerts {
		out = append(out, Alert{AlertID: m.AlertID, Title: m.Title, Severity: m.Severity, Status: m.Status,
			Labels: m.Labels, Annotations: m.Annotations, CreatedAt: m.StartsAt, Link: m.Link,
			PageURL: PageURL(publicURL, m.AlertID), Source: group.Source})
	}
	return out
}

func viewOf(publicURL string, a *alert.Alert) Alert {
	ctx := contextMap(a.Context)
	v := Alert{
		ID: a.ID, AlertID: a.AlertID, CreatedAt: a.CreatedAt, Severity: a.Severity, Type: a.Type,
		Title: a.Title, Name: a.Name, Description: a.Description, Runbook: a.Runbook, Tags: a.Tags,
		Version: a.Version, LogTypes: a.LogTypes, Source: a.Source, Status: a.Status, Assignee: a.Assignee,
		UpdatedAt: a.UpdatedAt, Link: a.Link, PageURL: PageURL(publicURL, a.AlertID),
		Labels: stringMap(ctx["labels"]), Annotations: stringMap(ctx["annotations"]),
		Context: ctx, ContextJSON: contextJSON(a.Context),
	}
	if a.Detection != nil {
		v.Detection = *a.Detection
	}
	if a.Group != nil {
		v.Group = *a.Group
		// The members are listed on their own (Data.Alerts); the context
		// shown is the group's.
		delete(ctx, "alerts")
		if b, err := json.Marshal(ctx); err == nil {
			v.ContextJSON = contextJSON(b)
		}
	}
	return v
}

// PageURL is the alert's page under alertbridge's public URL, or "" when
// there is no public URL to put in front of it.
func PageURL(publicURL, alertID string) string { return destination.PageURL(publicURL, alertID) }

// contextMap decodes alertContext keeping numbers as written: a float64
// would print an ID like 1234567890123 as 1.234567890123e+12.
func contextMap(raw json.RawMessage) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

func contextJSON(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

// stringMap reads a labels or annotations object. Values that are not
// strings (only hand-written contexts have them) keep their JSON text.
func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = textOf(v)
	}
	return out
}

func common(alerts []Alert, of func(Alert) map[string]string) map[string]string {
	if len(alerts) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range of(alerts[0]) {
		out[k] = v
	}
	for _, a := range alerts[1:] {
		m := of(a)
		for k, v := range out {
			if w, ok := m[k]; !ok || w != v {
				delete(out, k)
			}
		}
	}
	return out
}

// SampleAlert is what check-config renders every template against: the
// test alert alertbridge sends, with the labels, annotations and context an
// Alertmanager alert carries and the facts of a detection, so that a
// template naming any of them can be tried.
func SampleAlert(now time.Time) *alert.Alert {
	now = now.UTC()
	gen := "http://prometheus.example:9090/graph?g0.expr=up+%3D%3D+0"
	ctx, _ := json.Marshal(map[string]any{
		"labels": map[string]string{"alertname": "AlertbridgeTest", "severity": "info", "instance": "alertbridge:8080",
			"job": "alertbridge", "team": "security"},
		"annotations": map[string]string{"summary": "alertbridge test alert",
			"description": "A test alert sent by alertbridge to check a destination.", "runbook_url": "https://example.com/runbook"},
		"startsAt": now.Format(time.RFC3339), "endsAt": "0001-01-01T00:00:00Z", "generatorURL": gen,
		"receiver": "alertbridge", "groupKey": `{}:{alertname="AlertbridgeTest"}`, "externalURL": "http://alertmanager.example:9093",
		"test": true,
	})
	return &alert.Alert{
		ID: "alertbridge.Test", AlertID: "test-sample", CreatedAt: now, Severity: alert.SeverityInfo, Type: alert.TypeRule,
		Link: gen, Title: "alertbridge test alert", Name: "Test Alert",
		Description: "A test alert sent by alertbridge to check a destination. No action is needed.",
		Runbook:     "No action is needed.", Tags: []string{"test"}, Version: "1", LogTypes: []string{"Alertbridge.Test"},
		Context:   ctx,
		Detection: &alert.Detection{MatchCount: 1, FirstSeen: now, LastSeen: now, Dedup: "test"},
		Source:    alert.SourceTest, Status: alert.StatusOpen, UpdatedAt: now,
	}
}

// samplePublicURL stands in for server.public_url where templates are
// checked without a configuration around them.
const samplePublicURL = "http://127.0.0.1:8080"

// Funcs is the function library templates may call, besides text/template's
// own (index, len, printf, eq, and the rest). None reads the environment,
// files or the network: a template sees only its data. Each takes its
// subject last, so that it reads in a pipeline: {{ .Title | truncate 40 }}.
//
//	toUpper S, toLower S, title S   change case (title: first letter of each word)
//	trim S                          remove leading and trailing white space
//	join SEP LIST                   the list's items joined by SEP
//	default DEFAULT V               V, or DEFAULT when V is empty or missing
//	truncate N S                    S cut to N characters, ending in "…" when cut
//	date LAYOUT T                   a time (or RFC 3339 text, or Unix seconds) in UTC, in Go's layout
//	json V                          V as compact JSON
//	markdownEscape S                S with Markdown's special characters escaped
//	code S                          S as inline code, whatever backticks it holds
//	codeBlock LANG S                S as a fenced code block
//	link TEXT URL                   a Markdown link
//	markdown S                      Markdown S, closed off so it cannot swallow what follows
//
// Every function that takes text accepts anything, as printing does, and
// reads a missing map key as "".
func Funcs() template.FuncMap {
	return template.FuncMap{
		"toUpper":        func(v any) string { return strings.ToUpper(textOf(v)) },
		"toLower":        func(v any) string { return strings.ToLower(textOf(v)) },
		"title":          func(v any) string { return titleCase(textOf(v)) },
		"trim":           func(v any) string { return strings.TrimSpace(textOf(v)) },
		"join":           join,
		"default":        defaultOf,
		"truncate":       truncateFunc,
		"date":           date,
		"json":           toJSON,
		"markdownEscape": func(v any) string { return MarkdownEscape(textOf(v)) },
		"code":           func(v any) string { return codeSpan(textOf(v)) },
		"codeBlock":      func(lang string, v any) string { return codeBlock(lang, textOf(v)) },
		"link":           func(text, href any) string { return mdLink(textOf(text), textOf(href)) },
		"markdown":       func(v any) string { return closeMarkdown(textOf(v)) },
	}
}

// ParseTemplate parses one template as destinations use them: with Funcs,
// and with a missing map key reading as empty (an alert without a "team"
// label is no error). A field or function that does not exist is one.
// name is the configuration key, so that errors say where they are.
func ParseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=zero").Funcs(Funcs()).Parse(text)
}

// maxOutput bounds what one template may write: the longest field Jira
// takes is 32,767 characters, and a runaway range should fail, not fill memory.
const maxOutput = 1 << 20

var errTooLong = errors.New("template output is longer than 1 MiB")

// Execute renders t over d.
func Execute(t *template.Template, d *Data) (string, error) {
	var w outWriter
	if err := t.Execute(&w, d); err != nil {
		return "", err
	}
	return w.b.String(), nil
}

// outWriter drops text/template's "<no value>", which it prints for a
// missing key of a map holding any type (alertContext): missing keys are
// meant to read as empty. The marker is always one write of its own.
type outWriter struct{ b strings.Builder }

func (w *outWriter) Write(p []byte) (int, error) {
	if string(p) == "<no value>" {
		return len(p), nil
	}
	if w.b.Len()+len(p) > maxOutput {
		return 0, errTooLong
	}
	return w.b.Write(p)
}

// CheckTemplate parses text and renders it over the sample alert, returning
// what it rendered. This is check-config's test of a template: a misspelt
// field (".Titel") parses, and fails only when executed.
func CheckTemplate(name, text string) (string, error) {
	t, err := ParseTemplate(name, text)
	if err != nil {
		return "", &TemplateError{Err: err, Parse: true}
	}
	out, err := Execute(t, sampleData())
	if err != nil {
		return "", &TemplateError{Err: err}
	}
	if _, err := Execute(t, sampleGroupData()); err != nil {
		return "", &TemplateError{Err: err, Group: true}
	}
	return out, nil
}

// CheckLabel checks a label template as CheckTemplate does, and that what it
// renders for the sample alert is a label Jira takes.
func CheckLabel(name, text string) error {
	out, err := CheckTemplate(name, text)
	if err != nil {
		return err
	}
	var problem string
	switch {
	case out == "":
		problem = "label is empty"
	case strings.IndexFunc(out, unicode.IsSpace) >= 0:
		problem = fmt.Sprintf("label %q contains a space, which Jira does not allow", out)
	default:
		return nil
	}
	if out != text {
		problem += " (rendering a sample alert)"
	}
	return errors.New(problem)
}

// TemplateError is a template that does not parse, or fails when executed.
type TemplateError struct {
	Err   error
	Parse bool // it does not parse; otherwise it failed on the sample alert
	Group bool // it failed on the sample group, not on the sample alert
}

func (e *TemplateError) Error() string {
	if e.Parse {
		return "template does not parse: " + e.Err.Error()
	}
	if e.Group {
		return e.Err.Error() + " (rendering a sample group's alert, as jira.issue_per: group makes)"
	}
	return e.Err.Error() + " (rendering a sample alert)"
}

func (e *TemplateError) Unwrap() error { return e.Err }

// sampleTime is when check-config's sample alerts were raised.
var sampleTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func sampleData() *Data { return NewData(samplePublicURL, SampleAlert(sampleTime)) }

func sampleGroupData() *Data { return NewData(samplePublicURL, SampleGroup(sampleTime)) }

// SampleGroup is an alert standing for a group of two sample alerts, one
// firing and one resolved, as an issue per group sees it.
func SampleGroup(now time.Time) *alert.Alert {
	a := SampleAlert(now)
	key := `{}:{alertname="AlertbridgeTest"}`
	labels := map[string]string{"alertname": "AlertbridgeTest", "job": "alertbridge", "severity": "info", "team": "security"}
	member := func(id, instance string, status alert.Status) map[string]any {
		return map[string]any{"alertId": id, "title": "alertbridge test alert on " + instance, "severity": alert.SeverityInfo,
			"status": status, "labels": map[string]string{"alertname": "AlertbridgeTest", "instance": instance, "job": "alertbridge",
				"severity": "info", "team": "security"}, "annotations": map[string]string{"summary": "alertbridge test alert"},
			"startsAt": now.UTC().Format(time.RFC3339), "link": a.Link}
	}
	a.Context, _ = json.Marshal(map[string]any{"groupKey": key, "sender": "Alertmanager", "receiver": "alertbridge",
		"externalURL": "http://alertmanager.example:9093", "groupLabels": map[string]string{"alertname": "AlertbridgeTest"},
		"labels": labels, "annotations": map[string]string{"summary": "alertbridge test alert"}, "alertCount": 2, "firingCount": 1,
		"alerts": []any{member("test-sample-1", "alertbridge-1:8080", alert.StatusOpen), member("test-sample-2", "alertbridge-2:8080", alert.StatusResolved)}})
	a.AlertID, a.ID, a.Title, a.Link = "group-sample", "AlertbridgeTest", "AlertbridgeTest", "http://alertmanager.example:9093"
	a.Source, a.Detection = alert.SourceAlertmanager, nil
	a.Group = &alert.Group{Key: key, Sender: "Alertmanager", Receiver: "alertbridge", Alerts: 2, Firing: 1}
	return a
}

// textOf is how a function reads its subject: as printing would, except that
// nothing (a missing key) is "".
func textOf(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case fmt.Stringer:
		return v.String()
	case error:
		return v.Error()
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && rv.IsNil() {
		return ""
	}
	return fmt.Sprint(v)
}

func titleCase(s string) string {
	var b strings.Builder
	prev := ' '
	for _, r := range s {
		if !isWordRune(prev) {
			r = unicode.ToTitle(r)
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '\'' || r == '’'
}

func join(sep string, list any) (string, error) {
	if list == nil {
		return "", nil
	}
	if s, ok := list.(string); ok {
		return s, nil
	}
	rv := reflect.ValueOf(list)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
	case reflect.Map:
		// Maps join their values in key order, as range would visit them.
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return textOf(keys[i].Interface()) < textOf(keys[j].Interface()) })
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = textOf(rv.MapIndex(k).Interface())
		}
		return strings.Join(parts, sep), nil
	default:
		return "", fmt.Errorf("join: want a list, got %T", list)
	}
	parts := make([]string, rv.Len())
	for i := range parts {
		parts[i] = textOf(rv.Index(i).Interface())
	}
	return strings.Join(parts, sep), nil
}

func defaultOf(def, v any) any {
	if empty(v) {
		return def
	}
	return v
}

// empty is what default replaces: nothing, "", 0, false and empty lists and maps.
func empty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	if t, ok := v.(time.Time); ok {
		return t.IsZero()
	}
	return rv.IsZero()
}

func truncateFunc(n int, v any) string {
	if n <= 0 {
		return ""
	}
	return Truncate(textOf(v), n)
}

// date formats a time in UTC. A zero time, or nothing, is "" rather than
// "0001-01-01": an alert that has not ended has no end time to show.
func date(layout string, v any) (string, error) {
	var t time.Time
	switch v := v.(type) {
	case nil:
		return "", nil
	case time.Time:
		t = v
	case *time.Time:
		if v == nil {
			return "", nil
		}
		t = *v
	case string:
		if v == "" {
			return "", nil
		}
		p, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return "", fmt.Errorf("date: %q is not an RFC 3339 time", v)
		}
		t = p
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return "", fmt.Errorf("date: %q is not a number of seconds", v)
		}
		t = unixSeconds(f)
	case int:
		t = time.Unix(int64(v), 0)
	case int64:
		t = time.Unix(v, 0)
	case float64:
		t = unixSeconds(v)
	default:
		return "", fmt.Errorf("date: want a time, got %T", v)
	}
	if t.IsZero() || t.Year() <= 1 {
		return "", nil
	}
	return t.UTC().Format(layout), nil
}

func unixSeconds(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

func toJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// <, > and & are text in an issue, not HTML to be guarded against.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// MarkdownEscape escapes every ASCII punctuation character, so that text
// from an alert (a label value, a tag) shows as it is instead of turning
// into emphasis, links or lists. Line breaks are kept.
func MarkdownEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && unicode.IsPunct(r) || r < 128 && unicode.IsSymbol(r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// The Markdown builders below write through adf.ToMarkdown, whose output
// adf.FromMarkdown reads back as the same document: what a template writes
// with them is exactly what the issue shows.

// codeSpan quotes s as inline code, whatever backticks it holds.
func codeSpan(s string) string {
	if s == "" {
		return ""
	}
	return inlineMarkdown(adf.Text(strings.ReplaceAll(s, "\n", " "), adf.Code()))
}

func mdLink(text, href string) string {
	switch {
	case href == "":
		return MarkdownEscape(text)
	case text == "":
		text = href
	}
	return inlineMarkdown(adf.Text(strings.ReplaceAll(text, "\n", " "), adf.Link(href)))
}

func inlineMarkdown(n *adf.Node) string {
	return strings.TrimSpace(adf.ToMarkdown(adf.Doc(adf.Paragraph(n))))
}

func codeBlock(lang, body string) string {
	if f := strings.Fields(lang); len(f) > 0 {
		lang = f[0]
	} else {
		lang = ""
	}
	return adf.ToMarkdown(adf.Doc(adf.CodeBlock(lang, strings.TrimRight(body, "\n"))))
}

// closeMarkdown rewrites a Markdown fragment (an alert's description or
// runbook) into Markdown that shows the same and ends where it ends: an
// unclosed code fence in it would otherwise run on over the rest of the
// description.
func closeMarkdown(md string) string {
	if strings.TrimSpace(md) == "" {
		return ""
	}
	return adf.ToMarkdown(adf.FromMarkdown(md))
}

// templates are one destination's templates, parsed. Each is named by its
// configuration key, which errors quote.
type templates struct {
	summary, description *template.Template
	labels               []*template.Template
	bySeverity           map[alert.Severity][]*template.Template
	// custom holds the custom field values with every string replaced by
	// its template.
	custom map[string]any
}

// defaultTemplates stand in for a destination's own when those fail for
// an alert; they cannot fail.
var defaultTemplates = func() templates {
	t, err := parseTemplates(Config{Summary: DefaultSummary, Description: DefaultDescription})
	if err != nil {
		panic(err)
	}
	return t
}()

func parseTemplates(cfg Config) (templates, error) {
	var errs []error
	parse := func(name, text string) *template.Template {
		t, err := ParseTemplate(name, text)
		if err != nil {
			errs = append(errs, err)
		}
		return t
	}
	t := templates{
		summary:     parse("summary", cfg.Summary),
		description: parse("description", cfg.Description),
		bySeverity:  map[alert.Severity][]*template.Template{},
		custom:      map[string]any{},
	}
	for i, l := range cfg.Labels {
		t.labels = append(t.labels, parse(fmt.Sprintf("labels[%d]", i), l))
	}
	for sev, ls := range cfg.LabelsBySeverity {
		for i, l := range ls {
			t.bySeverity[sev] = append(t.bySeverity[sev], parse(fmt.Sprintf("labels_by_severity.%s[%d]", sev, i), l))
		}
	}
	for k, v := range cfg.CustomFields {
		t.custom[k], _ = rebuild("custom_fields."+k, v, func(path string, leaf any) (any, error) {
			if s, ok := leaf.(string); ok {
				return parse(path, s), nil
			}
			return leaf, nil
		})
	}
	return t, errors.Join(errs...)
}

// renderValue renders the templates in a custom field's value.
func renderValue(v any, d *Data) (any, error) {
	return rebuild("", v, func(_ string, leaf any) (any, error) {
		if t, ok := leaf.(*template.Template); ok {
			return Execute(t, d)
		}
		return leaf, nil
	})
}

// CustomFieldStrings calls fn with the key path of every string in a custom
// field's value (key is the path of the value itself): the strings that are
// templates.
func CustomFieldStrings(key string, v any, fn func(path, s string)) {
	_, _ = rebuild(key, v, func(path string, leaf any) (any, error) {
		if s, ok := leaf.(string); ok {
			fn(path, s)
		}
		return leaf, nil
	})
}

// rebuild copies a custom field's value (JSON-like: lists, maps, scalars)
// with each scalar replaced by what fn makes of it, visiting map keys in
// order; path is the scalar's key path.
func rebuild(path string, v any, fn func(path string, leaf any) (any, error)) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			r, err := rebuild(fmt.Sprintf("%s[%d]", path, i), e, fn)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			r, err := rebuild(path+"."+k, v[k], fn)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return fn(path, v)
}

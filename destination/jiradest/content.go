package jiradest

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/wiki"
)

// Jira's limits, counted as Java counts string length: in UTF-16 code units.
const (
	MaxSummary     = 255
	MaxDescription = 32767
)

// MarkerPrefix starts the label that marks an issue as the one created for
// one alert and destination.
const MarkerPrefix = "alertbridge-"

// PropertyKey is the issue property the create writes beside the marker
// label, holding the alert's ID and the destination's name.
const PropertyKey = "alertbridge"

// Marker returns the label unique to an alert and a destination. It is a
// hash rather than the alert ID itself because alert IDs may hold spaces and
// characters a label cannot, and may be longer than a label may be.
func Marker(destination, alertID string) string {
	sum := sha256.Sum256([]byte(destination + "\x00" + alertID))
	return MarkerPrefix + hex.EncodeToString(sum[:12])
}

// Summary renders the summary template and fits the result to Jira's
// rules: one line, at most 255 characters. A template that renders nothing
// falls back to the title, since Jira requires a summary.
func Summary(tmpl *template.Template, d *Data) (string, error) {
	out, err := Execute(tmpl, d)
	if err != nil {
		return "", err
	}
	s := strings.Join(strings.FieldsFunc(out, func(r rune) bool { return r == '\n' || r == '\r' || r == '\t' }), " ")
	s = strings.TrimSpace(s)
	if s == "" {
		s = strings.TrimSpace(d.Title)
	}
	if s == "" {
		s = "Alert " + d.AlertID
	}
	return Truncate(s, MaxSummary), nil
}

// Truncate cuts s to at most max UTF-16 code units, at a character
// boundary, ending in an ellipsis when it cut anything.
func Truncate(s string, max int) string {
	if adf.StringLen(s) <= max {
		return s
	}
	return strings.TrimRightFunc(cut(s, max-1), unicode.IsSpace) + "…"
}

// cut returns the longest prefix of s of at most max UTF-16 code units that
// ends at a character boundary.
func cut(s string, max int) string {
	n := 0
	for i, r := range s {
		w := 1
		if r != utf8.RuneError {
			w = utf16.RuneLen(r)
		}
		if n+w > max {
			return s[:i]
		}
		n += w
	}
	return s
}

// Labels returns the labels: the configured ones, those for the
// alert's severity and the marker, without repeats, in that order, leaving
// out empty ones (a label template over a label the alert lacks).
func Labels(base []string, bySeverity map[alert.Severity][]string, sev alert.Severity, marker string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range append(append(append([]string(nil), base...), bySeverity[sev]...), marker) {
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// MaxLabel is the length Jira allows a label.
const MaxLabel = 255

// labelOf makes a rendered label one Jira takes. check-config refuses
// templates that render spaces for its sample alert, but a value from some
// other alert may hold one, and a label Jira refuses would fail the create.
func labelOf(s string) string {
	return cut(strings.Join(strings.Fields(s), "_"), MaxLabel)
}

// DefaultDescription is the description template when none is configured:
// the alert's description, its page in alertbridge, where it came from, its
// facts, a group's alerts, runbook and context. Description and runbook are Markdown already;
// every other value is escaped or quoted as code.
const DefaultDescription = `{{- with markdown .Description }}{{ . }}

{{ end -}}
{{ with .PageURL }}{{ link "View the alert in alertbridge" . }}

{{ end -}}
{{ with .Link }}- **Source:** {{ link . . }}
{{ end -}}
{{ with .ID }}- **Rule ID:** {{ code . }}
{{ end -}}
{{ with .AlertID }}- **Alert ID:** {{ code . }}
{{ end -}}
{{ with .Severity }}- **Severity:** {{ markdownEscape . }}
{{ end -}}
{{ with .Type }}- **Alert type:** {{ markdownEscape . }}
{{ end -}}
{{ with .Tags }}- **Tags:** {{ join ", " . | markdownEscape }}
{{ end -}}
{{ with .LogTypes }}- **Log types:** {{ join ", " . | markdownEscape }}
{{ end -}}
{{ with .Detection.MatchCount }}- **Match count:** {{ . }}
{{ end -}}
{{ with date "2006-01-02T15:04:05Z07:00" .Detection.FirstSeen }}- **First seen:** {{ markdownEscape . }}
{{ end -}}
{{ with date "2006-01-02T15:04:05Z07:00" .Detection.LastSeen }}- **Last seen:** {{ markdownEscape . }}
{{ end -}}
{{ with .Detection.Dedup }}- **Dedup string:** {{ code . }}
{{ end -}}
{{ with .Group.Key }}
### Alerts

{{ $.Group.Firing }} of {{ $.Group.Alerts }} firing{{ if gt $.Group.Alerts (len $.Alerts) }}; the first {{ len $.Alerts }} listed{{ end }}. Alerts joining and resolving are told in comments.

{{ range $.Alerts }}- {{ if eq .Status "RESOLVED" "CLOSED" }}resolved{{ else }}**firing**{{ end }} {{ link .Title .Link }}{{ range $k, $v := .Labels }}{{ if ne (index $.CommonLabels $k) $v }} {{ code (printf "%s=%s" $k $v) }}{{ end }}{{ end }}
{{ end }}{{ end -}}
{{ with markdown .Runbook }}
### Runbook

{{ . }}
{{ end -}}
{{ with .ContextJSON }}
### Alert context

{{ codeBlock "json" . }}
{{ end -}}
`

// DescriptionADF is the issue description for Jira Cloud: the template's
// Markdown in Atlassian Document Format, fitted to Jira's limit.
func DescriptionADF(tmpl *template.Template, d *Data) (*adf.Node, error) {
	v, err := description(tmpl, d, func(md string) (any, int) {
		doc := adf.FromMarkdown(md)
		return doc, adf.TextLen(doc)
	})
	if err != nil {
		return nil, err
	}
	return v.(*adf.Node), nil
}

// DescriptionWiki is the issue description for Jira Data Center, in wiki
// markup, fitted to Jira's limit.
func DescriptionWiki(tmpl *template.Template, d *Data) (string, error) {
	v, err := description(tmpl, d, func(md string) (any, int) {
		w := wiki.FromMarkdown(md)
		return w, adf.StringLen(w)
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// description renders the template and converts its Markdown. When the
// result is over Jira's limit the alert's long texts (description, runbook,
// context) are shortened, as fit does, and the description opens with a
// note saying so; a template that shows something else long (the whole
// context through .Context, say) is then cut as a whole.
func description(tmpl *template.Template, d *Data, convert func(md string) (any, int)) (any, error) {
	render := func(p parts, note bool) (string, error) {
		dd := *d
		dd.Description, dd.Runbook, dd.ContextJSON = p[0], p[1], p[2]
		md, err := Execute(tmpl, &dd)
		if note {
			md = "*" + MarkdownEscape(truncNote(d.PageURL)) + "*\n\n" + md
		}
		return md, err
	}
	full := parts{strings.TrimSpace(d.Description), strings.TrimSpace(d.Runbook), d.ContextJSON}
	md, err := render(full, false)
	if err != nil {
		return nil, err
	}
	v, size := convert(md)
	if size <= MaxDescription {
		return v, nil
	}
	var failed error
	p, _ := fit(full, func(p parts, note bool) int {
		md, err := render(p, note)
		if err != nil {
			failed = err
			return 0
		}
		_, n := convert(md)
		return n
	})
	if failed != nil {
		return nil, failed
	}
	md, _ = render(p, true)
	v, size = convert(md)
	for range 20 {
		if size <= MaxDescription {
			return v, nil
		}
		n := adf.StringLen(md) - (size - MaxDescription) - 64
		if n <= 0 {
			break
		}
		md = cut(md, n) + "\n\n…"
		v, size = convert(md)
	}
	v, _ = convert("*" + MarkdownEscape(truncNote(d.PageURL)) + "*")
	return v, nil
}

// truncNote tells the reader the description was cut and where the rest is.
func truncNote(page string) string {
	if page == "" {
		return "This description was cut to fit Jira's limit of 32,767 characters; the whole alert is in alertbridge."
	}
	return "This description was cut to fit Jira's limit of 32,767 characters; the whole alert is at " + page
}

// parts are the texts fit may shorten: the alert's description, runbook
// and context (as indented JSON), in that order.
type parts [3]string

// fit shortens the parts until measure says the rendered description
// fits, and reports whether it cut anything. The room left by the fixed
// parts is shared fairly: a part shorter than its share keeps all of it and
// leaves the rest to the others. Rendering may add escapes, so the result
// is measured again and the longest part trimmed by the excess until it
// fits.
func fit(p parts, measure func(parts, bool) int) (parts, bool) {
	if measure(p, false) <= MaxDescription {
		return p, false
	}
	const context = 2 // JSON is cut at a line end, which reads better
	full := p
	p = parts{}
	room := MaxDescription - measure(p, true) - 3*16 // the cut markers
	order := []int{0, 1, 2}
	sort.Slice(order, func(i, j int) bool { return adf.StringLen(full[order[i]]) < adf.StringLen(full[order[j]]) })
	for k, i := range order {
		share := max(room/(len(order)-k), 0)
		n := min(adf.StringLen(full[i]), share)
		p[i] = cutPart(full[i], n, i == context)
		room -= n
	}
	for range 20 {
		excess := measure(p, true) - MaxDescription
		if excess <= 0 {
			return p, true
		}
		longest := 0
		for i := range p {
			if adf.StringLen(p[i]) > adf.StringLen(p[longest]) {
				longest = i
			}
		}
		n := adf.StringLen(p[longest])
		if n == 0 {
			break
		}
		p[longest] = cutPart(p[longest], max(n-excess-64, 0), longest == context)
	}
	// Still too long (the fixed parts alone cannot be): drop the variable parts.
	return parts{}, true
}

// cutPart cuts s to about n characters, marking the cut; JSON is cut at a
// line end, which reads better.
func cutPart(s string, n int, lines bool) string {
	if adf.StringLen(s) <= n {
		return s
	}
	c := cut(s, max(n-2, 0))
	if lines {
		if i := strings.LastIndexByte(c, '\n'); i > 0 {
			c = c[:i]
		}
	}
	if c == "" {
		return ""
	}
	return c + "\n…"
}

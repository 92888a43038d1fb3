package jiradest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
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

// Summary renders the summary template over the alert and fits the result
// to Jira's rules: one line, at most 255 characters. A template that renders
// nothing falls back to the title, since Jira requires a summary.
func Summary(tmpl *template.Template, a *alert.Alert) (string, error) {
	var b strings.Builder
	if err := tmpl.Execute(&b, a); err != nil {
		return "", fmt.Errorf("summary template: %w", err)
	}
	s := strings.Join(strings.FieldsFunc(b.String(), func(r rune) bool { return r == '\n' || r == '\r' || r == '\t' }), " ")
	s = strings.TrimSpace(s)
	if s == "" {
		s = strings.TrimSpace(a.Title)
	}
	if s == "" {
		s = "Alert " + a.AlertID
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
// alert's severity and the marker, without repeats, in that order. Labels
// are checked for spaces at config time; the marker never has any.
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

// details is what the description says, in the order it says it.
type details struct {
	description string // Markdown
	link        string
	facts       [][2]string // label, value; values shown as code where code is set
	codeFacts   map[string]bool
	runbook     string // Markdown
	context     string // pretty JSON
}

func detailsOf(a *alert.Alert, link string) details {
	d := details{description: strings.TrimSpace(a.Description), link: link, runbook: strings.TrimSpace(a.Runbook),
		codeFacts: map[string]bool{"Rule ID": true, "Alert ID": true, "Dedup string": true}}
	add := func(k, v string) {
		if v != "" {
			d.facts = append(d.facts, [2]string{k, v})
		}
	}
	add("Rule ID", a.ID)
	add("Alert ID", a.AlertID)
	add("Severity", string(a.Severity))
	add("Alert type", string(a.Type))
	add("Tags", strings.Join(a.Tags, ", "))
	add("Log types", strings.Join(a.LogTypes, ", "))
	if det := a.Detection; det != nil {
		add("Match count", strconv.Itoa(det.MatchCount))
		add("First seen", timeText(det.FirstSeen))
		add("Last seen", timeText(det.LastSeen))
		add("Dedup string", det.Dedup)
	}
	if len(bytes.TrimSpace(a.Context)) > 0 && string(bytes.TrimSpace(a.Context)) != "null" {
		var buf bytes.Buffer
		if json.Indent(&buf, a.Context, "", "  ") == nil {
			d.context = buf.String()
		} else {
			d.context = string(a.Context)
		}
	}
	return d
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// truncNote tells the reader the description was cut and where the rest is.
func truncNote(link string) string {
	return "This description was cut to fit Jira's limit of 32,767 characters; the whole alert is at " + link
}

// fit shortens the variable parts (description, runbook, alert context)
// until measure says the rendered description fits, and reports whether it
// cut anything. The room left by the fixed parts is shared fairly: a part
// shorter than its share keeps all of it and leaves the rest to the
// others. Rendering may add escapes, so the result is measured again and
// the longest part trimmed by the excess until it fits.
func fit(d details, measure func(details, bool) int) (details, bool) {
	if measure(d, false) <= MaxDescription {
		return d, false
	}
	parts := []*string{&d.context, &d.description, &d.runbook}
	full := make([]string, len(parts))
	for i, p := range parts {
		full[i] = *p
		*p = ""
	}
	room := MaxDescription - measure(d, true) - 3*16 // the cut markers
	order := []int{0, 1, 2}
	sort.Slice(order, func(i, j int) bool { return adf.StringLen(full[order[i]]) < adf.StringLen(full[order[j]]) })
	for k, i := range order {
		share := max(room/(len(order)-k), 0)
		n := min(adf.StringLen(full[i]), share)
		*parts[i] = cutPart(full[i], n, parts[i] == &d.context)
		room -= n
	}
	for range 20 {
		excess := measure(d, true) - MaxDescription
		if excess <= 0 {
			return d, true
		}
		longest := parts[0]
		for _, p := range parts[1:] {
			if adf.StringLen(*p) > adf.StringLen(*longest) {
				longest = p
			}
		}
		n := adf.StringLen(*longest)
		if n == 0 {
			break
		}
		*longest = cutPart(*longest, max(n-excess-64, 0), longest == &d.context)
	}
	// Still too long (the fixed parts alone cannot be): drop the variable parts.
	d.context, d.description, d.runbook = "", "", ""
	return d, true
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

// DescriptionADF is the issue description for Jira Cloud, in Atlassian
// Document Format.
func DescriptionADF(a *alert.Alert, link string) *adf.Node {
	d, cutAny := fit(detailsOf(a, link), func(d details, note bool) int { return adf.TextLen(buildADF(d, note)) })
	return buildADF(d, cutAny)
}

func buildADF(d details, note bool) *adf.Node {
	var blocks []*adf.Node
	if note {
		blocks = append(blocks, adf.Paragraph(adf.Text(truncNote(d.link), adf.Em())))
	}
	if d.description != "" {
		blocks = append(blocks, adf.FromMarkdown(d.description).Content...)
	}
	if d.link != "" {
		blocks = append(blocks, adf.Paragraph(adf.Text("View the alert in alertbridge", adf.Link(d.link))))
	}
	if len(d.facts) > 0 {
		items := make([]*adf.Node, 0, len(d.facts))
		for _, f := range d.facts {
			val := adf.Text(f[1])
			if d.codeFacts[f[0]] {
				val = adf.Text(f[1], adf.Code())
			}
			items = append(items, adf.ListItem(adf.Paragraph(adf.Text(f[0]+": ", adf.Strong()), val)))
		}
		blocks = append(blocks, adf.BulletList(items...))
	}
	if d.runbook != "" {
		blocks = append(blocks, adf.Heading(3, adf.Text("Runbook")))
		blocks = append(blocks, adf.FromMarkdown(d.runbook).Content...)
	}
	if d.context != "" {
		blocks = append(blocks, adf.Heading(3, adf.Text("Alert context")), adf.CodeBlock("json", d.context))
	}
	return adf.Doc(blocks...)
}

// DescriptionWiki is the issue description for Jira Data Center, in wiki
// markup.
func DescriptionWiki(a *alert.Alert, link string) string {
	d, cutAny := fit(detailsOf(a, link), func(d details, note bool) int { return adf.StringLen(buildWiki(d, note)) })
	return buildWiki(d, cutAny)
}

func buildWiki(d details, note bool) string {
	var parts []string
	if note {
		parts = append(parts, "_"+wiki.Escape(truncNote(d.link))+"_")
	}
	if d.description != "" {
		parts = append(parts, wiki.FromMarkdown(d.description))
	}
	if d.link != "" {
		parts = append(parts, "[View the alert in alertbridge|"+wikiLinkTarget(d.link)+"]")
	}
	if len(d.facts) > 0 {
		lines := make([]string, 0, len(d.facts))
		for _, f := range d.facts {
			val := wiki.Escape(f[1])
			if d.codeFacts[f[0]] {
				val = wiki.FromMarkdown(codeSpan(f[1]))
			}
			lines = append(lines, "* *"+f[0]+":* "+val)
		}
		parts = append(parts, strings.Join(lines, "\n"))
	}
	if d.runbook != "" {
		parts = append(parts, "h3. Runbook", wiki.FromMarkdown(d.runbook))
	}
	if d.context != "" {
		parts = append(parts, "h3. Alert context", wikiCode(d.context))
	}
	return strings.Join(parts, "\n\n")
}

// wikiCode renders a code block through the wiki package, which picks a
// macro the body cannot close early.
func wikiCode(body string) string {
	fence := "```"
	for strings.Contains(body, fence) {
		fence += "`"
	}
	return wiki.FromMarkdown(fence + "json\n" + body + "\n" + fence)
}

// codeSpan quotes s as a Markdown code span, whatever backticks it holds.
func codeSpan(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

// wikiLinkTarget keeps a URL from breaking out of the link macro: a '|' or
// ']' in it would end the target early.
func wikiLinkTarget(u string) string {
	return strings.NewReplacer("|", "%7C", "]", "%5D", "[", "%5B", " ", "%20").Replace(u)
}

package config

import (
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination/jiradest"
)

func (d *decoder) jira(b *block) *Jira {
	// "sandbox:" runs the in-memory Jira sandbox inside alertbridge, so a
	// newcomer sees alerts become issues without a Jira account; it needs
	// no credentials.
	sandbox := false
	if s, _ := b.lookup("url"); s == SandboxURL {
		sandbox = true
	}
	url := SandboxURL
	if !sandbox {
		url = b.httpURL("url", true)
	}
	token, given := b.secret("token")
	if !given && !sandbox {
		b.d.add(join(b.path, "token"), b.node, "required: set token_env or token_file")
	}
	j := &Jira{
		URL:               url,
		Deployment:        b.choice("deployment", "deployment", DeploymentAuto, DeploymentAuto, DeploymentCloud, DeploymentDataCenter),
		Auth:              b.choice("auth", "auth", AuthBasic, AuthBasic, AuthBearer),
		Email:             b.str("email", ""),
		Token:             token,
		Project:           b.required("project"),
		IssueType:         b.str("issue_type", "Task"),
		AssigneeID:        b.str("assignee_id", ""),
		Labels:            d.labels(b),
		LabelsBySeverity:  d.labelsBySeverity(b),
		Priority:          d.priority(b),
		Summary:           b.template("summary", jiradest.DefaultSummary),
		Description:       b.template("description", jiradest.DefaultDescription),
		CustomFields:      d.customFields(b),
		Timeout:           b.duration("timeout", 30*time.Second, 0, maxTimeout),
		MaxConcurrency:    b.integer("max_concurrency", 4, 1),
		RequestsPerSecond: b.positive("requests_per_second", 5),
		Sync:              d.jiraSync(b.sub("sync")),
		SearchLag:         b.duration("search_lag", 0, 0, 10*time.Minute),
		Reopen:            b.choice("reopen", "reopen", ReopenTransition, ReopenTransition, ReopenNewIssue, ReopenOff),
		ReopenWindow:      b.duration("reopen_window", 0, 0, 100*365*24*time.Hour),
		CreateIfResolved:  b.boolean("create_if_resolved", true),
		IssuePer:          b.choice("issue_per", "issue_per", IssuePerAlert, IssuePerAlert, IssuePerGroup),
	}
	if j.Auth == AuthBasic && j.Email == "" && !sandbox {
		b.problem("email", "required when auth is basic (the user name on Data Center)")
	}
	b.done()
	return j
}

// SandboxURL as a Jira destination's url runs the in-memory sandbox.
const SandboxURL = "sandbox:"

// Sandbox reports whether the destination uses the in-process sandbox.
func (j *Jira) Sandbox() bool { return j.URL == SandboxURL }

// labels defaults to one label marking the issue as machine-made. An empty
// list is honoured: it means no labels.
func (d *decoder) labels(b *block) []string {
	items, ok := b.list("labels")
	if !ok {
		return []string{DefaultLabel}
	}
	return d.checkLabels(b.path, items)
}

// checkLabels refuses labels Jira would reject, and label templates that
// fail or render such a label for the sample alert, which would otherwise
// fail every delivery at run time. jira is the path of the jira block, which
// template names leave out.
func (d *decoder) checkLabels(jira string, items []item) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		l, ok := d.text(it.path, it.node)
		switch {
		case !ok:
		case l == "":
			d.add(it.path, it.node, "must not be empty")
		default:
			if err := jiradest.CheckLabel(strings.TrimPrefix(it.path, jira+"."), l); err != nil {
				d.add(it.path, it.node, "%v", err)
				continue
			}
			out = append(out, l)
		}
	}
	return out
}

func (d *decoder) labelsBySeverity(b *block) map[alert.Severity][]string {
	fields, ok := b.entries("labels_by_severity")
	if !ok {
		return nil
	}
	out := map[alert.Severity][]string{}
	for _, f := range fields {
		sev, ok := severityKey(d, f, out)
		if !ok {
			continue
		}
		items, _ := d.list(f.path, f.value)
		out[sev] = d.checkLabels(b.path, items)
	}
	return out
}

func (d *decoder) priority(b *block) map[alert.Severity]string {
	fields, ok := b.entries("priority")
	if !ok {
		return nil
	}
	out := map[alert.Severity]string{}
	for _, f := range fields {
		sev, ok := severityKey(d, f, out)
		if !ok {
			continue
		}
		if s := d.value(f); s != "" {
			out[sev] = s
		}
	}
	return out
}

// severityKey parses a map key as a severity. Keys differing only in case
// name the same severity, so they are duplicates.
func severityKey[V any](d *decoder, f field, seen map[alert.Severity]V) (alert.Severity, bool) {
	sev, err := alert.ParseSeverity(f.key)
	if err != nil {
		d.add(f.path, f.keyNode, "%v", err)
		return "", false
	}
	if _, dup := seen[sev]; dup {
		d.add(f.path, f.keyNode, "severity %s is given twice", sev)
		return "", false
	}
	return sev, true
}

// template reads a template and renders it over a sample alert: a
// misspelt field parses, and would otherwise fail every delivery.
func (b *block) template(key, def string) string {
	s := b.str(key, def)
	if _, err := jiradest.CheckTemplate(key, s); err != nil {
		b.problem(key, "%v", err)
	}
	return s
}

func (d *decoder) customFields(b *block) map[string]any {
	fields, ok := b.entries("custom_fields")
	if !ok {
		return nil
	}
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		out[f.key] = d.plain(f.path, f.value)
		// Strings are templates; the path says which string of a nested value failed.
		jiradest.CustomFieldStrings("custom_fields."+f.key, out[f.key], func(name, s string) {
			// Text without an action renders as itself; only templates are
			// worth a sample render, and a value of many plain strings
			// (one expanded by YAML aliases, say) must stay cheap.
			if !strings.Contains(s, "{{") {
				return
			}
			if _, err := jiradest.CheckTemplate(name, s); err != nil {
				d.add(join(b.path, name), f.value, "%v", err)
			}
		})
	}
	return out
}

func (d *decoder) jiraSync(b *block) JiraSync {
	s := JiraSync{
		Status:    syncMode(b, "status"),
		Assignee:  syncMode(b, "assignee"),
		Comments:  syncMode(b, "comments"),
		StatusMap: d.statusMap(b),
	}
	var given bool
	s.WebhookSecret, given = b.secret("webhook_secret")
	if s.TwoWay() && !given {
		// Without the secret anyone who can reach the webhook URL could
		// change alerts.
		b.d.add(join(b.path, "webhook_secret"), b.node,
			"required when any sync is two-way: set webhook_secret_env or webhook_secret_file")
	}
	b.done()
	return s
}

func syncMode(b *block, key string) SyncMode {
	return SyncMode(b.choice(key, "sync mode", string(SyncOff), string(SyncOff), string(SyncOneWay), string(SyncTwoWay)))
}

// statusMap defaults to the statuses of Jira's default workflow, so that
// turning status sync on works on a stock project.
func (d *decoder) statusMap(b *block) map[alert.Status]string {
	fields, ok := b.entries("status_map")
	if !ok {
		return map[alert.Status]string{
			alert.StatusOpen:     "To Do",
			alert.StatusTriaged:  "In Progress",
			alert.StatusResolved: "Done",
			alert.StatusClosed:   "Done",
		}
	}
	out := map[alert.Status]string{}
	for _, f := range fields {
		st, err := alert.ParseStatus(f.key)
		if err != nil {
			d.add(f.path, f.keyNode, "%v", err)
			continue
		}
		if _, dup := out[st]; dup {
			d.add(f.path, f.keyNode, "status %s is given twice", st)
			continue
		}
		if s := d.value(f); s != "" {
			out[st] = s
		}
	}
	return out
}

// value reads a map entry's value as required text.
func (d *decoder) value(f field) string {
	if f.value == nil {
		d.add(f.path, f.keyNode, "required")
		return ""
	}
	s, ok := d.text(f.path, f.value)
	if ok && s == "" {
		d.add(f.path, f.value, "must not be empty")
	}
	return s
}

package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/destination/jiradest"
	"github.com/alertbridge/alertbridge/ingest"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/lifecycle"
)

const templateUsage = `Usage: alertbridge template render --config FILE DESTINATION [--alert FILE]

Commands:
  render   print the Jira fields a destination's templates make for an alert

Run "alertbridge template render --help" for its arguments.
`

func templateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return subcommands("template", templateUsage, args, stdout, stderr, map[string]func([]string) int{
		"render": func(args []string) int { return templateRender(ctx, args, stdout, stderr) },
	})
}

func templateRender(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("template render", "template render --config FILE DESTINATION [--alert FILE] [--deployment cloud|datacenter]", `
Renders the templates of the Jira destination DESTINATION (summary,
description, labels, custom fields) and prints the fields of the create
request exactly as alertbridge would send them: the description in
Atlassian Document Format on Jira Cloud, in wiki markup on Data Center.
Nothing is sent. Without --alert the alert is check-config's sample: the
test alert with the labels, annotations and context of an Alertmanager
alert. With --alert FILE it is the alert in FILE, in the Panther schema
(as POST /api/v1/alerts takes it) or an Alertmanager or Grafana
notification, whose alerts are printed one after another. For a
destination with jira.issue_per: group it is a group's issue: the sample
group of two alerts, or the group of the notification in FILE.

The deployment is the destination's; with deployment: auto, Jira's
serverInfo is asked unless --deployment says it. Exit 1 when a template
fails for the alert.`, stdout, stderr)
	cfgPath := fs.configFlag()
	alertPath := fs.String("alert", "", "render for the alert in `FILE` instead of the sample")
	depFlag := fs.String("deployment", "", "render for Jira `KIND`, cloud or datacenter, instead of the destination's deployment")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.needArgs(1, "DESTINATION"); !ok {
		return code
	}
	var dep jira.Deployment
	if *depFlag != "" {
		if dep = deploymentOf(*depFlag); dep == "" {
			return fs.usageError("--deployment: want cloud or datacenter, not %q", *depFlag)
		}
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "alertbridge template render: "+format+"\n", a...)
		return 1
	}
	name := fs.args[0]
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", *cfgPath, err)
		return 1
	}
	d, ok := cfg.Destination(name)
	if !ok {
		return fail("no destination named %q in %s", name, *cfgPath)
	}
	if d.Jira == nil {
		return fail("%s is a %s destination; only Jira destinations have templates", name, d.Type)
	}
	grouped := d.Jira.IssuePer == config.IssuePerGroup
	alerts := []*alert.Alert{jiradest.SampleAlert(time.Now())}
	if grouped {
		alerts = []*alert.Alert{jiradest.SampleGroup(time.Now())}
	}
	if *alertPath != "" {
		body, err := os.ReadFile(*alertPath)
		if err != nil {
			return fail("%v", err)
		}
		if alerts, err = parseAlerts(body, time.Now(), grouped); err != nil {
			return fail("%s: %v", *alertPath, err)
		}
	}
	env := newJiraEnv(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer env.Close()
	n, err := env.notifier(cfg, *d)
	if err != nil {
		return fail("%v", err)
	}
	if dep == "" {
		c, _, err := env.client(d.Name, d.Jira)
		if err == nil {
			dctx, cancel := context.WithTimeout(ctx, d.Jira.Timeout)
			dep, err = c.Deployment(dctx)
			cancel()
		}
		if err != nil {
			return fail("%s: %v; say which with --deployment cloud or --deployment datacenter", name, err)
		}
	}
	for _, a := range alerts {
		fields, err := n.Fields(dep, a, jiradest.Marker(d.Name, a.AlertID))
		if err != nil {
			return fail("%s: alert %s: %v", name, a.AlertID, err)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(fields); err != nil {
			return fail("%v", err)
		}
		if _, err := stdout.Write(b.Bytes()); err != nil {
			return 1
		}
	}
	return 0
}

// parseAlerts reads an alert file as the HTTP API would: an Alertmanager or
// Grafana notification (it has alerts and a version), or one alert in the
// Panther schema. grouped makes a notification the alert standing for its
// group, as an issue per group has it.
func parseAlerts(body []byte, now time.Time, grouped bool) ([]*alert.Alert, error) {
	var probe struct {
		Version *string         `json:"version"`
		Alerts  json.RawMessage `json:"alerts"`
	}
	if json.Unmarshal(body, &probe) == nil && probe.Alerts != nil {
		parse := ingest.Alertmanager
		if probe.Version != nil && *probe.Version == "1" {
			parse = ingest.Grafana
		}
		nt, err := parse(body, now)
		if err != nil {
			return nil, err
		}
		out := make([]*alert.Alert, len(nt.Notices))
		firing := 0
		for i, n := range nt.Notices {
			out[i] = n.Alert
			if n.Resolved {
				out[i].Status = alert.StatusResolved
			} else {
				firing++
			}
		}
		if g := lifecycle.GroupOf(nt); grouped && g != nil {
			// Listed firing first, as the stored group lists them.
			slices.SortStableFunc(out, func(a, b *alert.Alert) int {
				return cmp.Compare(rank(a.Status), rank(b.Status))
			})
			return []*alert.Alert{lifecycle.NewGroupAlert(g, out[:min(len(out), lifecycle.MaxGroupListed)], len(out), firing, now)}, nil
		}
		return out, nil
	}
	a, err := ingest.Panther(body, now)
	if err != nil {
		return nil, err
	}
	return []*alert.Alert{a}, nil
}

// rank orders firing alerts before the others.
func rank(s alert.Status) int {
	if s.Firing() {
		return 0
	}
	return 1
}

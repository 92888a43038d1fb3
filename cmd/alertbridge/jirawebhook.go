package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/jira"
)

// webhookEvents are the Jira events the receiver acts on.
var webhookEvents = []string{"jira:issue_updated", "comment_created", "comment_updated"}

// jiraWebhook runs "jira-webhook register --config FILE DEST": it registers
// the destination's Jira webhook, or, when Jira refuses (the account is not
// an administrator), prints how to set it up by hand and exits 0.
func jiraWebhook(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return subcommands("jira-webhook", jiraWebhookUsage, args, stdout, stderr, map[string]func([]string) int{
		"register": func(args []string) int { return jiraWebhookRegister(ctx, args, stdout, stderr) },
	})
}

const jiraWebhookUsage = `Usage: alertbridge jira-webhook register --config FILE DESTINATION

Commands:
  register   register DESTINATION's Jira webhook, or print how to set it up by hand

Run "alertbridge jira-webhook register --help" for its flags.
`

func jiraWebhookRegister(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("jira-webhook register", "jira-webhook register --config FILE DESTINATION", `
Registers, in DESTINATION's Jira, the webhook that carries Jira's changes
back (DESTINATION is a destinations[].name in FILE with a two-way
jira.sync): server.public_url + /webhooks/jira/DESTINATION, for issue and
comment events of the destination's issues, signed with
jira.sync.webhook_secret. When Jira refuses (the account is no Jira
administrator) it prints the settings to enter by hand, and exits 0; it
exits 1 on other errors.`, stdout, stderr)
	cfgPath := fs.configFlag()
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.needArgs(1, "DESTINATION"); !ok {
		return code
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", *cfgPath, err)
		return 1
	}
	name := fs.args[0]
	d, ok := cfg.Destination(name)
	switch {
	case !ok:
		fmt.Fprintf(stderr, "alertbridge jira-webhook: no destination %q in %s\n", name, *cfgPath)
		return 1
	case d.Type != config.TypeJira || !d.Jira.Sync.TwoWay():
		fmt.Fprintf(stderr, "alertbridge jira-webhook: destination %q has no two-way sync, so it takes no Jira webhooks\n", name)
		return 1
	}
	w := jira.Webhook{
		Name:   "alertbridge " + name,
		URL:    cfg.Server.PublicURL + "/webhooks/jira/" + name,
		Events: webhookEvents,
		JQL:    webhookJQL(d.Jira),
		Secret: d.Jira.Sync.WebhookSecret.Value(),
	}
	env := newJiraEnv(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer env.Close()
	c, _, err := env.client(name, d.Jira)
	if err != nil {
		fmt.Fprintf(stderr, "alertbridge jira-webhook: %v\n", err)
		return 1
	}
	reg, err := c.RegisterWebhook(ctx, w)
	var je *jira.Error
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "registered the Jira webhook for %s: %s\n", name, reg.Self)
		fmt.Fprintf(stdout, "  url: %s\n  events: %s\n  jql: %s\n", w.URL, strings.Join(w.Events, ", "), w.JQL)
		return 0
	case errors.As(err, &je) && (je.Status == http.StatusForbidden || je.Status == http.StatusNotFound || je.Status == http.StatusMethodNotAllowed):
		// Not an administrator, or no webhook API here: the user can still
		// set the webhook up by hand (or ask an administrator to).
		fmt.Fprintf(stdout, "Jira did not register the webhook (%d: the account needs Jira administrator rights).\n", je.Status)
		fmt.Fprintf(stdout, "Ask a Jira administrator to create it under System → WebHooks with:\n")
		fmt.Fprintf(stdout, "  name:   %s\n  url:    %s\n  events: %s\n  jql:    %s\n", w.Name, w.URL, strings.Join(w.Events, ", "), w.JQL)
		fmt.Fprintf(stdout, "  secret: the value of %s (jira.sync.webhook_secret of %s); Jira signs each delivery with it (X-Hub-Signature)\n",
			orUnknown(d.Jira.Sync.WebhookSecret.Source()), name)
		return 0
	default:
		fmt.Fprintf(stderr, "alertbridge jira-webhook: register for %s: %v\n", name, err)
		return 1
	}
}

// webhookJQL limits the webhook to alertbridge's issues: the project, and
// the first configured label (every issue alertbridge creates carries all).
func webhookJQL(j *config.Jira) string {
	q := fmt.Sprintf("project = %s", jqlQuote(j.Project))
	if len(j.Labels) > 0 {
		q += fmt.Sprintf(" AND labels = %s", jqlQuote(j.Labels[0]))
	}
	return q
}

// jqlQuote leaves plain keys and labels bare and quotes anything else.
func jqlQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func orUnknown(s string) string {
	if s == "" {
		return "the webhook secret"
	}
	return s
}

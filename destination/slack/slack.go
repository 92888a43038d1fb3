// Package slack posts alerts to a Slack incoming webhook.
package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
)

// Config configures one Slack destination.
type Config struct {
	WebhookURL string // a credential: never logged or put in errors
	Timeout    time.Duration
	PublicURL  string
	Client     *http.Client
}

// Notifier posts alerts to Slack.
type Notifier struct{ cfg Config }

// New returns a Slack notifier.
func New(cfg Config) *Notifier {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: destination.Transport()}
	}
	return &Notifier{cfg: cfg}
}

// Message renders an alert as a Slack message in mrkdwn. The title leads
// to the alert's page in alertbridge when there is a public URL, and where
// the alert came from is linked on its own, as Source.
func Message(a *alert.Alert, publicURL string) map[string]any {
	var b strings.Builder
	title := destination.PageURL(publicURL, a.AlertID)
	if title == "" {
		title = a.Link
	}
	if title != "" {
		fmt.Fprintf(&b, "*[%s] <%s|%s>*", a.Severity, title, escape(a.Title))
	} else {
		fmt.Fprintf(&b, "*[%s] %s*", a.Severity, escape(a.Title))
	}
	if a.Description != "" {
		fmt.Fprintf(&b, "\n%s", escape(a.Description))
	}
	if a.Link != "" && a.Link != title {
		fmt.Fprintf(&b, "\nSource: <%s>", a.Link)
	}
	fmt.Fprintf(&b, "\nAlert ID: `%s`", escape(a.AlertID))
	if a.ID != "" {
		fmt.Fprintf(&b, "  Rule: `%s`", escape(a.ID))
	}
	if a.Runbook != "" {
		fmt.Fprintf(&b, "\nRunbook: %s", escape(a.Runbook))
	}
	return map[string]any{"text": b.String()}
}

// escape keeps Slack from reading text as markup, as its docs ask.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Notify posts the alert once.
func (n *Notifier) Notify(ctx context.Context, note destination.Notification) (destination.Receipt, error) {
	body, err := json.Marshal(Message(note.Alert, n.cfg.PublicURL))
	if err != nil {
		return destination.Receipt{}, destination.Permanent(fmt.Errorf("encode message: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	resp, snippet, err := destination.PostJSON(ctx, n.cfg.Client, n.cfg.WebhookURL, body, nil)
	if err != nil {
		// net/http's error quotes the URL, which is the secret: say less.
		return destination.Receipt{}, fmt.Errorf("post to Slack: %s", transportReason(err))
	}
	return destination.Receipt{}, destination.ClassifyHTTP("Slack", resp, snippet)
}

func transportReason(err error) string {
	switch {
	case strings.Contains(err.Error(), "deadline exceeded"), strings.Contains(err.Error(), "Timeout"):
		return "timed out"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "no such host"):
		return "host not found"
	}
	return "request failed"
}

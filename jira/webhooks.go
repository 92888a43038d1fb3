package jira

import (
	"context"
	"net/http"
)

// Webhook is an admin webhook registration (POST /rest/webhooks/1.0/webhook,
// on Cloud and Data Center alike: Cloud's v3 dynamic webhooks are for
// Connect and OAuth apps only, not for an API token).
type Webhook struct {
	Name   string   `json:"name"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	// JQL limits issue events to matching issues.
	JQL string `json:"-"`
	// Secret makes Jira sign deliveries (X-Hub-Signature: sha256=…).
	Secret string `json:"secret,omitempty"`
}

// RegisteredWebhook is Jira's answer to a registration.
type RegisteredWebhook struct {
	Self string `json:"self"`
	Name string `json:"name"`
}

// RegisterWebhook registers w. It needs Jira administrator rights: without
// them Jira answers 401, 403 or 404, as an *Error.
func (c *Client) RegisterWebhook(ctx context.Context, w Webhook) (*RegisteredWebhook, error) {
	d, err := c.Deployment(ctx)
	if err != nil {
		return nil, err
	}
	in := struct {
		Webhook
		Filters     map[string]string `json:"filters,omitempty"`
		ExcludeBody bool              `json:"excludeBody"`
	}{Webhook: w}
	if w.JQL != "" {
		in.Filters = map[string]string{"issue-related-events-section": w.JQL}
	}
	var out RegisteredWebhook
	if err := c.do(ctx, call{kind: KindWebhookRegister, method: http.MethodPost, path: "/rest/webhooks/1.0/webhook", in: in, out: &out, dep: d}); err != nil {
		return nil, err
	}
	return &out, nil
}

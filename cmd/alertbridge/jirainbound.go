package main

import (
	"fmt"
	"log/slog"

	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/jirasync/inbound"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

// jiraWebhooks builds the receiver of Jira webhooks for the destinations
// with two-way sync; nil when there are none, so the route answers 404.
func jiraWebhooks(cfg *config.Config, jenv *jiraEnv, svc *lifecycle.Service, st store.Store, logger *slog.Logger) (*inbound.Handler, error) {
	var dests []*inbound.Destination
	for _, d := range cfg.Destinations {
		if d.Type != config.TypeJira || !d.Jira.Sync.TwoWay() {
			continue
		}
		c, _, err := jenv.client(d.Name, d.Jira)
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", d.Name, err)
		}
		dests = append(dests, &inbound.Destination{Name: d.Name, Secret: d.Jira.Sync.WebhookSecret.Value(), Sync: d.Jira.Sync, Jira: c})
	}
	if len(dests) == 0 {
		return nil, nil
	}
	return inbound.New(inbound.Config{Service: svc, Store: st, Destinations: dests, Logger: logger}), nil
}

package main

import (
	"fmt"
	"log/slog"

	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/jirasync"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/store"
)

// newSyncer builds the Jira sync for the destinations that sync anything.
// It shares each destination's client with the notifier.
func newSyncer(cfg *config.Config, jenv *jiraEnv, l *jobs.Layer, st store.Store, logger *slog.Logger) (*jirasync.Syncer, error) {
	var dests []jirasync.Destination
	for _, d := range cfg.Destinations {
		if d.Type != config.TypeJira || d.Jira == nil {
			continue
		}
		c, _, err := jenv.client(d.Name, d.Jira)
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", d.Name, err)
		}
		dests = append(dests, jirasync.Destination{Name: d.Name, Client: c, Sync: d.Jira.Sync, Reopen: d.Jira.Reopen})
	}
	return jirasync.New(l, st, dests, jirasync.Options{Logger: logger}), nil
}

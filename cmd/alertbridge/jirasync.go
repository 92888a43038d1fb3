package main

import (
	"fmt"

	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/jirasync"
)

// syncDestinations are the Jira destinations as sync sees them; each shares
// its client with the notifier.
func syncDestinations(cfg *config.Config, jenv *jiraEnv) ([]jirasync.Destination, error) {
	var dests []jirasync.Destination
	for _, d := range cfg.Destinations {
		if d.Type != config.TypeJira || d.Jira == nil {
			continue
		}
		c, _, err := jenv.client(d.Name, d.Jira)
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", d.Name, err)
		}
		dests = append(dests, jirasync.Destination{Name: d.Name, Client: c, Sync: d.Jira.Sync,
			Reopen: d.Jira.Reopen, ReopenWindow: d.Jira.ReopenWindow, Group: d.Jira.IssuePer == config.IssuePerGroup})
	}
	return dests, nil
}

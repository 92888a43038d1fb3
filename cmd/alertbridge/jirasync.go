package main

import (
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/jirasync"
	"github.com/alertbridge/alertbridge/store"
)

// newSyncer builds the outbound Jira sync for the destinations that sync
// anything. Its clients share each site's rate limit with the notifiers.
func newSyncer(cfg *config.Config, jenv *jiraEnv, st store.Store, logger *slog.Logger) (*jirasync.Syncer, error) {
	var dests []jirasync.Destination
	for _, d := range cfg.Destinations {
		if d.Type != config.TypeJira || d.Jira == nil {
			continue
		}
		c, _, err := jenv.client(d.Jira)
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", d.Name, err)
		}
		dests = append(dests, jirasync.Destination{Name: d.Name, Client: c, Sync: d.Jira.Sync})
	}
	return jirasync.New(st, dests, jirasync.Options{Logger: logger}), nil
}

// withSync adds the sync worker and queue to the other job kinds' hooks.
func withSync(register func(*river.Workers), queues map[string]river.QueueConfig, s *jirasync.Syncer) (func(*river.Workers), map[string]river.QueueConfig) {
	out := map[string]river.QueueConfig{jirasync.Queue: jirasync.QueueConfig()}
	for k, v := range queues {
		out[k] = v
	}
	return func(w *river.Workers) {
		if register != nil {
			register(w)
		}
		s.Register(w)
	}, out
}

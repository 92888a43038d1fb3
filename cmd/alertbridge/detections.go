package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/pyrules"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/source/atlassian"
	"github.com/alertbridge/alertbridge/store"
)

// loadRules loads detections.paths (relative to the working directory) into
// a pool of Python workers. A rule set that does not load is an error listing
// every problem: running with some rules silently missing would be a gap
// nobody sees. The caller closes the set.
func loadRules(cfg *config.Config) (*ruleengine.RuleSet, error) {
	if len(cfg.Detections.Paths) == 0 {
		return &ruleengine.RuleSet{}, nil // no rules: events are accepted and counted
	}
	d := cfg.Detections
	opts := ruleengine.Options{Pool: pyrules.Config{
		Python: d.Python, Workers: d.Workers, CallTimeout: d.CallTimeout, Memory: int64(d.WorkerMemoryMB) << 20,
	}}
	rs, err := ruleengine.Load(context.Background(), opts, d.Paths...)
	if err != nil {
		return nil, fmt.Errorf("detections.paths: the rules do not load:\n%w", err)
	}
	return rs, nil
}

// sourceJobs are the pollers' jobs: the worker and one periodic job per
// source. Pollers join once the alert service exists.
func sourceJobs(cfg *config.Config) (*atlassian.Jobs, []*river.PeriodicJob) {
	jobs := atlassian.NewJobs()
	var periodic []*river.PeriodicJob
	for _, s := range cfg.Sources {
		if s.Type == config.SourceAtlassianAudit {
			periodic = append(periodic, atlassian.PeriodicJob(s.Name, s.PollInterval))
		}
	}
	return jobs, periodic
}

func addPollers(cfg *config.Config, jobs *atlassian.Jobs, st store.Store, svc *lifecycle.Service, p *detection.Pipeline, logger *slog.Logger) {
	for _, s := range cfg.Sources {
		if s.Type != config.SourceAtlassianAudit {
			continue
		}
		jobs.Add(atlassian.NewPoller(atlassian.Config{
			Name: s.Name, OrgID: s.OrgID, APIKey: s.APIKey.Value(), BaseURL: s.BaseURL, Endpoint: s.Endpoint,
			NoEventsAlertAfter: s.NoEventsAlertAfter, APIKeyExpires: s.APIKeyExpires, Logger: logger,
		}, st, svc, p))
	}
}

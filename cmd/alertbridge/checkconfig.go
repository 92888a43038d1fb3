package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/alertbridge/alertbridge/config"
)

func checkConfig(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	online := fs.Bool("online", false, "also ask each Jira whether the project, issue type, priorities and fields exist and are on the create screen")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "alertbridge check-config: --config FILE is required")
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", *cfgPath, err)
		return 1
	}
	rules, err := loadRules(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", *cfgPath, err)
		return 1
	}
	if *online {
		env := newJiraEnv(slog.New(slog.NewTextHandler(io.Discard, nil)))
		problems := checkJiraOnline(ctx, cfg, env)
		env.Close()
		if len(problems) > 0 {
			fmt.Fprintf(stderr, "%s: %d problems found online:\n", *cfgPath, len(problems))
			for _, p := range problems {
				fmt.Fprintln(stderr, "  "+p)
			}
			return 1
		}
	}
	fmt.Fprintf(stdout, "%s: ok (%d destinations, %d sources, storage %s)\n",
		*cfgPath, len(cfg.Destinations), len(cfg.Sources), cfg.Storage.Driver())
	if len(cfg.Detections.Paths) > 0 {
		fmt.Fprintf(stdout, "detections: %d rules loaded\n", len(rules.Rules()))
	}
	if len(cfg.Server.APITokens) == 0 {
		fmt.Fprintln(stdout, "warning: no server.api_tokens: every /api/ request will be refused")
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stdout, "warning: "+w.Error())
	}
	return 0
}

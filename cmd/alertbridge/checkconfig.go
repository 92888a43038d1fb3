package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/alertbridge/alertbridge/config"
)

func checkConfig(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("check-config", "check-config --config FILE [--online]", `
Validates FILE and the detection rules under its detections.paths, listing
every problem at once with its key path and line. Exit 0 when it is valid
(warnings are printed, and do not fail it), 1 with the problems otherwise.`, stdout, stderr)
	cfgPath := fs.configFlag()
	online := fs.Bool("online", false, "also ask each Jira whether the project, issue type, priorities and fields exist and are on the create screen")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.needArgs(0, ""); !ok {
		return code
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
	defer rules.Close()
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

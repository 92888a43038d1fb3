package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/alertbridge/alertbridge/config"
)

func checkConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
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
	fmt.Fprintf(stdout, "%s: ok (%d destinations, %d sources, storage %s)\n",
		*cfgPath, len(cfg.Destinations), len(cfg.Sources), cfg.Storage.Driver())
	if len(cfg.Server.APITokens) == 0 {
		fmt.Fprintln(stdout, "warning: no server.api_tokens: every /api/ request will be refused")
	}
	return 0
}

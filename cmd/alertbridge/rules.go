package main

import (
	"context"
	"fmt"
	"io"

	"github.com/alertbridge/alertbridge/pyrules"
	"github.com/alertbridge/alertbridge/ruleengine"
)

const rulesUsage = `Usage: alertbridge rules test DIR...

Commands:
  test   run the unit tests embedded in detection rules

Run "alertbridge rules test --help" for its arguments.
`

func rules(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return subcommands("rules", rulesUsage, args, stdout, stderr, map[string]func([]string) int{
		"test": func(args []string) int { return rulesTest(ctx, args, stdout, stderr) },
	})
}

func rulesTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("rules test", "rules test DIR...", `
Loads the detections under each DIR (rules, global helpers and data models
alike, as detections.paths does; for a panther-analysis checkout give its
rules/, global_helpers/ and data_models/) and runs the unit tests the rules
carry, with their Mocks, on python3, disabled rules included. It reports each
rule on its own in panther_analysis_tool test's shape, then the failed rules
with their reasons and a summary line, and exits 1 when a test fails or a
rule does not load.`, stdout, stderr)
	python := fs.String("python", "", "the python3 to run the rules with (default: python3 on PATH)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if len(fs.args) == 0 {
		return fs.usageError("missing DIR")
	}
	sum, err := ruleengine.RunTests(ctx, stdout, ruleengine.Options{Pool: pyrules.Config{Python: *python}}, fs.args...)
	if err != nil {
		fmt.Fprintln(stderr, "alertbridge rules test:", err)
		return 1
	}
	if sum.Failed() {
		return 1
	}
	return 0
}

package main

import (
	"context"
	"fmt"
	"io"

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
alike, as detections.paths does) and runs the unit tests the rules carry,
disabled rules included. It prints a line per test and a summary, and exits
1 when a test fails or a rule does not load.`, stdout, stderr)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if len(fs.args) == 0 {
		return fs.usageError("missing DIR")
	}
	failed, err := ruleengine.RunTests(ctx, stdout, fs.args...)
	if err != nil {
		fmt.Fprintln(stderr, "alertbridge rules test:", err)
		return 1
	}
	if failed > 0 {
		return 1
	}
	return 0
}

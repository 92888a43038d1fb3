// Command alertbridge turns security detections into Jira issues and keeps
// both in sync. Run "alertbridge help" for its commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `alertbridge turns security detections into Jira issues and keeps both in sync.

Usage:
  alertbridge serve --config FILE            run the service (HTTP API, workers, pollers)
  alertbridge check-config --config FILE     validate; exit 0, or 1 with every problem listed
  alertbridge send-test --config FILE DEST   send a test alert to one destination and report the result
  alertbridge rules test DIR...              run the unit tests embedded in detection rules
  alertbridge jira-webhook register --config FILE DEST
                                             register DEST's Jira webhook, or print how to set it up by hand
  alertbridge jira-sandbox --listen ADDR     run the in-memory Jira (--deployment, --webhook-url, --webhook-secret-env)
  alertbridge version                        print the version

Run "alertbridge COMMAND -h" for a command's flags.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "check-config":
		return checkConfig(ctx, args[1:], stdout, stderr)
	case "send-test":
		return sendTest(ctx, args[1:], stdout, stderr)
	case "jira-webhook":
		return jiraWebhook(ctx, args[1:], stdout, stderr)
	case "jira-sandbox":
		return jiraSandbox(ctx, args[1:], stdout, stderr)
	case "rules":
		return rules(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "alertbridge", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "alertbridge: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

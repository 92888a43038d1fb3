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
  alertbridge send-test --config FILE DESTINATION
                                             send a test alert to one destination and report the result
  alertbridge rules test DIR...              run the unit tests embedded in detection rules
  alertbridge jira-webhook register --config FILE DESTINATION
                                             register a destination's Jira webhook, or print how to set it up by hand
  alertbridge jira-sandbox --listen ADDR     run the in-memory Jira (--deployment, --webhook-url, --webhook-secret-env)
  alertbridge template render --config FILE DESTINATION [--alert FILE]
                                             print the Jira fields a destination's templates make for an alert
  alertbridge hash-password < PASSWORD       print the bcrypt hash of a console user's password
  alertbridge version                        print the version, revision, build date and Go version

Run "alertbridge help COMMAND" or "alertbridge COMMAND --help" for a command's arguments and flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code: 0, 1 when
// the command failed, 2 when the command line is wrong.
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
	case "template":
		return templateCmd(ctx, args[1:], stdout, stderr)
	case "version":
		return versionCmd(args[1:], stdout, stderr)
	case "hash-password":
		return hashPassword(ctx, args[1:], os.Stdin, stdout, stderr)
	case "-version", "--version":
		// The habit of Prometheus, Alertmanager and Grafana, which all
		// answer --version: no further arguments are looked at.
		printVersion(stdout, build)
		return 0
	case "help", "-h", "-help", "--help":
		// "help COMMAND" is "COMMAND --help", so each command's usage is
		// written once, with its flags.
		if len(args) > 1 && args[1] != "help" && args[1][0] != '-' {
			return run(ctx, append(args[1:2:2], "--help"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "alertbridge: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

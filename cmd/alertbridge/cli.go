package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// cmdFlags is one command's flags together with the usage that documents
// its arguments, so that the two cannot drift apart. Help that was asked for
// goes to stdout with exit 0 ("alertbridge serve --help | less" works, and
// scripts can probe for a command); a usage mistake goes to stderr with
// exit 2, the code flag and the shells use for it.
type cmdFlags struct {
	*flag.FlagSet
	name     string // "send-test", "rules test"
	synopsis string // what follows "alertbridge " on the usage line
	about    string
	stdout   io.Writer
	stderr   io.Writer
	args     []string // the positional arguments, once parsed
	config   *string  // --config FILE, when the command takes it (configFlag)
}

func newCmdFlags(name, synopsis, about string, stdout, stderr io.Writer) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// flag would print its own message and a single-dash flag list; parse
	// prints the message with the command's name and the usage below.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, name: name, synopsis: synopsis, about: about, stdout: stdout, stderr: stderr}
}

// configFlag declares --config FILE for a command that reads the
// configuration; parse then requires it.
func (c *cmdFlags) configFlag() *string {
	c.config = c.String("config", "", "read the configuration from `FILE` (YAML)")
	return c.config
}

// parse reads flags and positional arguments in any order, so that
// "send-test sec-jira --config FILE" works as well as the documented order;
// "--" ends the flags. When it returns false the command ends with the
// code: 0 after --help or -h, 2 after a mistake.
func (c *cmdFlags) parse(args []string) (int, bool) {
	if code, ok := c.parseArgs(args); !ok {
		return code, false
	}
	if c.config != nil && *c.config == "" {
		return c.usageError("--config FILE is required"), false
	}
	return 0, true
}

func (c *cmdFlags) parseArgs(args []string) (int, bool) {
	for {
		err := c.FlagSet.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.printUsage(c.stdout)
			return 0, false
		}
		if err != nil {
			return c.usageError("%v", err), false
		}
		rest := c.FlagSet.Args()
		if len(rest) == 0 {
			return 0, true
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			c.args = append(c.args, rest...)
			return 0, true
		}
		c.args = append(c.args, rest[0])
		args = rest[1:]
	}
}

// usageError reports a mistake in the command line, with the usage that
// says how to do it right, and returns the exit code for it.
func (c *cmdFlags) usageError(format string, a ...any) int {
	fmt.Fprintf(c.stderr, "alertbridge %s: %s\n\n", c.name, fmt.Sprintf(format, a...))
	c.printUsage(c.stderr)
	return 2
}

// needArgs checks the number of positional arguments; names is how the
// usage line calls them, for the message.
func (c *cmdFlags) needArgs(n int, names string) (int, bool) {
	switch {
	case len(c.args) < n:
		return c.usageError("missing %s", names), false
	case len(c.args) > n:
		return c.usageError("unexpected argument %q", c.args[n]), false
	}
	return 0, true
}

func (c *cmdFlags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: alertbridge %s\n\n%s\n", c.synopsis, strings.TrimSpace(c.about))
	fmt.Fprintln(w, "\nFlags:")
	c.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" {
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, usage)
	})
	fmt.Fprintf(w, "  -h, --help\n      print this help\n")
}

// subcommands dispatches a command that is a group ("rules test",
// "jira-webhook register"): help for the group exits 0, a missing or
// unknown subcommand is a usage error.
func subcommands(group, usage string, args []string, stdout, stderr io.Writer, subs map[string]func([]string) int) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "alertbridge %s: missing command\n\n%s", group, usage)
		return 2
	}
	if run, ok := subs[args[0]]; ok {
		return run(args[1:])
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "alertbridge %s: unknown command %q\n\n%s", group, args[0], usage)
	return 2
}

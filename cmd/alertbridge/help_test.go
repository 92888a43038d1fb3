package main

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb strings.Builder
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// helpSynopses is every command with the usage line its help must start
// with: the arguments a user has to give are on it.
var helpSynopses = map[string]string{
	"serve":                 "serve --config FILE",
	"check-config":          "check-config --config FILE",
	"send-test":             "send-test --config FILE DESTINATION",
	"rules test":            "rules test DIR...",
	"jira-webhook register": "jira-webhook register --config FILE DESTINATION",
	"jira-sandbox":          "jira-sandbox [--listen ADDR]",
	"template render":       "template render --config FILE DESTINATION",
	"version":               "version",
	"hash-password":         "hash-password < PASSWORD",
}

func TestHelpEveryCommand(t *testing.T) {
	for cmd, synopsis := range helpSynopses {
		for _, h := range []string{"--help", "-h", "-help"} {
			args := append(strings.Fields(cmd), h)
			code, out, errOut := runCLI(args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage: alertbridge "+synopsis) {
				t.Errorf("%s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
			}
			// Every flag the usage line names is explained below it.
			for _, f := range strings.Fields(out[:strings.Index(out, "\n")]) {
				if name := strings.Trim(f, "[]"); strings.HasPrefix(name, "--") && !strings.Contains(out, "\n  "+name) {
					t.Errorf("%s: %s is on the usage line but not among the flags:\n%s", cmd, name, out)
				}
			}
		}
		// "help COMMAND" answers too; for a group, with the group's usage.
		group := strings.Fields(cmd)[0]
		if code, out, _ := runCLI("help", group); code != 0 || !strings.HasPrefix(out, "Usage: alertbridge "+synopsis) {
			t.Errorf("help %s: exit %d\n%s", group, code, out)
		}
	}
}

// TestHelpListsEveryCommand keeps the top-level help, the dispatch and
// this test's list in step: a new command without a tested help fails.
func TestHelpListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, errOut := runCLI(args...)
		if code != 0 || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		var listed []string
		for _, line := range strings.Split(out, "\n") {
			synopsis, ok := strings.CutPrefix(line, "  alertbridge ")
			if !ok {
				continue
			}
			synopsis, _, _ = strings.Cut(synopsis, "  ") // then the description
			// The command's name is its leading words: "rules test DIR...".
			var name []string
			for _, w := range strings.Fields(synopsis) {
				if strings.Trim(w, "abcdefghijklmnopqrstuvwxyz-") != "" || w[0] == '-' {
					break
				}
				name = append(name, w)
			}
			listed = append(listed, strings.Join(name, " "))
		}
		var want []string
		for cmd := range helpSynopses {
			want = append(want, cmd)
		}
		slices.Sort(listed)
		slices.Sort(want)
		if !slices.Equal(listed, want) {
			t.Fatalf("%v lists %v; the help tests cover %v", args, listed, want)
		}
	}
}

func TestHelpUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string // on stderr, before the usage
	}{
		{nil, "Usage:"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"-version-please"}, "unknown command"},
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"serve"}, "--config FILE is required"},
		{[]string{"serve", "--config"}, "flag needs an argument: -config"},
		{[]string{"serve", "--config", "x.yaml", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"serve", "--config", "x.yaml", "extra"}, `unexpected argument "extra"`},
		{[]string{"serve", "--config", "x.yaml", "--log-format", "xml"}, "--log-format: want json or text"},
		{[]string{"check-config"}, "--config FILE is required"},
		{[]string{"send-test", "--config", "x.yaml"}, "missing DESTINATION"},
		{[]string{"send-test", "--config", "x.yaml", "a", "b"}, `unexpected argument "b"`},
		{[]string{"send-test", "a"}, "--config FILE is required"},
		{[]string{"rules"}, "missing command"},
		{[]string{"rules", "run"}, `unknown command "run"`},
		{[]string{"rules", "test"}, "missing DIR"},
		{[]string{"rules", "test", "--bogus", "rules/"}, "flag provided but not defined: -bogus"},
		{[]string{"jira-webhook"}, "missing command"},
		{[]string{"jira-webhook", "register", "--config", "x.yaml"}, "missing DESTINATION"},
		{[]string{"jira-sandbox", "--deployment", "server"}, "--deployment: want cloud or datacenter"},
		{[]string{"jira-sandbox", "extra"}, `unexpected argument "extra"`},
		{[]string{"version", "--short"}, "flag provided but not defined: -short"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	} {
		code, out, errOut := runCLI(tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.msg) || !strings.Contains(errOut, "Usage:") {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s", tc.args, code, out, errOut)
		}
	}
}

// Flags may follow the arguments, and "--" lets an argument look like a
// flag; both reach the command itself (here: a config that does not exist).
func TestHelpArgumentOrder(t *testing.T) {
	for _, args := range [][]string{
		{"send-test", "--config", "/nonexistent.yaml", "sec-jira"},
		{"send-test", "sec-jira", "--config", "/nonexistent.yaml"},
		{"send-test", "--config", "/nonexistent.yaml", "--", "-sec-jira"},
	} {
		if code, _, errOut := runCLI(args...); code != 1 || !strings.Contains(errOut, "/nonexistent.yaml") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
	// The complaint of issue 10: "stat --help: no such file".
	if code, _, errOut := runCLI("rules", "test", "rules/", "--help"); code != 0 || errOut != "" {
		t.Errorf("rules test rules/ --help: exit %d, stderr %q", code, errOut)
	}
}

// The exit codes above are the process's: main passes run's code to
// os.Exit.
func TestHelpBinaryExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"rules", "test", "--help"}, 0},
		{[]string{"send-test", "-h"}, 0},
		{[]string{"--help"}, 0},
		{[]string{"send-test"}, 2},
		{[]string{"nope"}, 2},
	} {
		code, out, errOut := runBin(t, "", tc.args...)
		if code != tc.code || (code == 0) != (out != "") || (code == 0) != (errOut == "") {
			t.Errorf("%q: exit %d (want %d), stdout %q, stderr %q", tc.args, code, tc.code, out, errOut)
		}
	}
}

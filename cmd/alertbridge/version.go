package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Stamped by scripts/build with -ldflags "-X main.version=... -X
// main.revision=... -X main.buildDate=...". Left empty, they come from what
// the Go toolchain records in every binary, so that a plain "go build" or
// "go install ...@v1.2.3" still tells which code it runs.
var (
	version   string
	revision  string
	buildDate string
)

// build is this binary's identity, for "alertbridge version" and
// alertbridge_build_info.
var build = resolveBuild(version, revision, buildDate, debug.ReadBuildInfo)

func init() {
	// The Jira User-Agent and the start-up log line read version: they
	// must say what "alertbridge version" says.
	version = build.Version
}

type buildInfo struct {
	Version  string
	Revision string
	Date     string
	// DateIsCommit: no date was stamped, and Date is the commit's time,
	// the only date the toolchain records.
	DateIsCommit bool
	Modified     bool // built from a working tree with uncommitted changes
	GoVersion    string
	Platform     string
}

func resolveBuild(ldVersion, ldRevision, ldDate string, read func() (*debug.BuildInfo, bool)) buildInfo {
	b := buildInfo{
		Version: ldVersion, Revision: ldRevision, Date: ldDate,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	bi, ok := read()
	if ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Revision == "" {
					b.Revision = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date, b.DateIsCommit = s.Value, true
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

func printVersion(w io.Writer, b buildInfo) {
	rev, date := b.Revision, b.Date
	if b.Modified {
		rev += " (modified)"
	}
	if b.DateIsCommit {
		date += " (commit time)"
	}
	fmt.Fprintf(w, "alertbridge %s\n  revision:   %s\n  build date: %s\n  go version: %s\n  platform:   %s\n",
		b.Version, rev, date, b.GoVersion, b.Platform)
}

func versionCmd(args []string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("version", "version", `
Prints the version, the revision (git commit), the build date and the Go
version this binary was built with; --version and -version do the same.
Binaries from scripts/build carry what was stamped at build time; others
what the Go toolchain recorded (for "go build" in a git checkout, the
commit and its time).`, stdout, stderr)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.needArgs(0, ""); !ok {
		return code
	}
	printVersion(stdout, build)
	return 0
}

// buildInfoCollector is alertbridge_build_info, the Prometheus habit: a
// constant 1 whose labels say which build runs, for a dashboard to show and
// for an alert to catch replicas on different versions.
// collectors.NewBuildInfoCollector has no revision or build date.
func buildInfoCollector(b buildInfo) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "alertbridge_build_info",
		Help: "A metric with a constant '1' value labeled by the version, revision, build date and Go version alertbridge was built from.",
		ConstLabels: prometheus.Labels{
			"version": b.Version, "revision": b.Revision, "build_date": b.Date,
			"goversion": b.GoVersion, "goos": runtime.GOOS, "goarch": runtime.GOARCH,
		},
	})
	g.Set(1)
	return g
}

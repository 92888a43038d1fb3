package main

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertbridge/alertbridge/internal/testdb"
)

func TestVersionResolve(t *testing.T) {
	vcs := func(main string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/alertbridge/alertbridge", Version: main}}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	const rev = "fcdafd6e0c1b9b1e8c2f3a4b5c6d7e8f90a1b2c3"
	for _, tc := range []struct {
		name          string
		ld            [3]string // version, revision, buildDate
		read          func() (*debug.BuildInfo, bool)
		want          buildInfo
		firstLine     string
		revLine, date string
	}{
		{
			name: "stamped by scripts/build: the stamp wins over the toolchain's record",
			ld:   [3]string{"v1.2.0-3-gfcdafd6-dirty", rev, "2026-01-02T03:04:05Z"},
			read: vcs("v1.2.1-0.20260101000000-fcdafd6e0c1b+dirty", "vcs.revision", "0000", "vcs.time", "2026-01-01T00:00:00Z", "vcs.modified", "true"),
			want: buildInfo{Version: "v1.2.0-3-gfcdafd6-dirty", Revision: rev, Date: "2026-01-02T03:04:05Z", Modified: true},
		},
		{
			name: "go build in a git checkout: the commit and its time",
			read: vcs("v0.0.0-20260101000000-fcdafd6e0c1b", "vcs", "git", "vcs.revision", rev, "vcs.time", "2026-01-01T00:00:00Z", "vcs.modified", "false"),
			want: buildInfo{Version: "v0.0.0-20260101000000-fcdafd6e0c1b", Revision: rev, Date: "2026-01-01T00:00:00Z", DateIsCommit: true},
		},
		{
			name: "go install ...@v1.3.0: the module version, no VCS",
			read: vcs("v1.3.0"),
			want: buildInfo{Version: "v1.3.0", Revision: "unknown", Date: "unknown"},
		},
		{
			name: "go build -buildvcs=false",
			read: vcs("(devel)"),
			want: buildInfo{Version: "dev", Revision: "unknown", Date: "unknown"},
		},
		{
			name: "no build information at all",
			read: none,
			want: buildInfo{Version: "dev", Revision: "unknown", Date: "unknown"},
		},
		{
			name: "only the version stamped",
			ld:   [3]string{"v2.0.0", "", ""},
			read: vcs("(devel)", "vcs.revision", rev, "vcs.time", "2026-01-01T00:00:00Z"),
			want: buildInfo{Version: "v2.0.0", Revision: rev, Date: "2026-01-01T00:00:00Z", DateIsCommit: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resolveBuild(tc.ld[0], tc.ld[1], tc.ld[2], tc.read)
			tc.want.GoVersion, tc.want.Platform = runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			var out strings.Builder
			printVersion(&out, got)
			lines := strings.Split(out.String(), "\n")
			if lines[0] != "alertbridge "+tc.want.Version || !strings.HasPrefix(lines[1], "  revision:   "+tc.want.Revision) ||
				!strings.HasPrefix(lines[2], "  build date: "+tc.want.Date) || lines[3] != "  go version: "+runtime.Version() {
				t.Fatalf("printed:\n%s", out.String())
			}
			if strings.Contains(lines[1], "(modified)") != tc.want.Modified || strings.Contains(lines[2], "(commit time)") != tc.want.DateIsCommit {
				t.Fatalf("printed:\n%s", out.String())
			}
		})
	}
}

func TestVersionBuildInfoMetric(t *testing.T) {
	b := buildInfo{Version: "v1.2.3", Revision: "abc", Date: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8"}
	reg := prometheus.NewRegistry()
	reg.MustRegister(buildInfoCollector(b))
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "alertbridge_build_info" || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, %v", mfs, err)
	}
	m := mfs[0].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	want := map[string]string{"version": "v1.2.3", "revision": "abc", "build_date": "2026-01-02T03:04:05Z",
		"goversion": "go1.26.8", "goos": runtime.GOOS, "goarch": runtime.GOARCH}
	if fmt.Sprint(labels) != fmt.Sprint(want) || m.GetGauge().GetValue() != 1 {
		t.Fatalf("labels %v value %v; want %v and 1", labels, m.GetGauge().GetValue(), want)
	}
}

// TestVersionBinary checks the three spellings through the real binary,
// and that a running server says the same on /metrics and in its log.
func TestVersionBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	var first string
	for _, arg := range []string{"version", "--version", "-version"} {
		code, out, errOut := runBin(t, "", arg)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "alertbridge ") || !strings.Contains(out, "\n  go version: "+runtime.Version()+"\n") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", arg, code, out, errOut)
		}
		if first == "" {
			first = out
		} else if out != first {
			t.Fatalf("%s printed\n%s\nversion printed\n%s", arg, out, first)
		}
	}
	ver := strings.TrimPrefix(strings.SplitN(first, "\n", 2)[0], "alertbridge ")

	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf("server: {listen: %s}\nstorage: {url: %s}\n", addr, testdb.URL(t, "sqlite")))
	s := startServer(t, cfg, addr)
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var line string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "alertbridge_build_info{") {
			line = l
		}
	}
	if !strings.Contains(line, `version="`+ver+`"`) || !strings.Contains(line, `goversion="`+runtime.Version()+`"`) || !strings.HasSuffix(line, "} 1") {
		t.Fatalf("/metrics: build info %q; want version %q", line, ver)
	}
	s.kill() // the log is written until the process is gone
	if !strings.Contains(s.log.String(), "version="+ver) {
		t.Fatalf("the start-up log does not name version %s:\n%s", ver, s.log.String())
	}
}

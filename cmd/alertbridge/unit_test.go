package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const unitPath = "../../examples/alertbridge.service"

// unitFile is a systemd unit as systemd reads it: sections of keys, each
// key with its values in order (ExecStart=, SystemCallFilter= may repeat).
type unitFile map[string]map[string][]string

func (u unitFile) get(section, key string) (string, bool) {
	vs := u[section][key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// parseUnit reads the syntax of systemd.syntax(7) far enough to catch what
// systemd would ignore with only a warning in the journal: a line that is
// no section, comment or key=value, a key outside a section.
func parseUnit(r io.Reader) (unitFile, error) {
	u := unitFile{}
	var section, pending string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if pending != "" {
			line, pending = pending+" "+line, ""
		}
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`)
			continue
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: %q: a section header ends with ]", n, line)
			}
			section = line[1 : len(line)-1]
			switch section {
			case "Unit", "Service", "Install":
			default:
				return nil, fmt.Errorf("line %d: section [%s] does not belong in a service unit", n, section)
			}
			if u[section] != nil {
				return nil, fmt.Errorf("line %d: section [%s] again", n, section)
			}
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" || strings.ContainsAny(k, " \t") {
				return nil, fmt.Errorf("line %d: %q: want KEY=VALUE", n, line)
			}
			if section == "" {
				return nil, fmt.Errorf("line %d: %s= before any section", n, k)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if pending != "" {
		return nil, fmt.Errorf("the last line continues with \\ into nothing")
	}
	return u, sc.Err()
}

func readUnit(t *testing.T) unitFile {
	t.Helper()
	f, err := os.Open(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, err := parseUnit(f)
	if err != nil {
		t.Fatalf("%s: %v", unitPath, err)
	}
	return u
}

func TestUnitParser(t *testing.T) {
	for _, bad := range []string{
		"ExecStart=/bin/true\n",
		"[Service]\nDynamicUser yes\n",
		"[Service\n",
		"[Socket]\n",
		"[Service]\n[Service]\n",
		"[Service]\nExecStart=/bin/true \\\n",
	} {
		if _, err := parseUnit(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	u, err := parseUnit(strings.NewReader("# c\n[Service]\n; c\nExecStart=/bin/a \\\n  --b c\nCapabilityBoundingSet=\nX=1\nX=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := u.get("Service", "ExecStart"); v != "/bin/a  --b c" {
		t.Errorf("continued ExecStart %q", v)
	}
	if v, ok := u.get("Service", "CapabilityBoundingSet"); !ok || v != "" {
		t.Errorf("empty value: %q %v", v, ok)
	}
	if v, _ := u.get("Service", "X"); v != "2" {
		t.Errorf("repeated key: %q", v)
	}
}

// TestUnitHardening holds the unit to what the README promises of it.
func TestUnitHardening(t *testing.T) {
	u := readUnit(t)
	for key, want := range map[string]string{
		"DynamicUser":             "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "", // none at all
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"StateDirectory":          "alertbridge",
		"ConfigurationDirectory":  "alertbridge",
		// The default sqlite://./alertbridge.db then lands in the one
		// writable directory.
		"WorkingDirectory": "/var/lib/alertbridge",
		"EnvironmentFile":  "-/etc/alertbridge/alertbridge.env",
	} {
		if got, ok := u.get("Service", key); !ok || got != want {
			t.Errorf("[Service] %s=%q (set: %v); want %q", key, got, ok, want)
		}
	}
	// systemctl reload sends the signal alertbridge reloads on, not a
	// restart in disguise.
	if v, _ := u.get("Service", "ExecReload"); v != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload=%q, want /bin/kill -HUP $MAINPID", v)
	}
	if v, _ := u.get("Install", "WantedBy"); v != "multi-user.target" {
		t.Errorf("[Install] WantedBy=%q", v)
	}
}

// TestUnitExecStart parses the unit's command line with serve's own flags,
// so a renamed flag or command fails here and not at a user's boot.
func TestUnitExecStart(t *testing.T) {
	u := readUnit(t)
	if n := len(u["Service"]["ExecStart"]); n != 1 {
		t.Fatalf("%d ExecStart lines; want 1", n)
	}
	argv, _ := u.get("Service", "ExecStart")
	args := strings.Fields(argv)
	// The path the install steps at the top of the unit and the README use.
	if len(args) < 2 || args[0] != "/usr/local/bin/alertbridge" || args[1] != "serve" {
		t.Fatalf("ExecStart=%s; want /usr/local/bin/alertbridge serve ...", argv)
	}
	var out, errb strings.Builder
	fs, opts := serveFlags(&out, &errb)
	if code, ok := fs.parse(args[2:]); !ok {
		t.Fatalf("serve rejects ExecStart's flags (exit %d):\n%s", code, errb.String())
	}
	if len(fs.args) > 0 {
		t.Fatalf("serve takes no arguments; ExecStart gives %q", fs.args)
	}
	if *opts.config != "/etc/alertbridge/alertbridge.yaml" {
		t.Errorf("--config %s; want the file in ConfigurationDirectory, /etc/alertbridge/alertbridge.yaml", *opts.config)
	}
	if _, err := newLogger(io.Discard, *opts.logFormat, *opts.logLevel); err != nil {
		t.Error(err)
	}
	// The credentials the comments show reach the path they say.
	for _, line := range strings.Split(readFile(t, unitPath), "\n") {
		if c, ok := strings.CutPrefix(line, "#LoadCredential="); ok {
			if name, src, _ := strings.Cut(c, ":"); !strings.HasPrefix(src, "/etc/alertbridge/credentials/"+name) {
				t.Errorf("LoadCredential=%s: keep the sources under /etc/alertbridge/credentials/", c)
			}
		}
	}
	if !strings.Contains(readFile(t, unitPath), "/run/credentials/"+filepath.Base(unitPath)+"/") {
		t.Errorf("the unit's comments do not say where credentials arrive")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUnitSystemdVerify asks systemd itself, where it is installed: any
// warning fails, since systemd starts a unit with keys it could not read.
func TestUnitSystemdVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze here")
	}
	// verify insists that ExecStart's program exists: put one there.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), filepath.Base(unitPath))
	text := strings.Replace(readFile(t, unitPath), "ExecStart=/usr/local/bin/alertbridge ", "ExecStart="+self+" ", 1)
	if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The exposure score (0 best, 10 worst) of systemd-analyze security,
	// on systemds that can score a file (252 and later): a lost setting
	// shows here even when every key parses.
	if out, err := exec.Command(tool, "security", "--offline=yes", "--threshold=20", unit).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "unrecognized option") || strings.Contains(string(out), "Unknown") {
			t.Logf("systemd-analyze security cannot score a file here: %s", out)
			return
		}
		t.Fatalf("systemd-analyze security: exposure over 2.0 (%v):\n%s", err, out)
	}
}

package main

import (
	"debug/elf"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBuildScript runs scripts/build for this machine's architecture (both
// release architectures take minutes on a cold cache; the script is the
// same loop for each) and checks what the README promises: one static
// binary that says which code it is.
func TestBuildScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a release build")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the release binaries are Linux ELF files")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "scripts/build", "-o", out, "host")
	cmd.Dir = filepath.Join("..", "..")
	printed, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build: %v\n%s", err, printed)
	}
	bin := filepath.Join(out, "alertbridge-linux-"+runtime.GOARCH)
	// "BIN  linux/amd64  26.0 MB  version V  revision R  built D"
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(bin) + `  linux/` + runtime.GOARCH +
		`  \d+\.\d MB  version (\S+)  revision ([0-9a-f]{40})  built (\S+)$`).FindStringSubmatch(string(printed))
	if m == nil {
		t.Fatalf("scripts/build printed:\n%s", printed)
	}
	ver, rev, date := m[1], m[2], m[3]

	// HEAD may move while the test runs; what was stamped must describe
	// the revision that was stamped.
	described, err := exec.Command("git", "-C", cmd.Dir, "describe", "--tags", "--always", rev).Output()
	if err != nil {
		t.Fatalf("git describe %s: %v", rev, err)
	}
	if d := strings.TrimSpace(string(described)); ver != d && ver != d+"-dirty" {
		t.Errorf("stamped version %q; git describes %s as %q", ver, rev, d)
	}
	if at, err := time.Parse(time.RFC3339, date); err != nil || time.Since(at) > 10*time.Minute || time.Until(at) > time.Minute {
		t.Errorf("build date %q: %v; want about now, in UTC", date, err)
	}

	if why, err := notStatic(bin); err != nil || len(why) > 0 {
		t.Errorf("%s is not a static release binary: %v %v", bin, why, err)
	}

	got, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	want := "alertbridge " + ver + "\n  revision:   " + rev + "\n  build date: " + date + "\n  go version: " + runtime.Version() + "\n"
	if !strings.HasPrefix(string(got), want) {
		t.Fatalf("%s version printed\n%s\nwant it to begin\n%s", bin, got, want)
	}
}

// notStatic says why a binary is not one that a distroless or scratch
// image, or an old glibc, can run: it needs a dynamic loader or a shared
// library. It also reports a symbol table, which -ldflags -s removes.
func notStatic(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var why []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			why = append(why, "it asks for a dynamic loader (PT_INTERP)")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return nil, err
	}
	if len(libs) > 0 {
		why = append(why, fmt.Sprintf("it needs shared libraries %v (DT_NEEDED)", libs))
	}
	if f.Section(".symtab") != nil {
		why = append(why, "it has a symbol table: -ldflags -s was lost")
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if want != 0 && f.Machine != want {
		why = append(why, fmt.Sprintf("it is for %v, not %v", f.Machine, want))
	}
	return why, nil
}

// TestBuildDefaultIsNotStatic keeps notStatic honest: the plain go build
// the other tests use links the C resolver, and must fail it.
func TestBuildDefaultIsNotStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if runtime.GOOS != "linux" {
		t.Skip("ELF only")
	}
	if out, err := exec.Command("go", "env", "CGO_ENABLED").Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Skip("cgo is off here, so every build is static")
	}
	why, err := notStatic(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(why, "\n"), "PT_INTERP") {
		t.Fatalf("a default build passes as static: %q", why)
	}
}

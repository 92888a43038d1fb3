// Package benchutil holds what the benchmark commands share: building and
// watching the real binary, and reporting medians.
package benchutil

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Ms is d in milliseconds, for printing.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Median returns the median of f over rs.
func Median[R any](rs []R, f func(R) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Build compiles ./cmd/alertbridge into a temporary directory; run it from
// the repository root.
func Build() (string, error) {
	dir, err := os.MkdirTemp("", "alertbridge-bench")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "alertbridge")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/alertbridge")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build alertbridge (run from the repository root): %w", err)
	}
	return out, nil
}

// PeakRSS reads a process's high-water resident set size, in MiB.
func PeakRSS(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// WaitReady polls base/readyz until it answers 200, for up to 30 s.
func WaitReady(base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("server not ready after 30s")
}

// FreeAddr returns a loopback address with a port free at the moment.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Package benchutil holds what the benchmark commands share: building and
// watching the real binary, and reporting medians.
package benchutil

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
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

// Server is an alertbridge process started for a benchmark.
type Server struct {
	Base string // http://addr
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

// Serve writes cfg to dir, starts bin serve on it with the extra args and
// environment, and waits until it is ready. BENCH_TOKEN=bench is always
// set, for configs that name it as their API token.
func Serve(bin, dir, addr, cfg string, args []string, env ...string) (*Server, error) {
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"serve", "--config", path, "--log-level", "error"}, args...)...)
	cmd.Env = append(append(os.Environ(), "BENCH_TOKEN=bench"), env...)
	s := &Server{Base: "http://" + addr, cmd: cmd, logs: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := WaitReady(s.Base); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, s.logs.String())
	}
	return s, nil
}

// Pid is the server's process ID.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Logs is what the server has written.
func (s *Server) Logs() string { return s.logs.String() }

// Stop kills the server and waits for it.
func (s *Server) Stop() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() }

// Do sends req with the bench token, drains the answer, and returns its
// status and how long the round trip took.
func Do(c *http.Client, req *http.Request) (status int, took time.Duration, err error) {
	req.Header.Set("Authorization", "Bearer bench")
	if req.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// FreshDatabase creates a database of its own on the PostgreSQL server of
// the admin URL admin and returns its URL.
func FreshDatabase(admin string) (string, error) {
	if admin == "" {
		return "", fmt.Errorf("-pg-url (or ALERTBRIDGE_TEST_POSTGRES_URL) is required for postgres")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	u := admin
	query := ""
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u, query = u[:i], u[i:]
	}
	return u[:strings.LastIndexByte(u, '/')] + "/" + name + query, nil
}

// PostAll calls post for every id from clients goroutines at once (client
// is the goroutine's number, 0 to clients-1), and returns the first error;
// a client stops at its first error, the others carry on.
func PostAll(clients int, ids []string, post func(client int, id string) error) error {
	next := make(chan string)
	errc := make(chan error, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				if err := post(c, id); err != nil {
					errc <- err
					for range next {
					}
					return
				}
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// IDs are n alert IDs, prefix followed by 0 to n-1.
func IDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

package main

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/testdb"
)

// TestSIGTERMShutsDownGracefully sends SIGTERM while clients post alerts
// and deliveries are slow: the process must exit 0 within its shutdown
// bound, and every alert it answered 2xx must be there after a restart.
func TestSIGTERMShutsDownGracefully(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	// A receiver slow enough that deliveries are in flight at SIGTERM. It
	// counts arrivals, so a delivery cut short and sent again shows.
	rc := &receiver{seen: map[string]int{}, delay: 200 * time.Millisecond}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
server:
  listen: %s
  shutdown_timeout: 5s
  api_tokens: [{name: term, token_env: ALERTBRIDGE_API_TOKEN}]
storage:
  url: %s
destinations:
  - {name: hook, type: webhook, webhook: {url: %s}}
`, addr, testdb.URL(t, "sqlite"), hook.URL))
	s := startServer(t, cfg, addr)

	var (
		mu       sync.Mutex
		accepted []string
		wg       sync.WaitGroup
	)
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("term-%d-%d", c, i)
				code, err := s.api("POST", "/api/v1/alerts", map[string]any{"alertId": id, "title": "t", "severity": "LOW"}, nil)
				if err != nil || code >= 300 {
					return
				}
				mu.Lock()
				accepted = append(accepted, id)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	s.signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20s after SIGTERM:\n%s", s.log.String())
	}
	took := time.Since(sent)
	wg.Wait()
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, s.log.String())
	}
	// Two bounded steps (HTTP drain, queue drain) of 5s each, plus slack.
	if took > 12*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	if len(accepted) == 0 {
		t.Fatal("no alert accepted before SIGTERM")
	}

	s = startServer(t, cfg, addr)
	for _, id := range accepted {
		if code, err := s.api("GET", "/api/v1/alerts/"+id, nil, nil); err != nil || code != 200 {
			t.Fatalf("alert %s accepted before SIGTERM: GET = %d %v", id, code, err)
		}
	}
	// In-flight deliveries finished before the exit, so none is sent twice.
	waitFor(t, 60*time.Second, func() bool { return rc.sawAll(accepted) })
	rc.mu.Lock()
	for id, n := range rc.seen {
		if n != 1 {
			t.Errorf("alert %s delivered %d times", id, n)
		}
	}
	rc.mu.Unlock()
	t.Logf("SIGTERM: exited 0 in %s; %d accepted alerts all present after restart", took.Round(time.Millisecond), len(accepted))
}

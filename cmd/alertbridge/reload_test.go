package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/testdb"
)

// hookCounter is a webhook receiver that counts the alerts it got and can
// hold requests, so that a delivery is in flight while the configuration
// changes.
type hookCounter struct {
	mu   sync.Mutex
	seen map[string]int
	hold chan struct{} // nil: answer at once
}

func (h *hookCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	hold := h.hold
	h.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}
	h.mu.Lock()
	for _, id := range []string{"r-1", "r-2", "r-3", "r-4"} {
		if strings.Contains(string(b), `"`+id+`"`) {
			h.seen[id]++
		}
	}
	h.mu.Unlock()
}

func (h *hookCounter) got(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[id]
}

// TestReload changes a destination while a delivery to it is in flight, by
// SIGHUP and by POST /-/reload, and refuses a broken file: new alerts follow
// the new configuration, the delivery in flight finishes, and a refused file
// leaves the running configuration as it was, with the reload metric at 0.
func TestReload(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	testdb.Each(t, func(t *testing.T, driver string) {
		a, b := &hookCounter{seen: map[string]int{}}, &hookCounter{seen: map[string]int{}}
		sa, sb := httptest.NewServer(a), httptest.NewServer(b)
		defer sa.Close()
		defer sb.Close()
		addr := freePort(t)
		storage := testdb.URL(t, driver)
		write := func(path, hookURL, extra string) {
			body := fmt.Sprintf(`
server:
  listen: %s
  api_tokens: [{name: t, token_env: ALERTBRIDGE_API_TOKEN}]
storage:
  url: %s
destinations:
  - name: hook
    type: webhook
    webhook: {url: %s}%s
`, addr, storage, hookURL, extra)
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cfg := writeConfig(t, "")
		write(cfg, sa.URL, "")
		s := startServer(t, cfg, addr)
		post := func(id string) {
			t.Helper()
			if code, err := s.api("POST", "/api/v1/alerts", map[string]any{"alertId": id, "title": id, "severity": "HIGH"}, nil); err != nil || code != http.StatusAccepted {
				t.Fatalf("post %s: %d %v", id, code, err)
			}
		}
		delivered := func(id string, n int) func() bool {
			return func() bool {
				var got struct {
					Deliveries []struct{ State string } `json:"deliveries"`
				}
				code, err := s.api("GET", "/api/v1/alerts/"+id, nil, &got)
				done := 0
				for _, d := range got.Deliveries {
					if d.State == "delivered" {
						done++
					}
				}
				return err == nil && code == 200 && done == n
			}
		}
		metric := func(name string) string {
			resp, err := http.Get(s.base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			for _, l := range strings.Split(string(body), "\n") {
				if v, ok := strings.CutPrefix(l, name+" "); ok {
					return v
				}
			}
			return ""
		}

		// A delivery to A is held in flight.
		hold := make(chan struct{})
		a.mu.Lock()
		a.hold = hold
		a.mu.Unlock()
		post("r-1")
		waitFor(t, 10*time.Second, func() bool {
			var got struct {
				Deliveries []struct{ Attempts int } `json:"deliveries"`
			}
			_, err := s.api("GET", "/api/v1/alerts/r-1", nil, &got)
			return err == nil && len(got.Deliveries) == 1 && got.Deliveries[0].Attempts == 1
		})

		// SIGHUP: "hook" now points at B, and a second destination joins.
		write(cfg, sb.URL, fmt.Sprintf("\n  - name: hook2\n    type: webhook\n    webhook: {url: %s}", sb.URL))
		before := metric("alertbridge_config_last_reload_success_timestamp_seconds")
		s.signal(syscall.SIGHUP)
		waitFor(t, 10*time.Second, func() bool {
			return metric("alertbridge_config_last_reload_success_timestamp_seconds") != before
		})
		post("r-2")
		waitFor(t, 10*time.Second, delivered("r-2", 2))
		if b.got("r-2") != 2 || a.got("r-2") != 0 {
			t.Errorf("after the reload r-2 reached A %d and B %d times, want 0 and 2 (hook and hook2)", a.got("r-2"), b.got("r-2"))
		}
		// The delivery in flight during the reload finishes where it began.
		close(hold)
		waitFor(t, 10*time.Second, delivered("r-1", 1))
		if a.got("r-1") != 1 || b.got("r-1") != 0 {
			t.Errorf("the delivery in flight reached A %d and B %d times, want 1 and 0", a.got("r-1"), b.got("r-1"))
		}

		// A broken file is refused over HTTP; the running configuration
		// stays.
		if err := os.WriteFile(cfg, []byte("destinations:\n  - name: hook\n    type: carrier-pigeon\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var refused struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if code, err := s.api("POST", "/-/reload", nil, &refused); err != nil || code != http.StatusBadRequest || refused.Error.Code != "invalid_config" ||
			!strings.Contains(refused.Error.Message, "carrier-pigeon") {
			t.Fatalf("reload of a broken file: %d %v %+v", code, err, refused)
		}
		if v := metric("alertbridge_config_last_reload_successful"); v != "0" {
			t.Errorf("alertbridge_config_last_reload_successful = %q after a refused reload, want 0", v)
		}
		post("r-3")
		waitFor(t, 10*time.Second, delivered("r-3", 2))
		if b.got("r-3") != 2 {
			t.Errorf("after the refused reload r-3 reached B %d times, want 2", b.got("r-3"))
		}

		// And a good file over HTTP: back to A alone.
		write(cfg, sa.URL, "")
		if code, err := s.api("POST", "/-/reload", nil, nil); err != nil || code != http.StatusOK {
			t.Fatalf("reload: %d %v", code, err)
		}
		if v := metric("alertbridge_config_last_reload_successful"); v != "1" {
			t.Errorf("alertbridge_config_last_reload_successful = %q after a reload, want 1", v)
		}
		post("r-4")
		waitFor(t, 10*time.Second, delivered("r-4", 1))
		if a.got("r-4") != 1 || b.got("r-4") != 0 {
			t.Errorf("r-4 reached A %d and B %d times, want 1 and 0", a.got("r-4"), b.got("r-4"))
		}
	})
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/testdb"
)

// receiver counts the alerts a webhook destination delivers.
type receiver struct {
	mu    sync.Mutex
	seen  map[string]int
	delay time.Duration
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AlertID string `json:"alertId"`
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		w.WriteHeader(400)
		return
	}
	rc.mu.Lock()
	rc.seen[body.AlertID]++
	rc.mu.Unlock()
	// A little latency keeps deliveries in flight when the process dies.
	time.Sleep(max(rc.delay, 5*time.Millisecond))
}

// sawAll reports whether every one of ids has arrived at least once.
func (rc *receiver) sawAll(ids []string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, id := range ids {
		if rc.seen[id] == 0 {
			return false
		}
	}
	return true
}

type alertState struct {
	Status     string `json:"status"`
	Deliveries []struct {
		Destination string `json:"destination"`
		State       string `json:"state"`
	} `json:"deliveries"`
}

// TestSIGKILLLosesNothing kills the server with SIGKILL while clients post
// alerts, restarts it, and checks that every alert answered with a 2xx is
// stored with exactly one delivery that is pending or done.
func TestSIGKILLLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	testdb.Each(t, func(t *testing.T, driver string) {
		rc := &receiver{seen: map[string]int{}}
		hook := httptest.NewServer(rc)
		defer hook.Close()
		addr := freePort(t)
		cfg := writeConfig(t, fmt.Sprintf(`
server:
  listen: %s
  api_tokens: [{name: crash, token_env: ALERTBRIDGE_API_TOKEN}]
storage:
  url: %s
destinations:
  - name: hook
    type: webhook
    webhook: {url: %s, secret_env: WEBHOOK_SECRET}
`, addr, testdb.URL(t, driver), hook.URL))

		var (
			accepted sync.Map // alertId → true, for every 2xx answer
			n        atomic.Int64
			stop     = make(chan struct{})
			wg       sync.WaitGroup
		)
		s := startServer(t, cfg, addr)
		for c := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("crash-%d-%d", c, i)
					code, err := s.api("POST", "/api/v1/alerts", map[string]any{
						"alertId": id, "title": "crash test", "severity": "HIGH",
					}, nil)
					if err == nil && code >= 200 && code < 300 {
						accepted.Store(id, true)
						n.Add(1)
					}
					if err != nil {
						return // the server is gone
					}
				}
			}()
		}
		// Kill mid-stream, once a good number of alerts are in.
		deadline := time.Now().Add(20 * time.Second)
		for n.Load() < 300 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		s.kill()
		close(stop)
		wg.Wait()
		if n.Load() < 300 {
			t.Fatalf("only %d alerts accepted before the kill", n.Load())
		}

		s = startServer(t, cfg, addr)
		var ids []string
		accepted.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
		pending := 0
		for _, id := range ids {
			var a alertState
			code, err := s.api("GET", "/api/v1/alerts/"+id, nil, &a)
			if err != nil || code != 200 {
				t.Fatalf("alert %s answered 2xx before the kill, now GET = %d %v", id, code, err)
			}
			if len(a.Deliveries) != 1 {
				t.Fatalf("alert %s has %d deliveries, want 1", id, len(a.Deliveries))
			}
			switch st := a.Deliveries[0].State; st {
			case "pending", "retrying":
				pending++
			case "delivered":
			default:
				t.Fatalf("alert %s delivery state %q", id, st)
			}
		}
		t.Logf("%s: %d alerts accepted before SIGKILL, all stored; %d deliveries still pending at restart", driver, len(ids), pending)

		if driver != "sqlite" {
			// On PostgreSQL a job the dead replica held is rescued only after
			// the job timeout has surely passed; the rest must go out now.
			return
		}
		// On SQLite the restarted process owns every job: all must arrive.
		waitFor(t, 60*time.Second, func() bool { return rc.sawAll(ids) })
	})
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/internal/upstream"
)

const e2eOrg = "9a1jj823-jac8-123d-jj01-63315k059cb2"

// adminAPI is a fake Atlassian Admin API serving the captured audit events
// from events-stream in pages of ten linked by cursors.
type adminAPI struct {
	pages [][]json.RawMessage
	key   string

	mu        sync.Mutex
	script    map[string][]int // cursor → statuses to answer first; -1 holds the request
	hold      chan struct{}    // closed to let held requests go
	held      chan struct{}    // signalled when a request is held
	requests  []string
	badHeader int
}

func (a *adminAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cursor := q.Get("cursor")
	a.mu.Lock()
	a.requests = append(a.requests, r.URL.RawQuery)
	if r.Header.Get("Authorization") != "Bearer "+a.key {
		a.badHeader++
	}
	status := 0
	if s := a.script[cursor]; len(s) > 0 {
		status, a.script[cursor] = s[0], s[1:]
	}
	a.mu.Unlock()
	if r.URL.Path != "/admin/v1/orgs/"+e2eOrg+"/events-stream" {
		http.Error(w, "not found", 404)
		return
	}
	switch status {
	case -1:
		a.held <- struct{}{}
		select {
		case <-a.hold:
		case <-r.Context().Done():
			return
		}
	case 429:
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"code":429,"message":"Too Many Requests"}`, http.StatusTooManyRequests)
		return
	case 500:
		http.Error(w, `{"code":500}`, 500)
		return
	}
	if cursor == "" && (q.Get("from") == "" || q.Get("to") == "" || q.Get("sortOrder") != "asc") {
		http.Error(w, "from, to and sortOrder are required", 400)
		return
	}
	i := 0
	if cursor != "" {
		fmt.Sscanf(cursor, "c%d", &i)
	}
	var next any
	if i+1 < len(a.pages) {
		next = fmt.Sprintf("c%d", i+1)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": a.pages[i], "links": map[string]any{}, "meta": map[string]any{"next": next}})
}

func (a *adminAPI) fullReads() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, q := range a.requests {
		if v, _ := urlQuery(q); v.Get("cursor") == "" {
			n++
		}
	}
	return n
}

// hookReceiver records every delivery by alertId, with the rule that raised it.
type hookReceiver struct {
	mu     sync.Mutex
	count  map[string]int
	ruleOf map[string]string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a struct {
		ID      string `json:"id"`
		AlertID string `json:"alertId"`
		Type    string `json:"type"`
	}
	b, _ := io.ReadAll(r.Body)
	if json.Unmarshal(b, &a) != nil {
		w.WriteHeader(400)
		return
	}
	h.mu.Lock()
	h.count[a.AlertID]++
	h.ruleOf[a.AlertID] = a.ID
	h.mu.Unlock()
}

func (h *hookReceiver) rules() (map[string]int, map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	byRule := map[string]int{}
	for id, n := range h.count {
		byRule[h.ruleOf[id]] += n
	}
	return byRule, maps.Clone(h.count)
}

// TestAtlassianSourceEndToEnd runs the binary against a fake Admin API that
// serves the captured events with a 429 and a 500 on the way, stops it
// while a page is in flight, starts it again, and checks that the rule
// pack's alerts (and the API-key warning) reach the webhook exactly once.
func TestAtlassianSourceEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	raw, err := os.ReadFile(upstream.Path(t, "atlassian-admin-api", "go-atlassian-mocks", "get-organization-audit-events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var captured struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &captured); err != nil {
		t.Fatal(err)
	}
	rulesDir, err := filepath.Abs(filepath.Join("..", "..", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"Atlassian.AuthPolicy.Changed": 1, "Atlassian.Org.APITokenCreated": 1, "Atlassian.Org.AdminAdded": 1,
		"Atlassian.OrgPolicy.Removed": 1, "Atlassian.User.AddedToAdminGroup": 1, "alertbridge.Source.APIKeyExpiry": 1,
	}
	testdb.Each(t, func(t *testing.T, driver string) {
		storage := testdb.URL(t, driver)
		api := &adminAPI{key: "org-api-key-SECRET-42", hold: make(chan struct{}), held: make(chan struct{}, 4),
			script: map[string][]int{"": {429}, "c1": {500}, "c2": {-1}}}
		for c := range slices.Chunk(captured.Data, 10) {
			api.pages = append(api.pages, c)
		}
		admin := httptest.NewServer(api)
		defer admin.Close()
		hook := &hookReceiver{count: map[string]int{}, ruleOf: map[string]string{}}
		hookSrv := httptest.NewServer(hook)
		defer hookSrv.Close()

		dir := t.TempDir()
		keyFile := filepath.Join(dir, "atlassian.key")
		if err := os.WriteFile(keyFile, []byte(api.key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		addr := freePort(t)
		cfg := writeConfig(t, fmt.Sprintf(`
server:
  listen: %s
  api_tokens: [{name: e2e, token_env: ALERTBRIDGE_API_TOKEN}]
  shutdown_timeout: 3s
storage:
  url: %s
destinations:
  - name: hook
    type: webhook
    webhook: {url: %s}
sources:
  - name: atlassian-org
    type: atlassian_audit
    org_id: %s
    api_key_file: %s
    base_url: %s
    poll_interval: 1s
    api_key_expires: %s
detections:
  paths: [%s]
`, addr, storage, hookSrv.URL, e2eOrg, keyFile, admin.URL,
			time.Now().UTC().Add(72*time.Hour).Format(time.DateOnly), rulesDir))

		start := time.Now()
		srv := startServer(t, cfg, addr)
		// Stop the service while page 3 is in flight.
		select {
		case <-api.held:
		case <-time.After(30 * time.Second):
			srv.kill()
			t.Fatalf("page 3 was never asked for; %d full reads\n%s", api.fullReads(), srv.log.String())
		}
		srv.signal(syscall.SIGTERM)
		select {
		case <-srv.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("no exit after SIGTERM:\n%s", srv.log.String())
		}
		close(api.hold)
		if bytesContains(srv.log.String(), api.key) {
			t.Error("the API key appears in the log")
		}
		srv = startServer(t, cfg, addr)

		// Wait until every expected alert arrived and the source has read
		// whole windows again (the overlap) after the restart.
		reads := api.fullReads()
		deadline := time.Now().Add(60 * time.Second)
		for {
			byRule, _ := hook.rules()
			done := api.fullReads() >= reads+2
			for id := range want {
				done = done && byRule[id] >= 1
			}
			if done {
				break
			}
			if time.Now().After(deadline) {
				srv.kill()
				t.Fatalf("timed out: deliveries by rule %v, %d full reads\n%s", byRule, api.fullReads(), srv.log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		// A wrong second delivery would be a job still to run: wait until
		// none is left (periodic polls aside) before counting.
		jobsDB := openJobsDB(t, driver, storage)
		for deadline := time.Now().Add(30 * time.Second); jobsDB.pending(t) > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d jobs still unfinished", jobsDB.pending(t))
			}
		}
		byRule, byAlert := hook.rules()
		for id, n := range want {
			if byRule[id] != n {
				t.Errorf("%s: %d deliveries, want %d", id, byRule[id], n)
			}
		}
		for id, n := range byRule {
			if _, ok := want[id]; !ok {
				t.Errorf("unexpected alerts of %s: %d", id, n)
			}
		}
		for id, n := range byAlert {
			if n != 1 {
				t.Errorf("alert %s (%s) delivered %d times", id, hook.ruleOf[id], n)
			}
		}
		api.mu.Lock()
		bad, nreq := api.badHeader, len(api.requests)
		api.mu.Unlock()
		if bad != 0 {
			t.Errorf("%d requests without the bearer key", bad)
		}
		srv.kill() // the log is read once the process is gone
		if bytesContains(srv.log.String(), api.key) {
			t.Error("the API key appears in the log")
		}
		t.Logf("%s: %d alerts delivered once each in %s, %d requests to the Admin API",
			driver, len(byAlert), time.Since(start).Round(time.Millisecond), nreq)
	})
}

func urlQuery(raw string) (interface{ Get(string) string }, error) { return url.ParseQuery(raw) }

func bytesContains(s, sub string) bool { return strings.Contains(s, sub) }

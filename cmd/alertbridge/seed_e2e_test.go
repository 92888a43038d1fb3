package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/internal/upstream"
)

// Dynamic routing as Panther documents it, end to end: the example rule of
// Panther's alert-destinations page, loaded as it is with panther-analysis's
// global helpers, fed Okta events through the log ingest API, sends each
// alert to the destinations its destinations() returns, ahead of the
// destinations that would take it by severity.
func TestSeedExampleRoutesByDestinations(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	pa := upstream.Path(t, "panther-analysis")
	seed, _ := filepath.Abs(filepath.Join(pa, "seed-example"))
	helpers, _ := filepath.Abs(filepath.Join(pa, "global_helpers"))

	var mu sync.Mutex
	got := map[string][]string{} // destination -> titles
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct {
			Title string `json:"title"`
			Type  string `json:"type"`
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &a) != nil {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		got[strings.TrimPrefix(r.URL.Path, "/")] = append(got[strings.TrimPrefix(r.URL.Path, "/")], a.Type+" "+a.Title)
		mu.Unlock()
	}))
	defer hook.Close()

	testdb.Each(t, func(t *testing.T, driver string) {
		mu.Lock()
		clear(got)
		mu.Unlock()
		addr := freePort(t)
		storage := testdb.URL(t, driver)
		var dests strings.Builder
		for _, d := range []string{"dev-alert-destinations", "tines-okta-user-lock-out", "dev-general", "medium-catch-all"} {
			fmt.Fprintf(&dests, "  - name: %s\n    type: webhook\n    webhook: {url: %s/%s}\n", d, hook.URL, d)
		}
		cfg := writeConfig(t, fmt.Sprintf(`
server:
  listen: %s
  api_tokens: [{name: e2e, token_env: ALERTBRIDGE_API_TOKEN}]
storage:
  url: %s
destinations:
%s    severities: [MEDIUM]
detections:
  paths: [%s, %s]
  workers: 1
`, addr, storage, dests.String(), seed, helpers))
		srv := startServer(t, cfg, addr)
		events := []map[string]any{
			{"uuid": "u1", "eventType": "user.account.lock", "published": "2026-11-20T10:00:00Z",
				"actor":   map[string]any{"alternateId": "example@example.com", "displayName": "Example Person", "id": "00u1"},
				"outcome": map[string]any{"reason": "LOCKED OUT", "result": "FAILURE"}},
			{"uuid": "u2", "eventType": "user.account.lock", "published": "2026-11-20T10:05:00Z",
				"actor":   map[string]any{"alternateId": "carol@example.com", "displayName": "Carol", "id": "00u9"},
				"outcome": map[string]any{"reason": "LOCKED OUT", "result": "FAILURE"}},
			{"uuid": "u3", "eventType": "user.session.start", "published": "2026-11-20T10:10:00Z",
				"actor":   map[string]any{"alternateId": "example@example.com"},
				"outcome": map[string]any{"result": "SUCCESS"}},
		}
		var acc struct {
			Accepted int `json:"accepted"`
		}
		code, err := srv.api("POST", "/api/v1/logs/Okta.SystemLog", events, &acc)
		if err != nil || code != 202 || acc.Accepted != 3 {
			t.Fatalf("ingest: %d %+v %v\n%s", code, acc, err, srv.log.String())
		}
		want := map[string][]string{
			"dev-alert-destinations":   {"RULE example@example.com is locked out."},
			"tines-okta-user-lock-out": {"RULE example@example.com is locked out."},
			"dev-general":              {"RULE carol@example.com is locked out."},
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := 0
			for _, v := range got {
				n += len(v)
			}
			mu.Unlock()
			if n >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("deliveries %v\n%s", got, srv.log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Let any wrong extra delivery arrive before comparing.
		jobsDB := openJobsDB(t, driver, storage)
		for deadline := time.Now().Add(30 * time.Second); jobsDB.pending(t) > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d jobs still unfinished", jobsDB.pending(t))
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for d, titles := range got {
			sort.Strings(titles)
			if strings.Join(titles, "|") != strings.Join(want[d], "|") {
				t.Errorf("%s received %q, want %q", d, titles, want[d])
			}
		}
		for d := range want {
			if len(got[d]) == 0 {
				t.Errorf("%s received nothing", d)
			}
		}
	})
}

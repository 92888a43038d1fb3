package atlassian_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/internal/upstream"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/source/atlassian"
	"github.com/alertbridge/alertbridge/store"
)

const (
	orgID  = "9a1jj823-jac8-123d-jj01-63315k059cb2"
	apiKey = "atlassian-api-key-SECRET-0123"
)

// The alerts the shipped pack raises over the captured events (the mass
// removal rule matches once, below its threshold of ten).
var wantRules = []string{
	"Atlassian.AuthPolicy.Changed", "Atlassian.Org.APITokenCreated", "Atlassian.Org.AdminAdded",
	"Atlassian.OrgPolicy.Removed", "Atlassian.User.AddedToAdminGroup",
}

func capturedEvents(t *testing.T) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(upstream.Path(t, "atlassian-admin-api", "go-atlassian-mocks", "get-organization-audit-events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pg struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(raw, &pg); err != nil || len(pg.Data) < 30 {
		t.Fatalf("captured events: %d, %v", len(pg.Data), err)
	}
	return pg.Data
}

// fakeAdmin serves the captured events as the Admin API does, in pages
// linked by cursors, answering with scripted failures first where asked.
type fakeAdmin struct {
	t        *testing.T
	srv      *httptest.Server
	endpoint string
	pages    [][]map[string]any

	mu       sync.Mutex
	failures map[string][]int // cursor ("" for the first page) → statuses to answer first
	requests []*http.Request
}

func newFakeAdmin(t *testing.T, endpoint string, events []map[string]any, per int) *fakeAdmin {
	f := &fakeAdmin{t: t, endpoint: endpoint, failures: map[string][]int{}}
	for c := range slices.Chunk(events, per) {
		f.pages = append(f.pages, c)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAdmin) fail(cursor string, statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[cursor] = append(f.failures[cursor], statuses...)
}

func (f *fakeAdmin) seen() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeAdmin) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r)
	q := r.URL.Query()
	cursor := q.Get("cursor")
	var status int
	if s := f.failures[cursor]; len(s) > 0 {
		status, f.failures[cursor] = s[0], s[1:]
	}
	f.mu.Unlock()

	if r.URL.Path != "/admin/v1/orgs/"+orgID+"/"+f.endpoint {
		http.Error(w, "no such path "+r.URL.Path, http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+apiKey {
		http.Error(w, `{"code":401,"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	switch status {
	case 0:
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"code":429,"message":"Too Many Requests"}`, status)
		return
	default:
		http.Error(w, `{"code":500,"message":"Internal Server Error"}`, status)
		return
	}
	if (cursor == "" || f.endpoint == atlassian.EndpointEvents) && (q.Get("from") == "" || q.Get("to") == "") {
		http.Error(w, "from and to are required", http.StatusBadRequest)
		return
	}
	if f.endpoint == atlassian.EndpointEventsStream && q.Get("sortOrder") != "asc" {
		http.Error(w, "want sortOrder=asc", http.StatusBadRequest)
		return
	}
	i := 0
	if cursor != "" {
		if _, err := fmt.Sscanf(cursor, "c%d", &i); err != nil || i <= 0 || i >= len(f.pages) {
			http.Error(w, `{"code":400,"message":"Invalid cursor"}`, http.StatusBadRequest)
			return
		}
	}
	var next any
	if i+1 < len(f.pages) {
		next = fmt.Sprintf("c%d", i+1)
	}
	body := map[string]any{"data": f.pages[i]}
	if f.endpoint == atlassian.EndpointEventsStream {
		body["meta"], body["links"] = map[string]any{"next": next, "page_size": len(f.pages[i])}, map[string]any{}
	} else {
		links := map[string]any{}
		if next != nil {
			links["next"] = f.srv.URL + r.URL.Path + "?cursor=" + next.(string)
		}
		body["links"], body["meta"] = links, map[string]any{"page_size": len(f.pages[i])}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

type env struct {
	st       store.Store
	svc      *lifecycle.Service
	pipeline *detection.Pipeline
}

func newEnv(t *testing.T, driver string) *env {
	t.Helper()
	st := testdb.Open(t, driver)
	ctx := context.Background()
	batch := lifecycle.DefaultBatcher(st)
	t.Cleanup(batch.Close)
	// The queue is never started: the alerts' deliveries are only stored.
	jl, err := jobs.New(ctx, jobs.Config{DB: st.Handle()})
	if err != nil {
		t.Fatal(err)
	}
	q := delivery.New(jl, st, delivery.Config{Batch: batch})
	svc := lifecycle.New(st, q, nil, lifecycle.Options{Batch: batch})
	_, file, _, _ := runtime.Caller(0)
	rs, err := ruleengine.LoadDir(filepath.Join(filepath.Dir(file), "..", "..", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	return &env{st: st, svc: svc, pipeline: detection.New(detection.Config{Rules: rs, Service: svc})}
}

func (e *env) poller(f *fakeAdmin, mod func(*atlassian.Config)) *atlassian.Poller {
	cfg := atlassian.Config{
		Name: "org", OrgID: orgID, APIKey: apiKey, BaseURL: f.srv.URL, Endpoint: f.endpoint,
		RetryBackoff: 10 * time.Millisecond, Retries: 4,
	}
	if mod != nil {
		mod(&cfg)
	}
	return atlassian.NewPoller(cfg, e.st, e.svc, e.pipeline)
}

// alertsByRule counts the stored alerts per rule ID.
func (e *env) alertsByRule(t *testing.T) map[string][]*alert.Alert {
	t.Helper()
	out := map[string][]*alert.Alert{}
	err := e.st.View(context.Background(), func(tx store.Tx) error {
		as, _, err := tx.ListAlerts(context.Background(), store.ListQuery{Limit: 1000})
		for _, a := range as {
			out[a.ID] = append(out[a.ID], a)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func checkRuleAlerts(t *testing.T, got map[string][]*alert.Alert) {
	t.Helper()
	for _, id := range wantRules {
		if len(got[id]) != 1 {
			t.Errorf("%s: %d alerts, want 1", id, len(got[id]))
		}
	}
	for id, as := range got {
		if !slices.Contains(wantRules, id) && !strings.HasPrefix(id, "alertbridge.Source.") {
			t.Errorf("unexpected alerts of %s: %d", id, len(as))
		}
	}
}

func TestPollPagesRetriesAndResumes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		events := capturedEvents(t)
		f := newFakeAdmin(t, atlassian.EndpointEventsStream, events, 10)
		f.fail("", http.StatusTooManyRequests)
		f.fail("c1", http.StatusInternalServerError)
		// Page 3 fails past the retries: the poll stops there, as a crash would.
		f.fail("c2", 500, 500, 500, 500)
		ctx := context.Background()

		start := time.Now()
		stats, err := e.poller(f, nil).Poll(ctx)
		if err == nil || !strings.Contains(err.Error(), "500") {
			t.Fatalf("first poll: %v, want a 500 error", err)
		}
		if strings.Contains(err.Error(), apiKey) {
			t.Fatal("the API key is in an error")
		}
		if stats.Pages != 2 || stats.Events != 20 {
			t.Errorf("first poll: %+v, want 2 pages of 20 events", stats)
		}
		if time.Since(start) < time.Second {
			t.Error("the 429's Retry-After: 1 was not waited for")
		}
		// A new poller (a restart) resumes at the cursor of page 3.
		n := len(f.seen())
		stats, err = e.poller(f, nil).Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if first := f.seen()[n]; first.URL.Query().Get("cursor") != "c2" {
			t.Errorf("after the restart the first request was %s, want cursor c2", first.URL.RawQuery)
		}
		if stats.Events != len(events)-20 || stats.Duplicates != 0 {
			t.Errorf("resumed poll: %+v, want the other %d events", stats, len(events)-20)
		}
		checkRuleAlerts(t, e.alertsByRule(t))

		// The next poll re-reads an overlapping window (here: everything
		// again); every event is a repeat and nothing is raised twice.
		stats, err = e.poller(f, nil).Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Events != 0 || stats.Duplicates != len(events) {
			t.Errorf("overlapping poll: %+v, want all %d duplicates", stats, len(events))
		}
		checkRuleAlerts(t, e.alertsByRule(t))
		for _, r := range f.seen() {
			if r.Header.Get("Authorization") != "Bearer "+apiKey || r.Header.Get("Accept") != "application/json" {
				t.Errorf("request headers %v", r.Header)
			}
		}
	})
}

func TestPollOlderEventsEndpoint(t *testing.T) {
	e := newEnv(t, "sqlite")
	events := capturedEvents(t)
	f := newFakeAdmin(t, atlassian.EndpointEvents, events, 15)
	stats, err := e.poller(f, nil).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Pages != 3 || stats.Events != len(events) {
		t.Errorf("stats %+v, want 3 pages and %d events", stats, len(events))
	}
	for _, r := range f.seen() {
		if r.URL.Query().Get("sortOrder") != "" {
			t.Errorf("/events request with sortOrder: %s", r.URL.RawQuery)
		}
	}
	checkRuleAlerts(t, e.alertsByRule(t))
}

func TestHealthAlerts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		f := newFakeAdmin(t, atlassian.EndpointEventsStream, nil, 10)
		f.pages = [][]map[string]any{{}} // one empty page
		now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		mod := func(c *atlassian.Config) {
			c.Now, c.NoEventsAlertAfter = clock, 24*time.Hour
			c.APIKeyExpires = time.Date(2026, 5, 11, 0, 0, 0, 0, time.UTC)
		}
		ctx := context.Background()
		poll := func() {
			t.Helper()
			if _, err := e.poller(f, mod).Poll(ctx); err != nil {
				t.Fatal(err)
			}
		}
		poll() // starts the silence clock; the key expires in 10 days
		poll() // same day: no second warning
		now = now.Add(25 * time.Hour)
		poll() // silent for 25h, and a new day's warning
		poll()
		got := e.alertsByRule(t)
		if n := len(got["alertbridge.Source.NoEvents"]); n != 1 {
			t.Errorf("%d no-events alerts, want 1", n)
		}
		exp := got["alertbridge.Source.APIKeyExpiry"]
		if len(exp) != 2 {
			t.Fatalf("%d key expiry warnings over two days, want 2", len(exp))
		}
		for _, a := range exp {
			if a.Type != alert.TypeSystemError || a.Severity != alert.SeverityMedium || strings.Contains(string(a.Context), apiKey) {
				t.Errorf("expiry warning %+v", a)
			}
		}
	})
}

func TestAuthFailureNeverShowsTheKey(t *testing.T) {
	e := newEnv(t, "sqlite")
	f := newFakeAdmin(t, atlassian.EndpointEventsStream, capturedEvents(t), 10)
	p := e.poller(f, func(c *atlassian.Config) { c.APIKey = "wrong-key-SECRET" })
	_, err := p.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("poll with a wrong key: %v", err)
	}
	if n := len(f.seen()); n != 1 {
		t.Errorf("%d requests, want 1: a 401 is not retried", n)
	}
	got := e.alertsByRule(t)["alertbridge.Source.AuthFailed"]
	if len(got) != 1 || got[0].Type != alert.TypeSystemError || strings.Contains(string(got[0].Context), "SECRET") {
		t.Errorf("auth failure alerts: %+v", got)
	}
}

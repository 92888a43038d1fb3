package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/alertbridge/alertbridge/auth"
	"github.com/alertbridge/alertbridge/console"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/destination/webhook"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/route"
	"github.com/alertbridge/alertbridge/signin"
	"github.com/alertbridge/alertbridge/store"
)

// The console user every harness has.
const (
	alice         = "alice@example.com"
	alicePassword = "correct horse battery"
)

// aliceHash is made once, at bcrypt's least cost: bcrypt is slow on
// purpose, and slower still under the race detector. (Configured hashes
// are held to auth.MinCost by config.)
var aliceHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(alicePassword), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
})

// clock is a settable time for the throttle and session expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type harness struct {
	st    store.Store
	svc   *lifecycle.Service
	srv   *httptest.Server
	clock *clock
	hook  *httptest.Server
	ui    *console.Console
}

type harnessOptions struct {
	store   store.Store // shared with another harness: a second replica
	secure  bool
	oidc    *signin.OIDC
	start   bool // run the delivery workers
	rules   []console.Rule
	sources []console.Source
}

// newHarness is the console as serve.go wires it: a real store, the alert
// service with a delivery queue, sign-in and the pages, on one mux; the
// one destination is a webhook to a receiver that answers 200.
func newHarness(t testing.TB, driver string, o harnessOptions) *harness {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := o.store
	if st == nil {
		st = testdb.Open(t, driver)
	}
	h := &harness{st: st, clock: &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	h.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	t.Cleanup(h.hook.Close)
	jl, err := jobs.New(context.Background(), jobs.Config{DB: st.Handle(), Queues: map[string]int{delivery.Queue: 4},
		JobTimeout: 10 * time.Second, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	batch := lifecycle.DefaultBatcher(st)
	q := delivery.New(jl, st, delivery.Config{
		Batch:     batch,
		Notifiers: map[string]destination.Notifier{"hook": webhook.New(webhook.Config{URL: h.hook.URL, Timeout: 5 * time.Second})},
		Logger:    logger, Metrics: delivery.NewMetrics(prometheus.NewRegistry(), st), HealthFlush: 10 * time.Millisecond,
	})
	h.svc = lifecycle.New(st, q, []lifecycle.Destination{
		{Destination: route.Destination{Name: "hook"}, Type: "webhook", ManualDispatch: true},
	}, lifecycle.Options{Batch: batch})
	if o.start {
		q.Start(context.Background())
		testdb.StartJobs(t, jl)
		t.Cleanup(q.Close)
	}
	t.Cleanup(batch.Close)
	in := signin.New(signin.Config{Store: st, Users: auth.NewUsers(map[string]string{alice: aliceHash()}), OIDC: o.oidc,
		TTL: time.Hour, Secure: o.secure, Now: h.clock.Now, Logger: logger})
	ui := console.New(console.Config{Service: h.svc, Store: st, SignIn: in, Logger: logger,
		Destinations: func() []console.Destination { return []console.Destination{{Name: "hook", Where: h.hook.URL}} },
		Rules:        func() []console.Rule { return o.rules },
		Sources:      func() []console.Source { return o.sources },
		Now:          h.clock.Now})
	h.ui = ui
	mux := http.NewServeMux()
	in.Register(mux)
	ui.Register(mux)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// client is a browser-like client: it keeps cookies and does not follow
// redirects, so that each answer can be looked at.
func (h *harness) client(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (h *harness) do(t testing.TB, c *http.Client, method, path string, form url.Values, hdr map[string]string) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// signIn signs c in as alice.
func (h *harness) signIn(t testing.TB, c *http.Client) {
	t.Helper()
	a := h.do(t, c, "POST", "/login", url.Values{"username": {alice}, "password": {alicePassword}}, nil)
	if a.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", a.status, a.body)
	}
}

// post stores an alert through the service, as ingest does.
func (h *harness) post(t testing.TB, id, title string) {
	t.Helper()
	a := lifecycle.TestAlert(h.clock.Now())
	a.AlertID, a.Title, a.Source, a.ID = id, title, "api", "Rule.Console"
	if _, err := h.svc.Ingest(context.Background(), []lifecycle.Item{{Alert: a, Actor: "token:t"}}); err != nil {
		t.Fatal(err)
	}
}

package store_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/store"
)

func openShared(t *testing.T, url string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestJiraBudgetWindows: a 429's window is in the database, a later window
// is never shortened by an earlier one, and a process that starts inside
// it (a second Sites on the same database) starts with the site closed.
func TestJiraBudgetWindows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		url := testdb.URL(t, driver)
		b := store.NewJiraBudget(openShared(t, url))
		const site = "https://example.atlassian.net"
		if until, err := b.BlockedUntil(ctx, site); err != nil || !until.IsZero() {
			t.Fatalf("a site never limited: %v %v", until, err)
		}
		later := time.Now().Add(3 * time.Second).Truncate(time.Microsecond)
		if err := b.Block(ctx, site, later); err != nil {
			t.Fatal(err)
		}
		if err := b.Block(ctx, site, later.Add(-2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if until, err := b.BlockedUntil(ctx, site); err != nil || !until.Equal(later) {
			t.Fatalf("window %v %v, want %v", until, err, later)
		}

		// A restart: a new process on the same database.
		sites := jira.NewSites()
		sites.SetBudget(store.NewJiraBudget(openShared(t, url)))
		s := sites.Get(site+"/jira", 10, 4)
		if got := s.BlockedUntil(); !got.Equal(later) {
			t.Errorf("the restarted process sees the site closed until %v, want %v", got, later)
		}
		other := sites.Get("https://other.atlassian.net", 10, 4)
		if got := other.BlockedUntil(); !got.IsZero() {
			t.Errorf("another site is closed until %v", got)
		}
	})
}

// TestJiraBudgetPace: on PostgreSQL two replicas draw from one pace, so
// together they reserve slots spaced by the interval, not two at a time;
// a quiet site's first request waits for nothing.
func TestJiraBudgetPace(t *testing.T) {
	url := testdb.URL(t, "postgres")
	ctx := context.Background()
	var replicas []jira.SharedRate
	for range 2 {
		b, ok := store.NewJiraBudget(openShared(t, url)).(jira.SharedRate)
		if !ok {
			t.Fatal("the PostgreSQL budget does not pace")
		}
		replicas = append(replicas, b)
	}
	const site, interval, n = "https://example.atlassian.net", 100 * time.Millisecond, 20
	start := time.Now()
	if wait, _, err := replicas[0].Reserve(ctx, site, interval); err != nil || wait > 10*time.Millisecond {
		t.Fatalf("first request waits %v (%v)", wait, err)
	}
	var (
		mu    sync.Mutex
		slots []time.Time
		wg    sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait, until, err := replicas[i%2].Reserve(ctx, site, interval)
			if err != nil || !until.IsZero() {
				t.Errorf("reserve: %v %v", until, err)
				return
			}
			mu.Lock()
			slots = append(slots, time.Now().Add(wait))
			mu.Unlock()
		}()
	}
	wg.Wait()
	// 21 slots 100 ms apart: the last is 2 s after the first, whichever
	// replica took it.
	var last time.Time
	for _, s := range slots {
		if s.After(last) {
			last = s
		}
	}
	if span := last.Sub(start); span < n*interval-50*time.Millisecond {
		t.Errorf("%d slots over two replicas span %v, want about %v", n+1, span, n*interval)
	}
	// A window another replica recorded comes back with the reservation.
	until := time.Now().Add(time.Second)
	if err := replicas[1].Block(ctx, site, until); err != nil {
		t.Fatal(err)
	}
	if _, got, err := replicas[0].Reserve(ctx, site, interval); err != nil || got.Before(until.Add(-time.Millisecond)) {
		t.Errorf("the reservation shows the window %v (%v), want %v", got, err, until)
	}
}

// TestSharedWindowHoldsEveryReplica: a window one replica recorded (as its
// Site does on a 429) holds a client of another replica before it sends.
func TestSharedWindowHoldsEveryReplica(t *testing.T) {
	url := testdb.URL(t, "postgres")
	var hits atomic.Int64
	jiraSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"accountId":"x"}`))
	}))
	defer jiraSrv.Close()
	ss := jira.NewSites()
	ss.SetBudget(store.NewJiraBudget(openShared(t, url)))
	site := ss.Get(jiraSrv.URL, 50, 4)
	c := jira.New(jira.Config{BaseURL: jiraSrv.URL, Deployment: jira.DeploymentCloud, Site: site})
	if _, err := c.Myself(context.Background()); err != nil || hits.Load() != 1 {
		t.Fatalf("an open site: %v, %d requests", err, hits.Load())
	}
	until := time.Now().Add(1500 * time.Millisecond)
	if err := store.NewJiraBudget(openShared(t, url)).Block(context.Background(), jira.SiteKey(jiraSrv.URL), until); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.Myself(ctx); err == nil {
		t.Error("the request did not wait for the window")
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d requests reached Jira inside another replica's window", n-1)
	}
	if got := site.BlockedUntil(); got.Before(until.Add(-time.Millisecond)) {
		t.Errorf("the site is closed until %v, want %v", got, until)
	}
}

// TestSharedConcurrency: two replicas' clients with max_concurrency 2 have
// at most 2 requests in flight at the site between them.
func TestSharedConcurrency(t *testing.T) {
	url := testdb.URL(t, "postgres")
	var inFlight, peak, hits atomic.Int64
	jiraSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(30 * time.Millisecond)
		inFlight.Add(-1)
		hits.Add(1)
		_, _ = w.Write([]byte(`{"accountId":"x"}`))
	}))
	defer jiraSrv.Close()
	var clients []*jira.Client
	for range 2 {
		ss := jira.NewSites()
		ss.SetBudget(store.NewJiraBudget(openShared(t, url)))
		clients = append(clients, jira.New(jira.Config{BaseURL: jiraSrv.URL, Deployment: jira.DeploymentCloud, Site: ss.Get(jiraSrv.URL, 1000, 2)}))
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := clients[i%2].Myself(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if hits.Load() != 20 || peak.Load() > 2 {
		t.Errorf("%d requests, at most %d in flight at once; want 20 and at most 2", hits.Load(), peak.Load())
	}
	if peak.Load() < 2 {
		t.Errorf("at most %d in flight: the slots were not both used", peak.Load())
	}
}

// TestSharedWindowHoldsPacedRequests: requests already paced to later
// slots when another replica records a window wait it out; the pace said
// when they may go, not that the site would still be open then.
func TestSharedWindowHoldsPacedRequests(t *testing.T) {
	url := testdb.URL(t, "postgres")
	var (
		mu      sync.Mutex
		arrived []time.Time
	)
	jiraSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived = append(arrived, time.Now())
		mu.Unlock()
		_, _ = w.Write([]byte(`{"accountId":"x"}`))
	}))
	defer jiraSrv.Close()
	ss := jira.NewSites()
	ss.SetBudget(store.NewJiraBudget(openShared(t, url)))
	// 5 requests a second: four requests queued behind the first are paced
	// 200, 400, 600 and 800 ms later.
	c := jira.New(jira.Config{BaseURL: jiraSrv.URL, Deployment: jira.DeploymentCloud, Site: ss.Get(jiraSrv.URL, 5, 8)})
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Myself(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(arrived)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no request reached Jira")
		}
		time.Sleep(time.Millisecond)
	}
	// Another replica's 429, as its Site records it; the window counts
	// from when the database has it.
	until := time.Now().Add(1500 * time.Millisecond)
	if err := store.NewJiraBudget(openShared(t, url)).Block(context.Background(), jira.SiteKey(jiraSrv.URL), until); err != nil {
		t.Fatal(err)
	}
	from := time.Now()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(arrived) != 5 {
		t.Fatalf("%d requests reached Jira, want 5", len(arrived))
	}
	held := 0
	for _, at := range arrived[1:] {
		// 100 ms of grace: a request the window was recorded just after
		// it was let through.
		if at.After(from.Add(100*time.Millisecond)) && at.Before(until) {
			t.Errorf("a request reached Jira %v into another replica's window", at.Sub(from).Round(time.Millisecond))
		}
		if !at.Before(until) {
			held++
		}
	}
	if held == 0 {
		t.Error("every queued request went before the window was recorded: the test showed nothing")
	}
}

// TestSharedSlotLeaseFollowsTheTimeout: a slot is leased for the longest
// request timeout of the site's clients and a margin, so that a replica
// that dies holding slots keeps them from the others (and from the process
// restarted in its place) for that long, not for a fixed minute.
func TestSharedSlotLeaseFollowsTheTimeout(t *testing.T) {
	url := testdb.URL(t, "postgres")
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	jiraSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = w.Write([]byte(`{"accountId":"x"}`))
	}))
	defer jiraSrv.Close()
	defer close(release)
	st := openShared(t, url)
	ss := jira.NewSites()
	ss.SetBudget(store.NewJiraBudget(st))
	c := jira.New(jira.Config{BaseURL: jiraSrv.URL, Deployment: jira.DeploymentCloud, Site: ss.Get(jiraSrv.URL, 100, 2), Timeout: 2 * time.Second})
	go func() { _, _ = c.Myself(context.Background()) }()
	<-arrived
	// The request holds a slot now, as a replica killed at this moment
	// would leave it.
	var heldUntil int64
	if err := st.Handle().(*pgxpool.Pool).QueryRow(context.Background(),
		`SELECT MAX(held_until) FROM jira_site_slots WHERE site = $1`, jira.SiteKey(jiraSrv.URL)).Scan(&heldUntil); err != nil {
		t.Fatal(err)
	}
	lease := time.Until(time.UnixMicro(heldUntil))
	if lease > 7*time.Second+time.Second || lease < 5*time.Second {
		t.Errorf("the slot is held for %v more, want the 2 s timeout and the 5 s margin", lease.Round(100*time.Millisecond))
	}
}

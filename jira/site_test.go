package jira

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/retryafter"
)

// siteClock is a clock a test moves by hand.
type siteClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *siteClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *siteClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSiteClock() *siteClock {
	return &siteClock{t: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
}

func TestSiteWindowFollowsItsClock(t *testing.T) {
	clock := newSiteClock()
	s := NewSite(0, 0, WithClock(clock.Now))
	t0 := clock.Now()
	if !s.BlockedUntil().IsZero() {
		t.Fatal("a new site is blocked")
	}
	s.Block(t0.Add(5 * time.Second))
	s.Block(t0.Add(2 * time.Second)) // a shorter 429 in the same burst
	if got := s.BlockedUntil(); !got.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("BlockedUntil = %v, want t0+5s", got)
	}
	clock.Add(5*time.Second - time.Nanosecond)
	if s.BlockedUntil().IsZero() {
		t.Fatal("open before the window ended")
	}
	clock.Add(time.Nanosecond)
	if got := s.BlockedUntil(); !got.IsZero() {
		t.Fatalf("BlockedUntil = %v at the end of the window", got)
	}

	// The gate reads the same clock: an hour's window that the clock says
	// has passed lets a request through at once.
	s.Block(clock.Now().Add(time.Hour))
	clock.Add(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done, err := s.acquire(ctx, false)
	if err != nil {
		t.Fatalf("acquire after the clock passed the window: %v", err)
	}
	if _, probing, _ := gateState(s); !probing {
		t.Error("the first request after a window is not the probe")
	}
	done(answer{status: http.StatusOK})
	if _, probing, reopening := gateState(s); probing || reopening {
		t.Error("a 200 to the probe did not reopen the site")
	}
}

// Whatever a server announces, one 429 closes the site for at most
// retryafter.Max.
func TestJira429ClosesTheSiteAtMostForMax(t *testing.T) {
	clock := newSiteClock()
	day := clock.Now().Add(24 * time.Hour)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"delay-seconds", http.Header{"Retry-After": {"86400"}}, retryafter.Max},
		{"http date", http.Header{"Retry-After": {day.Format(http.TimeFormat)}}, retryafter.Max},
		{"X-RateLimit-Reset", http.Header{"X-Ratelimit-Reset": {day.Format(time.RFC3339)}}, retryafter.Max},
		{"no header", http.Header{}, defaultRetryAfter},
		{"short", http.Header{"Retry-After": {"3"}}, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.WriteHeader(http.StatusTooManyRequests)
			}))
			defer srv.Close()
			site := NewSite(0, 0, WithClock(clock.Now))
			c := New(Config{BaseURL: srv.URL, Deployment: DeploymentCloud, Site: site})
			_, err := c.Myself(context.Background())
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
				t.Fatalf("want a 429 *Error, got %v", err)
			}
			if e.RetryAfter != tt.want {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.want)
			}
			if got := site.BlockedUntil(); !got.Equal(clock.Now().Add(tt.want)) {
				t.Errorf("BlockedUntil = now+%v, want now+%v", got.Sub(clock.Now()), tt.want)
			}
		})
	}
}

// stubReply is how the stub answers one request, by order of arrival.
type stubReply struct {
	status     int
	retryAfter string
	hold       chan struct{} // answer only once closed; nil answers at once
}

// siteStub is a Jira that answers by script and records when each request
// arrived and when its answer was written.
type siteStub struct {
	*httptest.Server
	script []stubReply // past its end: 200

	mu       sync.Mutex
	arrived  []time.Time
	answered []time.Time // zero: not answered (yet)
	arrival  chan int    // receives each request's index as it arrives
}

func newSiteStub(t *testing.T, script ...stubReply) *siteStub {
	s := &siteStub{script: script, arrival: make(chan int, 64)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		// Unblock held handlers, or Close waits for them for ever.
		for _, r := range s.script {
			if r.hold != nil {
				select {
				case <-r.hold:
				default:
					close(r.hold)
				}
			}
		}
		s.Close()
	})
	return s
}

func (s *siteStub) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := len(s.arrived)
	s.arrived = append(s.arrived, time.Now())
	s.answered = append(s.answered, time.Time{})
	s.mu.Unlock()
	s.arrival <- i
	rep := stubReply{status: http.StatusOK}
	if i < len(s.script) {
		rep = s.script[i]
	}
	if rep.hold != nil {
		select {
		case <-rep.hold:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	s.answered[i] = time.Now()
	s.mu.Unlock()
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write([]byte(`{}`))
}

func (s *siteStub) times() (arrived, answered []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrived...), append([]time.Time(nil), s.answered...)
}

// waitArrival returns the index of the next request to arrive.
func (s *siteStub) waitArrival(t *testing.T) int {
	t.Helper()
	select {
	case i := <-s.arrival:
		return i
	case <-time.After(5 * time.Second):
		t.Fatal("no request arrived")
		return -1
	}
}

func gateState(s *Site) (parked int, probing, reopening bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parked, s.probing, s.reopening
}

// waitParked waits until n requests wait at s's gate.
func waitParked(t *testing.T, s *Site, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, _, _ := gateState(s)
		if p == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests wait at the gate, want %d", p, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// queueMyself starts n requests on c and returns a wait for their errors.
func queueMyself(c *Client, n int) func() []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Myself(context.Background())
		}()
	}
	return func() []error { wg.Wait(); return errs }
}

// siteLimits are the shapes of Site the pacing must hold for: unlimited,
// where nothing but the gate spaces requests, and limited, where a request
// turned away by the gate must not sit on a slot the probe needs.
var siteLimits = []struct {
	name string
	rps  float64
	conc int
}{{"unlimited", 0, 0}, {"limited", 100, 1}}

// After a window one request goes alone; the rest leave only once it has
// been answered.
func TestProbeGoesAloneAfterAWindow(t *testing.T) {
	for _, lim := range siteLimits {
		t.Run(lim.name, func(t *testing.T) {
			const waiters = 4
			hold := make(chan struct{})
			srv := newSiteStub(t, stubReply{status: http.StatusTooManyRequests, retryAfter: "0.2"}, stubReply{status: http.StatusOK, hold: hold})
			site := NewSite(lim.rps, lim.conc)
			c := New(Config{BaseURL: srv.URL, Deployment: DeploymentCloud, Site: site})
			if _, err := c.Myself(context.Background()); err == nil {
				t.Fatal("the first request was not refused")
			}
			srv.waitArrival(t)
			until := site.BlockedUntil()
			if until.IsZero() {
				t.Fatal("a 429 did not close the site")
			}
			wait := queueMyself(c, waiters)

			if i := srv.waitArrival(t); i != 1 {
				t.Fatalf("request %d arrived, want the probe", i)
			}
			// The probe is held at the server: every other request must be
			// waiting at the gate, none on its way.
			waitParked(t, site, waiters-1)
			if arrived, _ := srv.times(); len(arrived) != 2 {
				t.Fatalf("%d requests at the server while the probe is unanswered, want 2", len(arrived))
			}
			close(hold)
			for i, err := range wait() {
				if err != nil {
					t.Errorf("request %d: %v", i, err)
				}
			}

			arrived, answered := srv.times()
			if len(arrived) != waiters+1 {
				t.Fatalf("%d requests arrived, want %d", len(arrived), waiters+1)
			}
			if arrived[1].Before(until) {
				t.Errorf("the probe arrived %s inside the window", until.Sub(arrived[1]))
			}
			for i := 2; i < len(arrived); i++ {
				if arrived[i].Before(answered[1]) {
					t.Errorf("request %d arrived %s before the probe's answer", i, answered[1].Sub(arrived[i]))
				}
			}
		})
	}
}

// A probe answered with another 429 keeps the others out of the new window
// too, and the next window has its own probe.
func TestProbeRefusedKeepsWaitersOutOfTheNextWindow(t *testing.T) {
	for _, lim := range siteLimits {
		t.Run(lim.name, func(t *testing.T) {
			const waiters = 4
			const second = 300 * time.Millisecond
			hold := make(chan struct{})
			srv := newSiteStub(t,
				stubReply{status: http.StatusTooManyRequests, retryAfter: "0.2"},
				stubReply{status: http.StatusTooManyRequests, retryAfter: "0.3"},
				stubReply{status: http.StatusOK, hold: hold})
			site := NewSite(lim.rps, lim.conc)
			c := New(Config{BaseURL: srv.URL, Deployment: DeploymentCloud, Site: site})
			if _, err := c.Myself(context.Background()); err == nil {
				t.Fatal("the first request was not refused")
			}
			srv.waitArrival(t)
			wait := queueMyself(c, waiters)

			if i := srv.waitArrival(t); i != 1 {
				t.Fatalf("request %d arrived, want the first probe", i)
			}
			if i := srv.waitArrival(t); i != 2 {
				t.Fatalf("request %d arrived, want the second probe", i)
			}
			waitParked(t, site, waiters-2)
			if arrived, _ := srv.times(); len(arrived) != 3 {
				t.Fatalf("%d requests at the server while the second probe is unanswered, want 3", len(arrived))
			}
			close(hold)
			errs := wait()
			refused := 0
			for _, err := range errs {
				var e *Error
				if errors.As(err, &e) && e.Status == http.StatusTooManyRequests {
					refused++
				} else if err != nil {
					t.Error(err)
				}
			}
			if refused != 1 {
				t.Errorf("%d waiters were refused, want the first probe only", refused)
			}

			arrived, answered := srv.times()
			if len(arrived) != waiters+1 {
				t.Fatalf("%d requests arrived, want %d", len(arrived), waiters+1)
			}
			// The client's window starts when it reads the 429, which is
			// after the server wrote it.
			end := answered[1].Add(second)
			for i := 2; i < len(arrived); i++ {
				if arrived[i].Before(end) {
					t.Errorf("request %d arrived %s inside the second window", i, end.Sub(arrived[i]))
				}
			}
			for i := 3; i < len(arrived); i++ {
				if arrived[i].Before(answered[2]) {
					t.Errorf("request %d arrived %s before the second probe's answer", i, answered[2].Sub(arrived[i]))
				}
			}
		})
	}
}

// A probe that times out has no answer to wait for: the others go.
func TestProbeWithoutAnswerReleasesTheOthers(t *testing.T) {
	const waiters = 3
	never := make(chan struct{})
	srv := newSiteStub(t, stubReply{status: http.StatusTooManyRequests, retryAfter: "0.1"}, stubReply{status: http.StatusOK, hold: never})
	site := NewSite(0, 0)
	c := New(Config{BaseURL: srv.URL, Deployment: DeploymentCloud, Site: site, Timeout: 200 * time.Millisecond})
	if _, err := c.Myself(context.Background()); err == nil {
		t.Fatal("the first request was not refused")
	}
	srv.waitArrival(t)
	errs := queueMyself(c, waiters)()
	timedOut := 0
	for _, err := range errs {
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			timedOut++
		default:
			t.Error(err)
		}
	}
	if timedOut != 1 {
		t.Errorf("%d requests timed out, want the probe alone", timedOut)
	}
	arrived, _ := srv.times()
	if len(arrived) != waiters+1 {
		t.Fatalf("%d requests arrived, want %d", len(arrived), waiters+1)
	}
	if _, probing, reopening := gateState(site); probing || reopening {
		t.Error("the site still waits for a probe")
	}
}

// A probe that gives up before it is sent hands its place to the next
// waiter: nothing was learnt, and the next one can go at once.
func TestAbandonedProbePromotesTheNextWaiter(t *testing.T) {
	s := NewSite(0, 1)
	ctx := context.Background()
	// The one slot is taken by a request sent before the 429.
	inFlight, err := s.acquire(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	s.Block(s.now())

	pctx, cancel := context.WithCancel(ctx)
	probeErr := make(chan error, 1)
	go func() {
		_, err := s.acquire(pctx, false)
		probeErr <- err
	}()
	waitForState(t, "a probe", func() bool { _, probing, _ := gateState(s); return probing })

	type result struct {
		done func(answer) closing
		err  error
	}
	passed := make(chan result, 2)
	for range 2 {
		go func() {
			done, err := s.acquire(ctx, false)
			passed <- result{done, err}
		}()
	}
	waitParked(t, s, 2)
	cancel()
	if err := <-probeErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled probe: %v", err)
	}
	// One waiter took over as probe and now waits for the slot.
	waitParked(t, s, 1)
	if _, probing, _ := gateState(s); !probing {
		t.Fatal("nobody took over the probe")
	}
	// An answer to a request sent before the window proves nothing: it
	// frees the slot for the new probe and no more.
	inFlight(answer{status: http.StatusOK})
	var probe result
	select {
	case probe = <-passed:
	case <-time.After(5 * time.Second):
		t.Fatal("the new probe did not pass")
	}
	if probe.err != nil {
		t.Fatal(probe.err)
	}
	if p, _, reopening := gateState(s); p != 1 || !reopening {
		t.Fatalf("parked %d, reopening %v: the last waiter went before the probe's answer", p, reopening)
	}
	probe.done(answer{status: http.StatusOK})
	select {
	case r := <-passed:
		if r.err != nil {
			t.Fatal(r.err)
		}
		r.done(answer{status: http.StatusOK})
	case <-time.After(5 * time.Second):
		t.Fatal("the probe's answer did not release the last waiter")
	}
}

// A probe sent before a later 429 was answered says nothing about that 429's
// window: the next window needs its own probe.
func TestProbeAnsweredAfterANewer429ProvesNothing(t *testing.T) {
	clock := newSiteClock()
	s := NewSite(0, 0, WithClock(clock.Now))
	ctx := context.Background()
	early, err := s.acquire(ctx, false) // sent while the site was open
	if err != nil {
		t.Fatal(err)
	}
	s.Block(clock.Now())
	probe, err := s.acquire(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	early(answer{status: http.StatusTooManyRequests, until: clock.Now()})
	probe(answer{status: http.StatusOK})
	if _, probing, reopening := gateState(s); probing || !reopening {
		t.Fatalf("probing %v, reopening %v; want a new probe to be due", probing, reopening)
	}
	next, err := s.acquire(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, probing, _ := gateState(s); !probing {
		t.Fatal("the request after the newer 429 is not a probe")
	}
	next(answer{status: http.StatusOK})
	if _, _, reopening := gateState(s); reopening {
		t.Fatal("the new probe's 200 did not reopen the site")
	}
}

func waitForState(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestNearLimitCreatesFirst: once Jira says the site is near its limit, a
// create queued behind an update for the one free slot goes first.
func TestNearLimitCreatesFirst(t *testing.T) {
	ctx := context.Background()
	s := NewSite(0, 1)
	waitState := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			s.mu.Lock()
			ok := cond()
			s.mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("never %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	first, err := s.acquire(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	first(answer{status: 200, nearLimit: true})
	hold, err := s.acquire(ctx, false) // the one slot
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 2)
	run := func(name string, create bool) {
		done, err := s.acquire(ctx, create)
		if err != nil {
			t.Error(err)
			return
		}
		order <- name
		done(answer{status: 200, nearLimit: true})
	}
	go run("update", false)
	waitState("the update waits for the slot", func() bool { return s.slotWaits == 1 })
	go run("create", true)
	waitState("the create waits too", func() bool { return s.slotWaits == 2 })
	hold(answer{status: 200, nearLimit: true})
	if a, b := <-order, <-order; a != "create" || b != "update" {
		t.Errorf("went in the order %s, %s; want the create first", a, b)
	}

	// Away from the limit, first come is first served.
	s2 := NewSite(0, 1)
	s = s2
	hold, _ = s.acquire(ctx, false)
	go run("update", false)
	waitState("the update waits for the slot", func() bool { return s.slotWaits == 1 })
	go run("create", true)
	waitState("the create waits too", func() bool { return s.slotWaits == 2 })
	hold(answer{status: 200})
	if a := <-order; a != "update" {
		t.Errorf("away from the limit %s went first, want the update", a)
	}
	<-order
}

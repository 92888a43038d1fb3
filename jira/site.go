package jira

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Site holds what every client of one Jira site must share: Jira limits and
// throttles per site (per tenant on Cloud), not per alertbridge destination,
// so two destinations pointing at the same site must spend one budget and
// respect one Retry-After.
type Site struct {
	limiter *rate.Limiter
	sem     chan struct{}

	mu           sync.Mutex
	blockedUntil time.Time
	wake         chan struct{} // closed and replaced when the gate moves, so waiters re-read it
}

// NewSite returns a Site allowing requestsPerSecond on average (bursting to
// one second's worth) and at most maxConcurrency requests in flight. Zero or
// negative values mean no limit of that kind.
func NewSite(requestsPerSecond float64, maxConcurrency int) *Site {
	s := &Site{wake: make(chan struct{})}
	if requestsPerSecond > 0 {
		burst := int(requestsPerSecond)
		if burst < 1 {
			burst = 1
		}
		s.limiter = rate.NewLimiter(rate.Limit(requestsPerSecond), burst)
	}
	if maxConcurrency > 0 {
		s.sem = make(chan struct{}, maxConcurrency)
	}
	return s
}

// BlockedUntil reports the end of the current Retry-After window, or the zero
// time when the site is open.
func (s *Site) BlockedUntil() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Now().After(s.blockedUntil) {
		return time.Time{}
	}
	return s.blockedUntil
}

// Block closes the site until t. An earlier t than the current gate is
// ignored: several 429s in a burst must not shorten the wait.
func (s *Site) Block(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.After(s.blockedUntil) {
		s.blockedUntil = t
		close(s.wake)
		s.wake = make(chan struct{})
	}
}

// waitGate returns once the site is not blocked, or ctx is done.
func (s *Site) waitGate(ctx context.Context) error {
	for {
		s.mu.Lock()
		until, wake := s.blockedUntil, s.wake
		s.mu.Unlock()
		d := time.Until(until)
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// acquire waits for the gate, a concurrency slot and a rate token, in that
// order, and checks the gate once more last: a 429 that arrived while this
// request queued for a token must still hold it back. The returned release
// frees the slot.
func (s *Site) acquire(ctx context.Context) (func(), error) {
	if err := s.waitGate(ctx); err != nil {
		return nil, err
	}
	release := func() {}
	if s.sem != nil {
		select {
		case s.sem <- struct{}{}:
			release = func() { <-s.sem }
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.limiter != nil {
		if err := s.limiter.Wait(ctx); err != nil {
			release()
			return nil, err
		}
	}
	if err := s.waitGate(ctx); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// Sites hands out one Site per Jira site (scheme and host), so destinations
// on the same site share its limits.
type Sites struct {
	mu    sync.Mutex
	sites map[string]*Site
}

// NewSites returns an empty registry.
func NewSites() *Sites { return &Sites{sites: map[string]*Site{}} }

// Get returns the Site for baseURL's scheme and host, creating it with rps
// and conc the first time; later callers share the first caller's limits.
func (s *Sites) Get(baseURL string, rps float64, conc int) *Site {
	key := siteKey(baseURL)
	s.mu.Lock()
	defer s.mu.Unlock()
	if site, ok := s.sites[key]; ok {
		return site
	}
	site := NewSite(rps, conc)
	s.sites[key] = site
	return site
}

func siteKey(baseURL string) string {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || u.Host == "" {
		return strings.ToLower(strings.TrimRight(baseURL, "/"))
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

package jira

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/alertbridge/alertbridge/internal/redact"
)

// Site holds what every client of one Jira site must share: Jira limits and
// throttles per site (per tenant on Cloud), not per alertbridge destination,
// so two destinations pointing at the same site must spend one budget and
// respect one Retry-After.
//
// After a Retry-After window the site reopens with one request, the probe;
// the others wait for its answer. Were they all released when the window
// ends, a site that still limits would get the whole queue inside its next
// window; held back, it gets one request per window.
type Site struct {
	limiter *rate.Limiter
	sem     chan struct{}
	now     func() time.Time

	mu           sync.Mutex
	blockedUntil time.Time
	// reopening is set by a 429 and cleared when a probe sent after it is
	// answered with anything else; while set, requests go one at a time.
	reopening bool
	probing   bool          // a request holds the probe's place and has no answer yet
	gen       uint64        // counts 429s: a probe sent before the latest one proves nothing about it
	parked    int           // requests waiting at the gate, so tests can wait for a state instead of sleeping
	wake      chan struct{} // closed and replaced when the gate moves, so waiters re-read it

	lagMu      sync.Mutex // see indexlag.go
	lag        time.Duration
	lagAt      time.Time
	lagProbing bool
}

// SiteOption configures a Site.
type SiteOption func(*Site)

// WithClock makes the Site read the time from now for its window arithmetic:
// Block, BlockedUntil and the end of a 429's window. Waits remain real timers
// of the length now says is left, so a test that moves its clock should not
// expect a sleeping request to notice.
func WithClock(now func() time.Time) SiteOption {
	return func(s *Site) { s.now = now }
}

// NewSite returns a Site allowing requestsPerSecond on average (bursting to
// one second's worth) and at most maxConcurrency requests in flight. Zero or
// negative values mean no limit of that kind.
func NewSite(requestsPerSecond float64, maxConcurrency int, opts ...SiteOption) *Site {
	s := &Site{wake: make(chan struct{}), now: time.Now}
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
	for _, o := range opts {
		o(s)
	}
	return s
}

// BlockedUntil reports the end of the current Retry-After window, or the zero
// time when the site is open. The probe that follows a window is not part of
// it: a caller that snoozes while the site is blocked should come back when
// the window ends, and then queue at the gate like any request.
func (s *Site) BlockedUntil() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.now().Before(s.blockedUntil) {
		return time.Time{}
	}
	return s.blockedUntil
}

// Block closes the site until t, and makes the first request after t a probe.
// An earlier t than the current gate is ignored: several 429s in a burst must
// not shorten the wait.
func (s *Site) Block(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block(t)
}

// closing is what one 429 did to the site's window, for Observer.
type closing struct {
	opened bool          // the site was open: a new window began
	added  time.Duration // how much longer the site is closed than before
}

func (s *Site) block(t time.Time) closing {
	now := s.now()
	from := s.blockedUntil
	c := closing{opened: !now.Before(from)}
	if c.opened {
		from = now
	}
	if t.After(from) {
		c.added = t.Sub(from)
	}
	if t.After(s.blockedUntil) {
		s.blockedUntil = t
	}
	s.reopening = true
	s.gen++
	s.broadcast()
	return c
}

func (s *Site) broadcast() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// answer is what the Site learns from a request it let through.
type answer struct {
	status int       // 0: no answer (transport error, timeout, cancelled)
	until  time.Time // for a 429: the end of the window it announced
}

// pass is one request's way through the gate.
type pass struct {
	probe bool   // it holds the probe's place
	gen   uint64 // Site.gen when it was sent, for a probe
}

// acquire waits for the gate, a concurrency slot and a rate token, in that
// order, and checks the gate once more last: a 429 that arrived while this
// request queued for a token must still hold it back. A request the last
// check turns away gives its slot back and queues again, since the probe it
// would wait for may need that slot.
//
// The returned func must be called once, with what became of the request:
// it frees the slot, closes the site on a 429 (saying what that did to the
// window) and, for the probe, lets the requests behind it go.
func (s *Site) acquire(ctx context.Context) (func(answer) closing, error) {
	p := &pass{}
	for {
		if err := s.waitGate(ctx, p); err != nil {
			s.abandon(p)
			return nil, err
		}
		if s.sem != nil {
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				s.abandon(p)
				return nil, ctx.Err()
			}
		}
		if s.limiter != nil {
			if err := s.limiter.Wait(ctx); err != nil {
				s.freeSlot()
				s.abandon(p)
				return nil, err
			}
		}
		if s.enter(p) {
			return func(a answer) closing { return s.answered(p, a) }, nil
		}
		s.freeSlot()
	}
}

// waitGate returns once p may pass the gate, or ctx is done.
func (s *Site) waitGate(ctx context.Context, p *pass) error {
	for {
		s.mu.Lock()
		left := s.blockedUntil.Sub(s.now())
		open := left <= 0 && s.mayGo(p)
		wake := s.wake
		if !open {
			s.parked++
		}
		s.mu.Unlock()
		if open {
			return nil
		}
		err := sleepAtGate(ctx, wake, left)
		s.mu.Lock()
		s.parked--
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// sleepAtGate waits for ctx, wake or, when d is positive, d.
func sleepAtGate(ctx context.Context, wake <-chan struct{}, d time.Duration) error {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-wake:
	case <-timeout:
	}
	return nil
}

// mayGo reports whether p may pass a gate whose window has passed, making p
// the probe if the site is reopening and nobody is. Call with s.mu held.
func (s *Site) mayGo(p *pass) bool {
	if !s.reopening || p.probe {
		return true
	}
	if s.probing {
		return false
	}
	s.probing, p.probe = true, true
	return true
}

// enter is the last check before p is sent.
func (s *Site) enter(p *pass) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.now().Before(s.blockedUntil) || !s.mayGo(p) {
		return false
	}
	p.gen = s.gen
	return true
}

// abandon gives up p's place when it will not be sent. A probe that was never
// sent learnt nothing about the site, so it hands the probe's place to the
// next waiter rather than releasing them all: that costs them no time, since
// the next one goes at once.
func (s *Site) abandon(p *pass) {
	if !p.probe {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.probe, s.probing = false, false
	s.broadcast()
}

// answered records what became of a request that was sent. Only a 429 keeps
// the site closed: a probe answered otherwise, or not at all (a transport
// error, a timeout, a cancelled context), releases the requests behind it.
// A probe without an answer carries no sign that Jira still limits, and
// holding the queue behind a site that hangs would send one request per
// timeout; the released requests still pass the rate limiter and the
// concurrency limit.
func (s *Site) answered(p *pass, a answer) closing {
	s.mu.Lock()
	var c closing
	if a.status == http.StatusTooManyRequests {
		c = s.block(a.until)
	}
	if p.probe {
		p.probe, s.probing = false, false
		if a.status != http.StatusTooManyRequests && s.gen == p.gen {
			s.reopening = false
		}
		s.broadcast()
	}
	s.mu.Unlock()
	// Only now: a request that takes this slot must already see the window
	// this answer opened.
	s.freeSlot()
	return c
}

func (s *Site) freeSlot() {
	if s.sem != nil {
		<-s.sem
	}
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
		// Redacted: the key labels metrics, and a URL that does not parse
		// may be one with a password in it.
		return strings.ToLower(strings.TrimRight(redact.URL(baseURL), "/"))
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

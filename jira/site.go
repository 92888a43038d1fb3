package jira

import (
	"context"
	"errors"
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
	slotWaits int           // requests waiting for a concurrency slot, likewise
	wake      chan struct{} // closed and replaced when the gate moves, so waiters re-read it

	// creates counts create requests on their way through acquire; near
	// the limit (nearLimit: Jira's last answer said X-RateLimit-NearLimit)
	// other requests let them go first.
	creates   int
	nearLimit bool

	longest time.Duration // the longest request timeout of the site's clients (see serves)

	// key and budget, when set, share the site's window (and with a
	// SharedRate its pace) with every process using the same database.
	key    string
	budget Budget

	lagMu      sync.Mutex // see indexlag.go
	lag        time.Duration
	lagAt      time.Time
	lagProbing bool
}

// Budget keeps what every process on one database must agree on about a
// Jira site: the Retry-After window a 429 opened, so that a 429 one replica
// received closes the site for all, and a process that starts inside a
// window knows of it.
type Budget interface {
	// Block records that site is closed until until; a later window
	// already recorded stays.
	Block(ctx context.Context, site string, until time.Time) error
	// BlockedUntil reads the site's recorded window (zero: none).
	BlockedUntil(ctx context.Context, site string) (time.Time, error)
}

// SharedRate is a Budget that also paces the site's requests across
// processes: one request rate for the site, not one per replica.
type SharedRate interface {
	Budget
	// Reserve takes the site's next request slot, requests spaced interval
	// apart, and says how long to wait before sending it, and the window
	// recorded for the site (which, when it has not passed, the request
	// must wait out instead).
	Reserve(ctx context.Context, site string, interval time.Duration) (wait time.Duration, blockedUntil time.Time, err error)
}

// budgetTimeout bounds one call to the Budget: a database that does not
// answer must not hold Jira traffic for long.
const budgetTimeout = 2 * time.Second

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
	status    int       // 0: no answer (transport error, timeout, cancelled)
	until     time.Time // for a 429: the end of the window it announced
	reason    string    // for a 429: RateLimit-Reason
	nearLimit bool      // X-RateLimit-NearLimit: true
	unused    bool      // the pass was not used: nothing was sent
}

// pass is one request's way through the gate.
type pass struct {
	probe  bool   // it holds the probe's place
	gen    uint64 // Site.gen when it was sent, for a probe
	create bool   // a create: near the limit it goes first
	shared int    // the slot shared across processes it holds, plus one (0: none)
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
func (s *Site) acquire(ctx context.Context, create bool) (func(answer) closing, error) {
	p := &pass{create: create}
	if create {
		s.mu.Lock()
		s.creates++
		s.mu.Unlock()
		defer s.createGone()
	}
	for {
		if err := s.waitGate(ctx, p); err != nil {
			s.abandon(p)
			return nil, err
		}
		if s.sem != nil {
			s.mu.Lock()
			s.slotWaits++
			s.mu.Unlock()
			var err error
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				err = ctx.Err()
			}
			s.mu.Lock()
			s.slotWaits--
			s.mu.Unlock()
			if err != nil {
				s.abandon(p)
				return nil, err
			}
		}
		paced, err := s.pace(ctx)
		if err != nil {
			s.freeSlot()
			if errors.Is(err, errWindow) {
				continue // the gate now holds the window another process saw
			}
			s.abandon(p)
			return nil, err
		}
		held, polled, err := s.takeShared(ctx)
		if err != nil {
			s.freeSlot()
			s.abandon(p)
			return nil, err
		}
		p.shared = held
		// What the database said of the window is as old as its answer: a
		// request that waited since, for its paced turn or a shared slot,
		// asks again, or it would go out inside a window another replica
		// opened meanwhile.
		if (paced || polled) && s.sharedWindow(ctx) {
			s.freeShared(p)
			s.freeSlot()
			continue
		}
		if s.enter(p) {
			return func(a answer) closing { return s.answered(p, a) }, nil
		}
		s.freeShared(p)
		s.freeSlot()
	}
}

// SharedSlots is a Budget that also bounds the site's requests in flight
// across processes: max_concurrency for the site, not per replica.
type SharedSlots interface {
	Budget
	// TakeSlot takes a free one of the site's n slots for lease; ok is
	// false when all are held.
	TakeSlot(ctx context.Context, site string, n int, lease time.Duration) (slot int, ok bool, err error)
	FreeSlot(ctx context.Context, site string, slot int) error
}

// slotMargin is what a shared slot's lease adds to the longest request
// timeout of the site's clients: a request holds its slot from just
// before it is sent until its answer is read (within the timeout) and a
// 429's window recorded (within budgetTimeout).
const slotMargin = 5 * time.Second

// serves makes the site's shared slots leased long enough for a client
// whose requests may take timeout. The lease bounds how long a replica
// that died holding a slot keeps it from the others: the longest timeout
// and a margin, not more (a fixed 65 s stalled a restarted process whose
// predecessor died with every slot held).
func (s *Site) serves(timeout time.Duration) {
	s.mu.Lock()
	s.longest = max(s.longest, timeout)
	s.mu.Unlock()
}

func (s *Site) slotLease() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.longest <= 0 {
		return DefaultTimeout + slotMargin
	}
	return s.longest + slotMargin
}

// takeShared takes one of the site's slots shared across processes, when
// the budget keeps them, and returns it plus one (0: none taken), and
// whether it had to wait for one. While every slot is held it polls,
// backing off to 100 ms. A budget that fails to answer is passed by: the
// local bound still holds.
func (s *Site) takeShared(ctx context.Context) (slot int, polled bool, err error) {
	ss, ok := s.budget.(SharedSlots)
	if !ok || s.sem == nil {
		return 0, false, nil
	}
	for wait := 2 * time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		bctx, cancel := context.WithTimeout(ctx, budgetTimeout)
		slot, got, err := ss.TakeSlot(bctx, s.key, cap(s.sem), s.slotLease())
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return 0, polled, ctx.Err()
		case err != nil:
			return 0, polled, nil
		case got:
			return slot + 1, polled, nil
		}
		polled = true
		if err := sleepCtx(ctx, wait); err != nil {
			return 0, polled, err
		}
	}
}

// sharedWindow reads the window the budget records and closes the gate
// when it has not passed, reporting whether it did. A budget that fails
// to answer is passed by, as in pace.
func (s *Site) sharedWindow(ctx context.Context) bool {
	if s.budget == nil {
		return false
	}
	bctx, cancel := context.WithTimeout(ctx, budgetTimeout)
	until, err := s.budget.BlockedUntil(bctx, s.key)
	cancel()
	return err == nil && s.adopt(until)
}

// adopt closes the gate until the end of a window the budget recorded,
// reporting whether that window has not passed.
func (s *Site) adopt(until time.Time) bool {
	if !s.now().Before(until) {
		return false
	}
	s.Block(until)
	return true
}

func (s *Site) freeShared(p *pass) {
	if p.shared == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), budgetTimeout)
	_ = s.budget.(SharedSlots).FreeSlot(ctx, s.key, p.shared-1)
	cancel()
	p.shared = 0
}

// errWindow says the shared budget knew of a window this process did not.
var errWindow = errors.New("jira: the site is closed by a Retry-After another process received")

// pace waits for the site's next request slot: the shared one when the
// budget paces across processes, else this process's limiter. A shared
// budget that fails to answer falls back to the local limiter: sharing is
// lost for that request, not the request. It reports whether it waited
// for a shared slot after the budget last said the site was open.
func (s *Site) pace(ctx context.Context) (bool, error) {
	if sr, ok := s.budget.(SharedRate); ok && s.interval() > 0 {
		bctx, cancel := context.WithTimeout(ctx, budgetTimeout)
		wait, until, err := sr.Reserve(bctx, s.key, s.interval())
		cancel()
		if err == nil {
			if s.adopt(until) {
				return false, errWindow
			}
			return wait > 0, sleepCtx(ctx, wait)
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
	if s.limiter != nil {
		return false, s.limiter.Wait(ctx)
	}
	return false, nil
}

// interval is the spacing of requests the limiter allows on average.
func (s *Site) interval() time.Duration {
	if s.limiter == nil || s.limiter.Limit() <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / float64(s.limiter.Limit()))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Site) createGone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates--
	if s.creates == 0 && s.nearLimit {
		s.broadcast()
	}
}

// waitGate returns once p may pass the gate, or ctx is done.
func (s *Site) waitGate(ctx context.Context, p *pass) error {
	for {
		s.mu.Lock()
		left := s.blockedUntil.Sub(s.now())
		// Near the limit, requests other than creates wait while creates
		// are queued: a new alert's issue matters more than a sync.
		open := left <= 0 && !s.yields(p) && s.mayGo(p)
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
	if s.now().Before(s.blockedUntil) || s.yields(p) || !s.mayGo(p) {
		return false
	}
	p.gen = s.gen
	return true
}

// yields reports whether p, not a create, must let queued creates go
// first: Jira said the site is near its limit. Call with s.mu held.
func (s *Site) yields(p *pass) bool {
	return s.nearLimit && !p.create && s.creates > 0
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
	if a.status != 0 && a.nearLimit != s.nearLimit {
		s.nearLimit = a.nearLimit
		s.broadcast()
	}
	if p.probe {
		p.probe, s.probing = false, false
		if !a.unused && a.status != http.StatusTooManyRequests && s.gen == p.gen {
			s.reopening = false
		}
		s.broadcast()
	}
	s.mu.Unlock()
	if a.status == http.StatusTooManyRequests && s.budget != nil {
		// Before the slot is freed: the other replicas must hear of the
		// window as soon as this one does. A failure costs them a 429 of
		// their own, not correctness here.
		ctx, cancel := context.WithTimeout(context.Background(), budgetTimeout)
		_ = s.budget.Block(ctx, s.key, a.until)
		cancel()
	}
	// Only now: a request that takes this slot must already see the window
	// this answer opened.
	s.freeShared(p)
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
	mu     sync.Mutex
	sites  map[string]*Site
	budget Budget
}

// NewSites returns an empty registry.
func NewSites() *Sites { return &Sites{sites: map[string]*Site{}} }

// SetBudget makes the Sites created from now on share their windows (and,
// for a SharedRate, their pace) through b.
func (s *Sites) SetBudget(b Budget) {
	s.mu.Lock()
	s.budget = b
	s.mu.Unlock()
}

// Get returns the Site for baseURL's scheme and host, creating it with rps
// and conc the first time; later callers share the first caller's limits.
// A new Site starts closed when the budget records a window that has not
// passed: a process that starts inside one keeps to it.
func (s *Sites) Get(baseURL string, rps float64, conc int) *Site {
	key := siteKey(baseURL)
	s.mu.Lock()
	defer s.mu.Unlock()
	if site, ok := s.sites[key]; ok {
		return site
	}
	site := NewSite(rps, conc)
	if s.budget != nil {
		site.key, site.budget = key, s.budget
		site.sharedWindow(context.Background())
	}
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

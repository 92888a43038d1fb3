package alerts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/route"
	"github.com/alertbridge/alertbridge/store"
)

// Item is one alert to accept.
type Item struct {
	Alert *alert.Alert
	// Resolved marks a notification that the alert has ended (Alertmanager's
	// "resolved"): it resolves a stored alert instead of raising one.
	Resolved bool
	// Actor names who sent it, for the timeline.
	Actor string
}

// Result says what accepting one item did.
type Result struct {
	AlertID      string
	Duplicate    bool
	Reopened     bool
	Resolved     bool
	Destinations []string
}

// ErrClosed is returned by Ingest after Close.
var ErrClosed = errors.New("alert service is shutting down")

// Ingest accepts alerts. When it returns without error they are on disk with
// their deliveries queued. Items of one call commit together.
func (s *Service) Ingest(ctx context.Context, items []Item) ([]Result, error) {
	return s.batch.submit(ctx, items)
}

// apply accepts one item inside a group commit.
func (s *Service) apply(ctx context.Context, tx store.Tx, it Item, deliveries *[]*store.Delivery) (Result, error) {
	a := it.Alert
	res := Result{AlertID: a.AlertID}
	now := s.now()
	if it.Resolved {
		return s.applyResolved(ctx, tx, it, now)
	}
	inserted, err := tx.InsertAlert(ctx, a)
	if err != nil {
		return res, err
	}
	if !inserted {
		res.Duplicate = true
		if a.Source != alert.SourceAlertmanager {
			return res, nil
		}
		// Alertmanager fires the same fingerprint again after resolving it:
		// the alert is back, so reopen it rather than drop the news.
		cur, err := tx.LockAlert(ctx, a.AlertID)
		if err != nil {
			return res, err
		}
		if cur.Status != alert.StatusResolved {
			return res, nil
		}
		cur.Status, cur.UpdatedAt = alert.StatusOpen, now
		res.Reopened = true
		if err := tx.UpdateAlertState(ctx, cur); err != nil {
			return res, err
		}
		return res, tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: it.Actor, Action: alert.ActionReopened, Detail: "firing again"})
	}
	if err := tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: it.Actor, Action: alert.ActionCreated, Detail: "from " + string(a.Source)}); err != nil {
		return res, err
	}
	d := route.Route(route.InputOf(a), s.routes())
	action := alert.ActionRouted
	if len(d.Destinations) == 0 {
		action = alert.ActionUnrouted
	}
	if err := tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: "alertbridge", Action: action, Detail: d.String()}); err != nil {
		return res, err
	}
	for _, name := range d.Destinations {
		*deliveries = append(*deliveries, &store.Delivery{AlertID: a.AlertID, Destination: name, Reason: "routed",
			State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now})
	}
	res.Destinations = d.Destinations
	return res, nil
}

func (s *Service) applyResolved(ctx context.Context, tx store.Tx, it Item, now time.Time) (Result, error) {
	a := it.Alert
	res := Result{AlertID: a.AlertID, Resolved: true}
	cur, err := tx.LockAlert(ctx, a.AlertID)
	if errors.Is(err, store.ErrNotFound) {
		// Resolved before we ever saw it firing: keep the record, but there
		// is nothing left for anyone to act on, so it goes nowhere.
		a.Status = alert.StatusResolved
		if _, err := tx.InsertAlert(ctx, a); err != nil {
			return res, err
		}
		if err := tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: it.Actor, Action: alert.ActionCreated, Detail: "from " + string(a.Source)}); err != nil {
			return res, err
		}
		return res, tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: "alertbridge", Action: alert.ActionUnrouted,
			Detail: "first seen already resolved; not routed"})
	}
	if err != nil {
		return res, err
	}
	if cur.Status == alert.StatusResolved || cur.Status == alert.StatusClosed {
		res.Duplicate = true
		return res, nil
	}
	detail := fmt.Sprintf("%s → %s", cur.Status, alert.StatusResolved)
	cur.Status, cur.UpdatedAt = alert.StatusResolved, now
	if err := tx.UpdateAlertState(ctx, cur); err != nil {
		return res, err
	}
	return res, tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: it.Actor, Action: alert.ActionStatusChanged, Detail: detail})
}

// committer groups concurrent Ingest calls into shared transactions: one
// commit (and on SQLite one fsync) serves every request waiting at that
// moment, which is what lets a single writer keep up with many clients.
type committer struct {
	s        *Service
	in       chan *request
	maxBatch int
	mu       sync.RWMutex
	closed   bool
	wg       sync.WaitGroup
}

type request struct {
	ctx     context.Context
	items   []Item
	results []Result
	err     error
	done    chan struct{}
}

func newCommitter(s *Service, writers, maxBatch int) *committer {
	c := &committer{s: s, in: make(chan *request, 4*maxBatch), maxBatch: maxBatch}
	for range writers {
		c.wg.Add(1)
		go c.loop()
	}
	return c
}

func (c *committer) submit(ctx context.Context, items []Item) ([]Result, error) {
	r := &request{ctx: ctx, items: items, done: make(chan struct{})}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case c.in <- r:
	case <-ctx.Done():
		c.mu.RUnlock()
		return nil, ctx.Err()
	}
	c.mu.RUnlock()
	// Once queued, the request is answered whatever happens to ctx: the
	// caller must learn whether its alerts were stored.
	<-r.done
	return r.results, r.err
}

func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.in)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *committer) loop() {
	defer c.wg.Done()
	for first := range c.in {
		batch, n := []*request{first}, len(first.items)
	gather:
		for n < c.maxBatch {
			select {
			case r, ok := <-c.in:
				if !ok {
					break gather
				}
				batch, n = append(batch, r), n+len(r.items)
			default:
				break gather
			}
		}
		if err := c.commit(batch); err != nil && len(batch) > 1 {
			// One bad request must not fail the others: retry each alone.
			for _, r := range batch {
				_ = c.commit([]*request{r})
			}
		}
		for _, r := range batch {
			close(r.done)
		}
	}
}

func (c *committer) commit(batch []*request) error {
	// The writer's context, not the callers': a caller going away must not
	// abort a commit other callers share.
	ctx := context.Background()
	var deliveries []*store.Delivery
	err := c.s.st.InTx(ctx, func(tx store.Tx) error {
		deliveries = deliveries[:0]
		for _, r := range batch {
			r.results = make([]Result, len(r.items))
			for i, it := range r.items {
				res, err := c.s.apply(ctx, tx, it, &deliveries)
				if err != nil {
					return fmt.Errorf("accept alert %s: %w", it.Alert.AlertID, err)
				}
				r.results[i] = res
			}
		}
		return c.s.q.Enqueue(ctx, tx, deliveries)
	})
	for _, r := range batch {
		if err != nil {
			r.results, r.err = nil, err
		} else {
			r.err = nil
		}
	}
	return err
}

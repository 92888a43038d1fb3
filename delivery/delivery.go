// Package delivery carries alerts to destinations as durable jobs. A job is
// written in the same transaction as the change that caused it, so an
// accepted alert always has its deliveries. Each attempt is claimed in the
// delivery's own row before anything is sent, so a later attempt knows from
// our rows alone whether an earlier one may have reached the destination;
// the jobs layer decides retries from the error a destination classifies.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/store"
)

// Queue is the jobs queue deliveries run on.
const Queue = "deliver"

// Config tunes deliveries. Zero values take the defaults noted.
type Config struct {
	// Notifiers maps destination names to their notifiers.
	Notifiers map[string]destination.Notifier
	// MaxAttempts gives a destination's attempt budget; default 12.
	MaxAttempts func(destination string) int
	// AttemptBound is the longest one attempt can have gone on sending
	// (the jobs' timeout): an attempt that died mid-send cannot have
	// reached the destination later than its start plus this. Default 1m.
	AttemptBound time.Duration
	Logger       *slog.Logger
	Metrics      *Metrics
	// Batch, when set, group-commits each attempt's claim and outcome with
	// other writes, so that deliveries finishing together share one commit.
	Batch *store.Batcher
	// OnLinked is called in the transaction that links an alert to the
	// issue a delivery created or found, so that what the issue must
	// follow (changes made before it existed) is queued with the link.
	OnLinked func(ctx context.Context, tx store.Tx, alertID, destination string) error
	// HealthFlush is how often destinations' last success and error are
	// written; default 1s.
	HealthFlush time.Duration
	Now         func() time.Time // tests
}

// Deliverer enqueues and works deliveries.
type Deliverer struct {
	// notifiers are swapped whole on a reload; an attempt uses the one it
	// read, and a delivery in flight finishes with it.
	notifiers atomic.Pointer[map[string]destination.Notifier]
	st        store.Store
	jobs      *jobs.Layer
	cfg       Config
	health    healthNotes
	// claims merges the claims of attempts starting together (cfg.Batch).
	claims     *store.Merge[claim, bool]
	works      workReader
	stopHealth context.CancelFunc
	healthDone chan struct{}
}

// New registers the delivery worker with the jobs layer.
func New(l *jobs.Layer, st store.Store, cfg Config) *Deliverer {
	if cfg.MaxAttempts == nil {
		cfg.MaxAttempts = func(string) int { return 12 }
	}
	if cfg.AttemptBound <= 0 {
		cfg.AttemptBound = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HealthFlush <= 0 {
		cfg.HealthFlush = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Deliverer{st: st, jobs: l, cfg: cfg}
	d.works.st = st
	if cfg.Batch != nil {
		d.claims = store.NewMerge(cfg.Batch, claimAll)
	}
	d.SetNotifiers(cfg.Notifiers)
	jobs.Add(l, &worker{d: d})
	return d
}

// SetNotifiers replaces the destinations' notifiers (a reload). A delivery
// to a destination no longer configured fails when its attempt runs.
func (d *Deliverer) SetNotifiers(n map[string]destination.Notifier) { d.notifiers.Store(&n) }

// Start begins writing destination health; the jobs layer runs the
// deliveries themselves.
func (d *Deliverer) Start(ctx context.Context) {
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.stopHealth, d.healthDone = cancel, make(chan struct{})
	go func() {
		defer close(d.healthDone)
		d.health.run(hctx, d.st, d.cfg.HealthFlush, func(err error) {
			d.cfg.Logger.Warn("write destination health", "error", err)
		})
	}()
}

// Close writes the last health notes; call it once the jobs layer stopped.
func (d *Deliverer) Close() {
	if d.stopHealth != nil {
		d.stopHealth()
		<-d.healthDone
		d.stopHealth = nil
	}
}

// Enqueue stores each delivery and its job inside tx. The deliveries' IDs are
// set on return.
func (d *Deliverer) Enqueue(ctx context.Context, tx store.Tx, ds []*store.Delivery) error {
	return Insert(ctx, d.jobs, tx, ds, d.cfg.MaxAttempts)
}

// Insert stores each delivery and its job inside tx, for a writer that has
// no Deliverer (sync opening a new issue for an alert that fired again);
// maxAttempts nil gives each the default budget of 12.
func Insert(ctx context.Context, l *jobs.Layer, tx store.Tx, ds []*store.Delivery, maxAttempts func(string) int) error {
	if len(ds) == 0 {
		return nil
	}
	// One statement for all on PostgreSQL: each that returns ids is a
	// round trip.
	if err := tx.InsertDeliveries(ctx, ds); err != nil {
		return err
	}
	params := make([]river.InsertManyParams, len(ds))
	for i, del := range ds {
		budget := 12
		if maxAttempts != nil {
			budget = maxAttempts(del.Destination)
		}
		params[i] = river.InsertManyParams{
			Args:       Args{DeliveryID: del.ID},
			InsertOpts: &river.InsertOpts{Queue: Queue, MaxAttempts: budget},
		}
	}
	// The jobs go in once per transaction, just before it commits: a group
	// commit of many alerts inserts all their jobs in one statement.
	if pending := store.Gather(tx, jobsKey{l}, func() *[]river.InsertManyParams { return new([]river.InsertManyParams) },
		func(ctx context.Context, ps *[]river.InsertManyParams) error {
			if err := l.InsertFastTx(ctx, tx, *ps...); err != nil {
				return fmt.Errorf("enqueue %d deliveries: %w", len(*ps), err)
			}
			return nil
		}); pending != nil {
		*pending = append(*pending, params...)
		return nil
	}
	if err := l.InsertFastTx(ctx, tx, params...); err != nil {
		return fmt.Errorf("enqueue %d deliveries: %w", len(ds), err)
	}
	return nil
}

// jobsKey gathers one jobs layer's delivery jobs in a transaction.
type jobsKey struct{ l *jobs.Layer }

// claim is one attempt's claim of its delivery: d as read (before) and
// when the attempt starts.
type claim struct {
	d      *store.Delivery
	before store.Delivery
	at     time.Time
}

// claimAll claims the attempts starting in one group commit in one
// statement (one round trip on PostgreSQL, where the claims would
// otherwise each hold up the shared commit by one).
func claimAll(ctx context.Context, tx store.Tx, cs []claim) ([]bool, error) {
	ds, at := make([]*store.Delivery, len(cs)), make([]time.Time, len(cs))
	for i, c := range cs {
		*c.d = c.before // a failed shared commit runs this again
		ds[i], at[i] = c.d, c.at
	}
	return tx.ClaimDeliveries(ctx, ds, at)
}

// claim counts an attempt of d and notes its start, unless another run
// claimed one since d was read (false).
func (d *Deliverer) claim(ctx context.Context, del *store.Delivery, before store.Delivery, at time.Time) (bool, error) {
	if d.claims != nil {
		return d.claims.Do(ctx, claim{d: del, before: before, at: at})
	}
	var claimed bool
	err := d.st.InTx(ctx, func(tx store.Tx) (err error) {
		*del = before
		claimed, err = tx.ClaimDelivery(ctx, del, at)
		return err
	})
	return claimed, err
}

// workReader reads what attempts need (store.DeliveryWork) for the
// attempts starting together in one statement: River starts the jobs it
// fetched at once, and on PostgreSQL a read each would be a round trip
// each. While one read is out, the attempts starting wait, and the next
// read takes them all; an attempt alone is read at once.
type workReader struct {
	st      store.Store
	mu      sync.Mutex
	reading bool
	waiting []*workRead
}

type workRead struct {
	id   int64
	w    *store.DeliveryWork
	err  error
	done chan struct{}
}

// read returns the delivery's work; ErrNotFound when the delivery or its
// alert is missing.
func (r *workReader) read(ctx context.Context, id int64) (*store.DeliveryWork, error) {
	wr := &workRead{id: id, done: make(chan struct{})}
	r.mu.Lock()
	r.waiting = append(r.waiting, wr)
	lead := !r.reading
	r.reading = true
	r.mu.Unlock()
	if lead {
		// The reads go on without this attempt's context: others wait
		// on them. The one who reads hands on what waits meanwhile.
		r.readWaiting(context.WithoutCancel(ctx))
	}
	select {
	case <-wr.done:
		return wr.w, wr.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readWaiting reads what waits, once, and passes the reading on to a
// goroutine of its own while more waits.
func (r *workReader) readWaiting(ctx context.Context) {
	r.mu.Lock()
	batch := r.waiting
	r.waiting = nil
	r.mu.Unlock()
	ids := make([]int64, len(batch))
	for i, wr := range batch {
		ids[i] = wr.id
	}
	var got map[int64]*store.DeliveryWork
	err := r.st.Read(ctx, func(tx store.Tx) (err error) {
		got, err = tx.GetDeliveryWorks(ctx, ids)
		return err
	})
	for _, wr := range batch {
		switch w, ok := got[wr.id]; {
		case err != nil:
			wr.err = err
		case !ok:
			wr.err = fmt.Errorf("get delivery %d: %w", wr.id, store.ErrNotFound)
		default:
			// Each attempt gets its own copy: the same delivery may be
			// read for two runs.
			c := *w
			wr.w = &c
		}
		close(wr.done)
	}
	r.mu.Lock()
	more := len(r.waiting) > 0
	r.reading = more
	r.mu.Unlock()
	if more {
		go r.readWaiting(ctx)
	}
}

// write runs fn in the shared group commit, or in a transaction of its own.
func (d *Deliverer) write(ctx context.Context, fn func(store.Tx) error) error {
	if d.cfg.Batch != nil {
		return d.cfg.Batch.Do(ctx, fn)
	}
	return d.st.InTx(ctx, fn)
}

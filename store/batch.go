package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrBatchClosed is returned by Batcher.Do after Close.
var ErrBatchClosed = errors.New("store: batcher closed")

// Batcher runs many small writes in shared transactions (group commit): one
// commit, and on SQLite one disk flush, serves every write waiting at that
// moment. That is what lets a single SQLite writer keep up with many
// concurrent clients while every answer still waits for its own durable
// commit.
//
// A function given to Do may run more than once: when a shared transaction
// fails, each of its functions is retried alone, so that one bad write
// cannot fail the others. Functions must therefore touch only the
// transaction and state they reset at their start.
type Batcher struct {
	st     Store
	in     chan *op
	max    int
	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

type op struct {
	fn func(Tx) error
	// merge, when set instead of fn, runs this op together with the other
	// ops of the same Merge in the transaction (see Merge).
	merge    merger
	arg, res any
	err      error
	done     chan struct{}
}

// merger runs the ops of one Merge in a transaction, setting each op's res.
type merger interface {
	runOps(ctx context.Context, tx Tx, ops []*op) error
}

// Merge is a kind of write whose calls waiting in one group commit run as
// one call over all their arguments: a write that costs a round trip per
// statement on PostgreSQL then costs one statement for the whole group
// (one multi-row insert, say) instead of one per caller. As with Do, a
// transaction that fails is retried with each call alone, so run must
// give the same outcome for a call whether it is merged or not.
type Merge[A, R any] struct {
	b   *Batcher
	run func(ctx context.Context, tx Tx, args []A) ([]R, error)
}

// NewMerge makes a Merge writing through b. run gets the arguments of the
// calls in the order they were queued and returns one result for each, in
// the same order; ctx is the writer's, not any one caller's.
func NewMerge[A, R any](b *Batcher, run func(ctx context.Context, tx Tx, args []A) ([]R, error)) *Merge[A, R] {
	return &Merge[A, R]{b: b, run: run}
}

// Do queues arg and returns its result once the shared transaction has
// committed, with the same guarantees as Batcher.Do.
func (m *Merge[A, R]) Do(ctx context.Context, arg A) (R, error) {
	o := &op{merge: m, arg: arg, done: make(chan struct{})}
	var zero R
	if err := m.b.wait(ctx, o); err != nil {
		return zero, err
	}
	r, _ := o.res.(R)
	return r, nil
}

func (m *Merge[A, R]) runOps(ctx context.Context, tx Tx, ops []*op) error {
	args := make([]A, len(ops))
	for i, o := range ops {
		args[i] = o.arg.(A)
	}
	rs, err := m.run(ctx, tx, args)
	if err != nil {
		return err
	}
	if len(rs) != len(ops) {
		return fmt.Errorf("store: merged write returned %d results for %d calls", len(rs), len(ops))
	}
	for i, o := range ops {
		o.res = rs[i]
	}
	return nil
}

// NewBatcher starts writers goroutines, each committing up to maxOps
// functions per transaction.
func NewBatcher(st Store, writers, maxOps int) *Batcher {
	b := &Batcher{st: st, in: make(chan *op, 4*maxOps), max: maxOps}
	for range writers {
		b.wg.Add(1)
		go b.loop()
	}
	return b
}

// Do runs fn in a shared transaction and returns once that transaction has
// committed (nil) or failed (fn's error, or the commit's). Once fn is queued
// Do waits for the outcome even if ctx ends, so the caller always learns
// whether its write is durable.
func (b *Batcher) Do(ctx context.Context, fn func(Tx) error) error {
	return b.wait(ctx, &op{fn: fn, done: make(chan struct{})})
}

// wait queues o and waits for its outcome.
func (b *Batcher) wait(ctx context.Context, o *op) error {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrBatchClosed
	}
	select {
	case b.in <- o:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	<-o.done
	return o.err
}

// Close refuses new work and waits until everything queued has committed.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Batcher) loop() {
	defer b.wg.Done()
	for first := range b.in {
		batch := []*op{first}
	gather:
		for len(batch) < b.max {
			select {
			case o, ok := <-b.in:
				if !ok {
					break gather
				}
				batch = append(batch, o)
			default:
				break gather
			}
		}
		if err := b.commit(batch); err != nil && len(batch) > 1 {
			for _, o := range batch {
				_ = b.commit([]*op{o})
			}
		}
		for _, o := range batch {
			close(o.done)
		}
	}
}

func (b *Batcher) commit(batch []*op) error {
	// The writer's own context: one caller going away must not abort a
	// commit that others share.
	ctx := context.Background()
	err := b.st.InTx(ctx, func(tx Tx) error {
		var merged map[merger]bool
		for i, o := range batch {
			if o.merge == nil {
				if err := o.fn(tx); err != nil {
					return err
				}
				continue
			}
			// A Merge's calls run together where its first one was
			// queued: they were all waiting at once, so no caller can
			// tell that order from the queue's.
			if merged[o.merge] {
				continue
			}
			if merged == nil {
				merged = map[merger]bool{}
			}
			merged[o.merge] = true
			var ops []*op
			for _, p := range batch[i:] {
				if p.merge == o.merge {
					ops = append(ops, p)
				}
			}
			if err := o.merge.runOps(ctx, tx, ops); err != nil {
				return err
			}
		}
		return nil
	})
	for _, o := range batch {
		o.err = err
	}
	return err
}

package store

import (
	"context"
	"errors"
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
	fn   func(Tx) error
	err  error
	done chan struct{}
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
	o := &op{fn: fn, done: make(chan struct{})}
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
		for _, o := range batch {
			if err := o.fn(tx); err != nil {
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

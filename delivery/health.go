package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/alertbridge/alertbridge/store"
)

// healthNotes keeps each destination's latest success and error in memory
// and writes them out every so often. Written in each delivery's own
// transaction, the one row per destination became a lock every concurrent
// commit queued on (on PostgreSQL); health is for people reading the API,
// and a second's delay costs them nothing.
type healthNotes struct {
	mu      sync.Mutex
	pending map[string]*healthNote
}

type healthNote struct {
	success     time.Time
	errAt       time.Time
	errMsg      string
	flushedSucc time.Time
	flushedErr  time.Time
}

func (h *healthNotes) note(dest string, at time.Time, errMsg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending == nil {
		h.pending = map[string]*healthNote{}
	}
	n := h.pending[dest]
	if n == nil {
		n = &healthNote{}
		h.pending[dest] = n
	}
	if errMsg == "" {
		if at.After(n.success) {
			n.success = at
		}
	} else if at.After(n.errAt) {
		n.errAt, n.errMsg = at, errMsg
	}
}

// flush writes what changed since the last flush in one transaction.
func (h *healthNotes) flush(ctx context.Context, st store.Store) error {
	type write struct {
		dest, msg string
		at        time.Time
	}
	var writes []write
	h.mu.Lock()
	for dest, n := range h.pending {
		if n.success.After(n.flushedSucc) {
			writes = append(writes, write{dest: dest, at: n.success})
			n.flushedSucc = n.success
		}
		if n.errAt.After(n.flushedErr) {
			writes = append(writes, write{dest: dest, at: n.errAt, msg: n.errMsg})
			n.flushedErr = n.errAt
		}
	}
	h.mu.Unlock()
	if len(writes) == 0 {
		return nil
	}
	return st.InTx(ctx, func(tx store.Tx) error {
		for _, w := range writes {
			if err := tx.RecordDestinationResult(ctx, w.dest, w.at, w.msg); err != nil {
				return err
			}
		}
		return nil
	})
}

// run flushes every interval until ctx ends, then once more.
func (h *healthNotes) run(ctx context.Context, st store.Store, every time.Duration, logf func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := h.flush(context.WithoutCancel(ctx), st); err != nil {
				logf(err)
			}
			return
		case <-t.C:
			if err := h.flush(ctx, st); err != nil {
				logf(err)
			}
		}
	}
}
